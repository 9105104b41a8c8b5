/** A platform instance stops completely: a leftover listener would keep every test run (and CI) from exiting. */
import { expect, test } from '@jest/globals';
import { startStack } from '../support/stack.js';

test('stop() closes the gateway and leaves no server listening', async () => {
  const stack = await startStack();
  expect((await fetch(`${stack.baseUrl}/healthz`)).status).toBe(200);
  await stack.stop();
  await expect(fetch(`${stack.baseUrl}/healthz`)).rejects.toThrow();
  const servers = (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles().filter((h) => h.constructor.name === 'Server');
  expect(servers).toEqual([]);
});
