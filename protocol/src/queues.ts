/** Task-queue names: derived here and nowhere else. */
import { assertModelKey } from './models.js';

export const ORCHESTRATOR_QUEUE = 'orchestrator';

/** A runner that has model `key` loaded polls this queue. */
export function taskQueueForModel(key: string): string {
  assertModelKey(key);
  return `model.${key}`;
}
