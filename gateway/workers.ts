/**
 * Public runner records: the worker card (JSON, and a small HTML card to
 * embed), and the earnings estimate behind the landing page's calculator.
 */
import { Router } from 'express';
import { TRUST_TIERS, WORKER_ID_PATTERN } from '@trd/protocol';
import { z } from 'zod';
import { PERFORMANCE_CLASSES, TIER_MULTIPLIER_BPS, creditsToUsdCents } from '../economy/rates.js';
import { workerCard, type WorkerCard } from '../economy/worker-card.js';
import type { Db } from '../platform/db.js';
import { chainClient } from '../chain/client.js';
import type { ChainSettings } from '../chain/settings.js';
import { ApiError } from './errors.js';

export const EstimateQuery = z.object({
  tier: z.enum(PERFORMANCE_CLASSES.map((c) => c.key) as [string, ...string[]], { error: `is one of ${PERFORMANCE_CLASSES.map((c) => c.key).join(', ')}` }),
  hours: z.string().regex(/^\d+(\.\d+)?$/, 'must be a number of hours').transform(Number).pipe(z.number().positive().max(744, 'at most a month (744 hours)')),
  trust: z.enum(TRUST_TIERS).default('verified'),
});

const escapeHtml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
const pct = (x: number | null, digits = 0) => (x === null ? '—' : `${(x * 100).toFixed(digits)}%`);

function cardHtml(c: WorkerCard): string {
  const reliable = c.success_rate === null ? 'no jobs yet' : `${pct(c.success_rate)} reliable, ${c.jobs_completed.toLocaleString('en-US')} jobs`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(c.worker_id)} — TRD Compute runner</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;padding:12px;color:#1b1f24}
.card{max-width:340px;border:1px solid #d0d7de;border-radius:10px;padding:14px 16px}
h1{font-size:16px;margin:0 0 2px}.headline{font-size:20px;font-weight:700;margin:6px 0 10px}
.chip{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;margin-right:4px;background:#ddf4ff;color:#0550ae}
.tier{background:#dafbe1;color:#116329}.tier.probation{background:#fff8c5;color:#7d4e00}
dl{display:grid;grid-template-columns:auto 1fr;gap:3px 12px;margin:10px 0 0}dt{color:#57606a}dd{margin:0}
.strip{display:flex;gap:2px;margin:10px 0 2px}.strip span{flex:1;height:18px;border-radius:2px;background:#eaeef2}
.strip .full{background:#2da44e}.strip .most{background:#7ee2a8}.strip .some{background:#f2cc60}.strip .down{background:#e5534b}
.strip-legend{display:flex;justify-content:space-between;color:#57606a;font-size:12px}
</style></head>
<body><div class="card">
<h1>${escapeHtml(c.worker_id)}</h1>
<span class="chip tier ${c.tier}">${c.tier}</span>${c.measured_class ? `<span class="chip">${escapeHtml(c.measured_class.label)}</span>` : ''}${c.verified_badge.earned ? '<span class="chip">90-day clean audits</span>' : ''}
<div class="headline">${escapeHtml(reliable)}</div>
${uptimeStrip(c)}
<dl>
<dt>Uptime (7 days)</dt><dd>${pct(c.uptime_7d, 1)}</dd>
<dt>P99</dt><dd>${c.p99_ms_per_token === null ? '—' : `${c.p99_ms_per_token} ms/token`}</dd>
<dt>Success rate</dt><dd>${pct(c.success_rate, 1)}</dd>
<dt>Reputation</dt><dd>${c.reputation_score ?? '—'} / 100</dd>
<dt>Since</dt><dd>${c.joined_at.slice(0, 10)}</dd>
${tokenHtml(c)}</dl></div></body></html>
`;
}

/** 30 days of uptime, one cell a day (UTC), its share in the cell's title: an owner's bad week shows at a glance. */
function uptimeStrip(c: WorkerCard): string {
  const level = (u: number | null) => (u === null ? 'none' : u >= 0.99 ? 'full' : u >= 0.9 ? 'most' : u > 0 ? 'some' : 'down');
  const cells = c.uptime_30d
    .map((d) => `<span class="${level(d.uptime)}" data-day="${d.day}" title="${d.day}: ${d.uptime === null ? 'not yet joined' : `${pct(d.uptime, 1)} up`}"></span>`)
    .join('');
  return `<div class="strip" aria-label="uptime, last 30 days">${cells}</div><div class="strip-legend"><span>30 days ago</span><span>uptime per day</span><span>today</span></div>`;
}

/** The token's line: a link to it (the explorer when the chain has one), and the score the chain holds. */
function tokenHtml(c: WorkerCard): string {
  const t = c.reputation_token;
  if (!t) return '';
  const label = `token ${t.token_id.slice(0, 6)}…${t.token_id.slice(-4)}`;
  const where = t.explorer_url ? `<a href="${escapeHtml(t.explorer_url)}" rel="noopener">${label}</a>` : `<span title="${escapeHtml(`${t.contract} #${t.token_id} on chain ${t.chain_id}`)}">${label}</span>`;
  const held = t.on_chain ? `${t.on_chain.reputation_score} / 100, ${escapeHtml(t.on_chain.tier)}` : t.read_error ? 'unreadable now' : t.status.replace('_', ' ');
  return `<dt>On chain</dt><dd class="token" data-contract="${t.contract}" data-token-id="${t.token_id}">${where}: ${held}</dd>
`;
}

export function workersRouter(deps: { db: Db; chain: ChainSettings | null }): Router {
  const router = Router();
  const onChain = deps.chain?.reputationToken ? { chain: deps.chain, client: chainClient(deps.chain) } : undefined;
  const card = async (id: string) => {
    if (!WORKER_ID_PATTERN.test(id)) throw new ApiError(400, 'invalid_request', 'id: not a runner id', 'id');
    const c = await workerCard(deps.db, id, new Date(), onChain);
    if (!c) throw new ApiError(404, 'worker_not_found', `no runner ${id}`, 'id');
    return c;
  };
  router.get('/v1/workers/:id/card', async (req, res) => {
    res.set('cache-control', 'public, max-age=60').json({ object: 'worker_card', ...(await card(req.params.id)) });
  });
  router.get('/v1/workers/:id/card.html', async (req, res) => {
    res.set('cache-control', 'public, max-age=60').type('html').send(cardHtml(await card(req.params.id)));
  });

  router.get('/v1/estimate', (req, res) => {
    const q = EstimateQuery.parse(req.query);
    const cls = PERFORMANCE_CLASSES.find((c) => c.key === q.tier)!;
    const perHour = Math.floor((cls.creditsPerHour * TIER_MULTIPLIER_BPS[q.trust]) / 10_000);
    const credits = Math.floor(perHour * q.hours);
    res.json({
      object: 'earnings_estimate',
      tier: cls.key,
      label: cls.label,
      trust: q.trust,
      hours: q.hours,
      credits_per_hour: perHour,
      credits,
      usd_cents: creditsToUsdCents(credits),
      note: `About ${perHour} credits per busy hour for a ${cls.label} runner at ${q.trust} trust: a best-effort estimate from the reward table, not a promise. Earnings follow the jobs you run and the speed the platform measures.`,
    });
  });
  return router;
}
