/**
 * The floor's workflow: the least a job could be on Temporal. It schedules one
 * activity on a model-like queue and returns what a runner-like worker answers.
 * No routing, signing, recording or sealing: scripts/floor/floor.ts measures it
 * against the platform's job workflow on the same server in the same run.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { FloorActivities, FloorAnswer } from './activities.js';

export async function floorJob(input: { queue: string; prompt: string }): Promise<FloorAnswer> {
  const runner = proxyActivities<FloorActivities>({ taskQueue: input.queue, startToCloseTimeout: '1 minute' });
  return runner.runInference(input.prompt);
}
