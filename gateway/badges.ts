/**
 * Embeddable badges (GET /badge.svg for the network, /v1/workers/:id/badge.svg
 * for a runner): flat two-part SVGs in the shields.io layout, sized from the
 * text so any label fits, cacheable for a minute.
 */
import { Router } from 'express';
import { WORKER_ID_PATTERN } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import { tokenExplorerUrl, tokenIdOf } from '../chain/reputation-token.js';
import type { ChainSettings } from '../chain/settings.js';
import type { NetworkStats } from './network-stats.js';

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** Verdana 11 px averages about 6.8 px a character; 10 px padding each side. */
const widthOf = (text: string) => Math.round(text.length * 6.8) + 20;

export function badgeSvg(label: string, message: string, color: string, link?: string): string {
  const [l, m] = [widthOf(label), widthOf(message)];
  const [label_, message_] = [escapeXml(label), escapeXml(message)];
  // Opened directly or embedded with <object>, the badge is a link (an <img> shows it without one).
  const [open, close] = link ? [`<a href="${escapeXml(link)}">`, '</a>'] : ['', ''];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${l + m}" height="20" role="img" aria-label="${label_}: ${message_}">${open}
<title>${label_}: ${message_}</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="${l + m}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="${l}" height="20" fill="#555"/><rect x="${l}" width="${m}" height="20" fill="${color}"/><rect width="${l + m}" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">
<text x="${l / 2}" y="14">${label_}</text><text x="${l + m / 2}" y="14">${message_}</text>
</g>${close}
</svg>
`;
}

const compact = (n: number) => new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 }).format(n);

export function badgesRouter(deps: { db: Db; stats: () => Promise<NetworkStats>; chain?: ChainSettings | null }): Router {
  const router = Router();
  const send = (res: import('express').Response, status: number, svg: string) =>
    res.status(status).type('image/svg+xml').set('cache-control', 'public, max-age=60').send(svg);

  router.get('/badge.svg', async (_req, res) => {
    const s = await deps.stats();
    const online = s.runners_online > 0;
    send(res, 200, badgeSvg('TRD network', `${s.runners_online} runner${s.runners_online === 1 ? '' : 's'} · ${compact(s.tokens_per_second_now)} tok/s`, online ? '#2e9e5b' : '#9f9f9f'));
  });

  router.get('/v1/workers/:id/badge.svg', async (req, res) => {
    const id = String(req.params.id);
    const runner = WORKER_ID_PATTERN.test(id) ? await deps.db.runner.findUnique({ where: { id }, select: { tier: true } }) : null;
    // An <img> shows this either way, so an unknown runner is a grey badge with a 404, not a JSON error.
    if (!runner) return void send(res, 404, badgeSvg('TRD runner', 'unknown', '#9f9f9f'));
    const [jobs, token] = await Promise.all([
      deps.db.job.count({ where: { workerId: id, status: 'succeeded' } }),
      deps.chain?.reputationToken ? deps.db.reputationToken.findUnique({ where: { runnerId: id }, select: { status: true } }) : null,
    ]);
    const minted = token?.status === 'minted' && deps.chain?.reputationToken;
    // A minted token: the badge says so and links it (the explorer, else the card that shows the contract and token id).
    const link = minted ? (tokenExplorerUrl(deps.chain!, id) ?? `/v1/workers/${id}/card.html`) : undefined;
    if (minted) res.set('link', `<${link}>; rel="related"; title="reputation token ${deps.chain!.reputationToken} #${tokenIdOf(id)} on chain ${deps.chain!.chainId}"`);
    send(res, 200, badgeSvg(`TRD ${id}`, `${runner.tier} · ${compact(jobs)} jobs${minted ? ' · on-chain' : ''}`, runner.tier === 'probation' ? '#dfb317' : '#2e9e5b', link));
  });
  return router;
}
