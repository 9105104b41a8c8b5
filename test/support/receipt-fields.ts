/** The fields of a plausible receipt, for tests that sign or damage one (job id and issue time are the test's). */
import type { ReceiptEnvelope } from '@trd/protocol';

export const RECEIPT_FIELDS: Omit<ReceiptEnvelope, 'v' | 'kid' | 'job_id' | 'issued_at'> = {
  worker_id: 'runner-a',
  model: 'trd-tiny',
  model_sha256: 'a'.repeat(64),
  prompt_sha256: 'b'.repeat(64),
  output_sha256: 'c'.repeat(64),
  prompt_tokens: 5,
  completion_tokens: 7,
  started_at: '2026-03-01T00:00:00.000Z',
  finished_at: '2026-03-01T00:00:01.000Z',
  duration_ms: 1000,
};
