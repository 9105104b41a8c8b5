/** The gateway's HTTP surface, built over its dependencies (tests build it the same way). */
import express from 'express';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { MODEL_CATALOG } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import { requireApiKey } from './api-keys.js';
import { ApiError, handleErrors } from './errors.js';
import { JobStreams } from './job-streams.js';
import { refuseNonJsonBody } from './json-body.js';
import { refuseNulCharacters } from './nul-characters.js';
import { jobsRouter, receiptsRouter } from './jobs.js';
import { badgesRouter } from './badges.js';
import { keysRouter } from './keys.js';
import { mcpHttpHandler } from './mcp.js';
import { gatewayMetrics } from './metrics.js';
import { STATS_LICENSE, networkStats, servingRunners, statsCsv } from './network-stats.js';
import { openAiRouter } from './openai.js';
import { methodsFor, openApiDocument } from './openapi.js';
import { orgRouter } from './org.js';
import { ownerRouter } from './owner.js';
import { runnerLoginRouter } from './runner-login.js';
import { runnersRouter } from './runners.js';
import { ipfsRouter } from './ipfs.js';
import { publicSessionsRouter, sessionCertificateRouter } from './sessions.js';
import { meRouter } from './me.js';
import { payoutAccountRouter, stripeWebhookRouter } from './stripe.js';
import { workersRouter } from './workers.js';
import type { GatewaySettings } from './settings.js';

const VERIFY_WEB = fileURLToPath(new URL('../verify-web/', import.meta.url));
const DASHBOARD_WEB = fileURLToPath(new URL('../dashboard-web/', import.meta.url));

export function createGatewayApp(deps: { db: Db; temporal: Client; settings: GatewaySettings }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const stats = networkStats(deps.db, deps.settings.dispatch);
  const metrics = gatewayMetrics({ db: deps.db, stats });
  app.use(metrics.measure);
  // Before the JSON parser: Stripe signs the raw body.
  app.use(stripeWebhookRouter({ db: deps.db, stripe: deps.settings.stripe }));
  // The prompt limit is checked per field with a clear message; this bound only stops abuse.
  app.use(express.json({ limit: deps.settings.maxPromptBytes * 2 + 64 * 1024 }));
  app.use(refuseNonJsonBody);
  app.use(refuseNulCharacters);

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  const openApi = openApiDocument('0.1.0', deps.settings);
  app.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });
  app.use(keysRouter(deps.db));
  app.get('/metrics', metrics.serve);
  // Public numbers, free to reuse with attribution (CC BY 4.0).
  app.get('/v1/stats', async (_req, res) => {
    res.set('cache-control', 'public, max-age=5').json({ object: 'network_stats', ...STATS_LICENSE, ...(await stats()) });
  });
  app.get('/v1/stats.csv', async (_req, res) => {
    res.set('cache-control', 'public, max-age=5').type('text/csv').send(statsCsv(await stats()));
  });
  app.use(badgesRouter({ db: deps.db, stats }));
  app.use(workersRouter({ db: deps.db }));
  // The auditor's page: static, and it checks receipts without trusting this server.
  // Relative asset URLs need the trailing slash; Express matches /verify and /verify/ alike.
  app.get('/verify', (req, res) =>
    req.originalUrl.split('?')[0].endsWith('/') ? res.sendFile(`${VERIFY_WEB}index.html`) : res.redirect(301, '/verify/'),
  );
  app.use('/verify/dist', express.static(`${VERIFY_WEB}dist`, { fallthrough: false }));
  // The owner dashboard: a static page over /v1/owner/* (session cookie).
  app.get('/dashboard', (req, res) =>
    req.originalUrl.split('?')[0].endsWith('/') ? res.sendFile(`${DASHBOARD_WEB}index.html`) : res.redirect(301, '/dashboard/'),
  );
  app.get('/dashboard/style.css', (_req, res) => res.sendFile(`${DASHBOARD_WEB}style.css`));
  app.use('/dashboard/dist', express.static(`${DASHBOARD_WEB}dist`, { fallthrough: false }));
  app.use(ownerRouter(deps));
  app.use(receiptsRouter(deps.db));
  app.use(publicSessionsRouter(deps.db));
  app.use(ipfsRouter(deps.db));
  app.get('/v1/models', async (_req, res) => {
    // Warm capacity: a runner taking jobs has the model loaded.
    const warm = new Set((await servingRunners(deps.db, deps.settings.dispatch)).flatMap((r) => r.loadedModels));
    res.json({
      object: 'list',
      data: MODEL_CATALOG.map((m) => ({
        id: m.key,
        object: 'model',
        created: 0,
        owned_by: 'trd',
        name: m.name,
        context_length: m.contextLength,
        max_output_tokens: m.maxOutputTokens,
        warm_capacity: warm.has(m.key),
      })),
    });
  });
  // Runners push streamed text with the job's own token, not an API key: mounted before the key check.
  const streams = new JobStreams();
  app.use(streams.router());
  app.use(['/v1/jobs', '/v1/chat/completions', '/v1/completions', '/mcp', '/v1/org', '/v1/me'], requireApiKey(deps.db));
  app.use(orgRouter(deps.db, deps.settings.rateLimits));
  app.use(meRouter(deps));
  app.use(payoutAccountRouter({ db: deps.db, stripe: deps.settings.stripe, publicUrl: deps.settings.publicUrl }));
  // Stateless Streamable HTTP: every message is a POST; there is no session stream to GET or DELETE.
  app.post('/mcp', mcpHttpHandler());
  app.use(jobsRouter(deps));
  app.use(openAiRouter({ ...deps, streams }));
  app.use(runnersRouter({ db: deps.db, temporal: deps.temporal, dispatch: deps.settings.dispatch, requireApiKey: requireApiKey(deps.db) }));
  app.use(sessionCertificateRouter({ db: deps.db, publicUrl: deps.settings.publicUrl, requireApiKey: requireApiKey(deps.db) }));
  app.use(runnerLoginRouter({ db: deps.db, settings: deps.settings, requireApiKey: requireApiKey(deps.db) }));
  app.use((req, res) => {
    // A path the API has, asked with a method it does not take.
    const allowed = methodsFor(req.path);
    if (allowed.length) {
      res.set('allow', allowed.join(', '));
      throw new ApiError(405, 'method_not_allowed', `${req.path} takes ${allowed.join(', ')}, not ${req.method}`);
    }
    throw new ApiError(404, 'not_found', `no route ${req.method} ${req.path}`);
  });
  app.use(handleErrors);
  return app;
}

/** Stops serving. Long polls (`?wait=`) would hold a plain close() open for up to a minute. */
export async function closeHttpServer(server: Server): Promise<void> {
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeAllConnections();
  await closed;
}
