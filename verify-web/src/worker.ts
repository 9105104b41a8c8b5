/**
 * A verifier worker: one slice of a chain's receipts, checked with the same
 * protocol code as everywhere else. The browser's WebCrypto verifies one
 * signature at a time per thread, so a long chain is split across workers.
 */
import { checkEntries, keyring, type PublishedKey } from '@trd/protocol';

interface Job {
  entries: unknown[];
  sessionId: string;
  keys: PublishedKey[];
}

self.onmessage = async (event: MessageEvent<Job>) => {
  const { entries, sessionId, keys } = event.data;
  try {
    self.postMessage({ checks: await checkEntries(entries, sessionId, keyring(keys)) });
  } catch (err) {
    self.postMessage({ error: (err as Error).message });
  }
};
