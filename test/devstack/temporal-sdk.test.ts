/**
 * The fallback for machines without Go: the dev server started through the
 * Temporal SDK. Here it runs the local CLI (nothing can be downloaded); on a
 * machine with internet the same options go with a cached download.
 */
import { expect, test } from '@jest/globals';
import { Connection } from '@temporalio/client';
import { freePort } from '../../devstack/ports.js';
import { findTemporalCli, startWithSdkDownload } from '../../devstack/temporal.js';

test('the SDK path serves our namespaces and the web UI, and stops', async () => {
  const [port, uiPort] = [await freePort(), await freePort()];
  const server = await startWithSdkDownload({ port, uiPort, namespaces: ['sdk-path'], executable: findTemporalCli() });
  const connection = await Connection.connect({ address: server.address });
  try {
    const ns = await connection.workflowService.describeNamespace({ namespace: 'sdk-path' });
    expect(ns.namespaceInfo?.name).toBe('sdk-path');
    expect((await fetch(server.uiUrl!)).status).toBe(200);
  } finally {
    await connection.close();
    await server.stop();
  }
  await expect(fetch(server.uiUrl!)).rejects.toThrow();
});
