export * from './canonical-json.js';
export * from './encoding.js';
export * from './keys.js';
export * from './receipt.js';
export * from './queues.js';
export * from './ids.js';
export * from './inference.js';
export * from './models.js';
