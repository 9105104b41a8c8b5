/**
 * Before serving, a runner fetches the platform's signed catalog
 * (GET /v1/catalog), checks it with the published keys (GET /keys), and
 * refuses to start when it does not verify, or when a model it would serve
 * is not in it or is pinned to other bytes than the file on disk.
 */
import { verifyCatalogDocument, type CatalogModel } from '@trd/protocol';
import { fetchPlatformKeys } from './dispatch-guard.js';
import { gatewayRequest, problemOf } from './gateway-api.js';
import type { ResolvedModel } from './model-files.js';

export async function checkSignedCatalog(gatewayUrl: string, serving: ResolvedModel[], opts: { waitMs?: number } = {}): Promise<CatalogModel[]> {
  // Just after a deployment the orchestrator may not have signed the new catalog yet: the gateway says 503 until it has.
  const until = Date.now() + (opts.waitMs ?? 30_000);
  let answer = await gatewayRequest(gatewayUrl, '/v1/catalog', { method: 'GET' });
  while (answer.status === 503 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 500));
    answer = await gatewayRequest(gatewayUrl, '/v1/catalog', { method: 'GET' });
  }
  if (answer.status !== 200) throw new Error(`cannot get the platform's signed catalog: GET /v1/catalog answered ${problemOf(answer)}`);
  const checked = await verifyCatalogDocument(answer.json, await fetchPlatformKeys(gatewayUrl));
  if (!checked.ok) throw new Error(`refusing the platform's catalog: ${checked.reason}`);
  for (const m of serving) {
    const entry = checked.models.find((c) => c.key === m.key);
    if (!entry) throw new Error(`the platform's signed catalog has no model ${m.key}: this runner cannot serve it`);
    if (entry.sha256 && entry.sha256 !== m.sha256) {
      throw new Error(`${m.path} is not the ${m.key} the platform's signed catalog pins (sha256 ${m.sha256}, signed ${entry.sha256})`);
    }
  }
  return checked.models;
}
