/**
 * Who a runner token belongs to and what it may poll, from the platform's
 * database: the runner's trust tier, the models its heartbeats declare, and
 * whether it is cut off (token revoked, runner shadowbanned) or only refused
 * new work (below the minimum runner version, or its fleet member at their daily cap:
 * its running jobs finish); a fleet runner over its member's runner limit is cut off. Cached per
 * token and re-read every `refreshMs`, so a revocation reaches calls in
 * flight within that time.
 */
import type { TrustTier } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import type { Entitlement } from './policy.js';
import { fleetStandings, type FleetStanding } from '../economy/fleets.js';

interface Row {
  id: string;
  tokenHash: string | null;
  tier: TrustTier;
  loadedModels: string[];
  diskModels: string[];
  shadowbannedReason: string | null;
  updateRequired: string | null;
  fleetMemberId: string | null;
}

const SELECT = { id: true, tokenHash: true, tier: true, loadedModels: true, diskModels: true, shadowbannedReason: true, updateRequired: true, fleetMemberId: true } as const;

function entitlementOf(row: Row, fleet?: FleetStanding): Entitlement {
  return {
    runnerId: row.id,
    tier: row.tier,
    models: [...new Set([...row.loadedModels, ...row.diskModels])],
    // A fleet runner over its member's runner limit does not run at all; at the member's daily cap it only takes no new jobs.
    cutOff: row.shadowbannedReason ? `runner ${row.id} is shadowbanned: ${row.shadowbannedReason}` : (fleet?.refused ?? null),
    noNewWork: row.updateRequired ?? fleet?.hold ?? null,
  };
}

export class EntitlementStore {
  /** Token hash → entitlement (null: no runner has this token). */
  private cache = new Map<string, { ent: Entitlement | null; at: number }>();

  constructor(
    private readonly db: Db,
    private readonly refreshMs: number,
  ) {}

  /** The cached answer while fresh, else a read. */
  async lookup(tokenHash: string): Promise<Entitlement | null> {
    const hit = this.cache.get(tokenHash);
    if (hit && Date.now() - hit.at < this.refreshMs) return hit.ent;
    return this.read(tokenHash);
  }

  /** A read of the database now (a runner promoted, or declaring a model, a moment ago is not refused on a stale answer). */
  async read(tokenHash: string): Promise<Entitlement | null> {
    const row = await this.db.runner.findUnique({ where: { tokenHash }, select: SELECT });
    const ent = row ? entitlementOf(row, (await fleetStandings(this.db, [row])).get(row.id)) : null;
    this.cache.set(tokenHash, { ent, at: Date.now() });
    return ent;
  }

  /** Re-reads every token with calls in flight at once; returns their entitlements now. */
  async refresh(tokenHashes: string[]): Promise<Map<string, Entitlement | null>> {
    const out = new Map<string, Entitlement | null>(tokenHashes.map((h) => [h, null]));
    if (tokenHashes.length > 0) {
      const rows = await this.db.runner.findMany({ where: { tokenHash: { in: tokenHashes } }, select: SELECT });
      const fleets = await fleetStandings(this.db, rows);
      for (const row of rows) out.set(row.tokenHash!, entitlementOf(row, fleets.get(row.id)));
    }
    const now = Date.now();
    for (const [h, ent] of out) this.cache.set(h, { ent, at: now });
    // Forget tokens not seen for a while, so the cache stays the size of the runners online.
    for (const [h, entry] of this.cache) if (now - entry.at > this.refreshMs * 60) this.cache.delete(h);
    return out;
  }
}
