/** What the gateway could have written, as one fingerprint per table: equal fingerprints, nothing changed. */
import type { Db } from '../../platform/db.js';

/** Tables whose rows a rejected request may still touch; named here so the exception is visible. */
// Rate-limit windows count every attempt, refused ones too: that is what makes guessing slow.
const VOLATILE = new Set(['_prisma_migrations', 'rate_limit_windows']);

export async function tableFingerprints(db: Db): Promise<Record<string, string>> {
  const tables = (await db.$queryRawUnsafe<{ name: string }[]>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`))
    .map((t) => t.name)
    .filter((t) => !VOLATILE.has(t));
  // Every row's text, hashed per table: a changed balance or setting shows as well as a new row.
  const sql = tables.map((t) => `SELECT '${t}' AS name, count(*)::int AS rows, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS digest FROM "${t}" x`).join(' UNION ALL ');
  const rows = await db.$queryRawUnsafe<{ name: string; rows: number; digest: string }[]>(sql);
  return Object.fromEntries(rows.map((r) => [r.name, `${r.rows}:${r.digest}`]));
}
