/** Customer-facing reasons from Temporal's failure chain; shared by every version of the job workflow. */
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';

export function rootMessage(err: unknown): string {
  let e = err as { cause?: unknown; message?: string };
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}

/** A reason a customer can act on. */
export function describeInferenceFailure(err: unknown): string {
  if (!(err instanceof ActivityFailure)) return rootMessage(err);
  const cause = err.cause;
  if (cause instanceof TimeoutFailure) {
    switch (cause.timeoutType) {
      case 'SCHEDULE_TO_START':
        return 'no runner took the job before its deadline';
      case 'SCHEDULE_TO_CLOSE':
        return 'no runner completed the job before its deadline';
      case 'HEARTBEAT':
        return 'the runner stopped responding and no retry was left';
      default:
        return `the job timed out (${cause.timeoutType ?? 'unknown timeout'})`;
    }
  }
  if (cause instanceof ApplicationFailure) {
    return cause.type ? `${cause.type}: ${cause.message}` : cause.message;
  }
  return rootMessage(err);
}
