export { inferenceJob } from './inference-job.js';
