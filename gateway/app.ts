/** The gateway's HTTP surface, built over its dependencies (tests build it the same way). */
import express from 'express';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { CATALOG_DATA_MODELS, MODEL_CATALOG, catalogSha256 } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import { requireApiKey } from './api-keys.js';
import { ApiError, handleErrors } from './errors.js';
import { JobStreams } from './job-streams.js';
import { refuseNonJsonBody } from './json-body.js';
import { refuseNulCharacters } from './nul-characters.js';
import { jobsRouter, receiptsRouter } from './jobs.js';
import { badgesRouter } from './badges.js';
import { keysRouter } from './keys.js';
import { federationRouter } from './federation.js';
import { mcpHttpHandler } from './mcp.js';
import { publicAgentsRouter } from './agents.js';
import { marketplaceRouter } from './marketplace.js';
import { gatewayMetrics } from './metrics.js';
import { STATS_LICENSE, networkStats, servingRunners, statsCsv } from './network-stats.js';
import { openAiRouter } from './openai.js';
import { methodsFor, openApiDocument } from './openapi.js';
import { orgRouter } from './org.js';
import { ownerRouter } from './owner.js';
import { fleetsRouter } from './fleets.js';
import { emailSignInRouter } from './email-sign-in.js';
import { runnerLoginRouter } from './runner-login.js';
import { runnersRouter } from './runners.js';
import { ipfsRouter } from './ipfs.js';
import { publicSessionsRouter, sessionCertificateRouter } from './sessions.js';
import { meRouter } from './me.js';
import { payoutAccountRouter, stripeWebhookRouter } from './stripe.js';
import { payoutRailRouter } from './payout-rail.js';
import { workersRouter } from './workers.js';
import type { GatewaySettings } from './settings.js';
import { codecRouter } from './codec-server.js';
import type { PayloadKeys } from '../platform/payload-encryption.js';

const VERIFY_WEB = fileURLToPath(new URL('../verify-web/', import.meta.url));
const DASHBOARD_WEB = fileURLToPath(new URL('../dashboard-web/', import.meta.url));
const MARKETPLACE_WEB = fileURLToPath(new URL('../marketplace-web/', import.meta.url));
/** The marketplace's pages: public to read; submitting and reviewing take an API key or the dashboard sign-in. */
const MARKETPLACE_PAGES: Record<string, string> = { '/agents': 'index.html', '/agents/submit': 'submit.html', '/agents/review': 'review.html' };

export function createGatewayApp(deps: {
  db: Db;
  temporal: Client;
  settings: GatewaySettings;
  /** Live job streams; by default ones that reach pushes to this process only (one gateway). */
  streams?: JobStreams;
  /** The keys Temporal payloads are sealed with (the client's too): the codec server opens with them. None: it answers 503. */
  payloadKeys?: PayloadKeys | null;
}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Behind a balancer: the client's address (rate limits) and scheme come from its X-Forwarded-* headers.
  app.set('trust proxy', deps.settings.trustProxy);
  const stats = networkStats(deps.db, deps.settings.dispatch);
  const metrics = gatewayMetrics({ db: deps.db, stats });
  app.use(metrics.measure);
  // Before the JSON parser: Stripe signs the raw body.
  app.use(stripeWebhookRouter({ db: deps.db, stripe: deps.settings.stripe }));
  // Before the API's JSON parser: it takes bigger bodies (a history event's payloads), with CORS for Temporal's UI.
  app.use(codecRouter({ db: deps.db, keys: deps.payloadKeys ?? null, namespace: deps.temporal.options.namespace, settings: deps.settings.codec }));
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
  app.use(badgesRouter({ db: deps.db, stats, chain: deps.settings.chain }));
  app.use(workersRouter({ db: deps.db, chain: deps.settings.chain }));
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
  // The page `trd-worker login` links to: approve or deny a machine's login.
  app.get('/dashboard/device', (_req, res) => res.sendFile(`${DASHBOARD_WEB}device.html`));
  app.get('/dashboard/peers', (_req, res) => res.sendFile(`${DASHBOARD_WEB}peers.html`));
  app.use('/dashboard/dist', express.static(`${DASHBOARD_WEB}dist`, { fallthrough: false }));
  for (const [path, file] of Object.entries(MARKETPLACE_PAGES)) app.get(path, (_req, res) => res.sendFile(`${MARKETPLACE_WEB}${file}`));
  app.get('/agents/style.css', (_req, res) => res.sendFile(`${MARKETPLACE_WEB}style.css`));
  app.use('/agents/dist', express.static(`${MARKETPLACE_WEB}dist`, { fallthrough: false }));
  app.use(marketplaceRouter(deps));
  app.use(publicAgentsRouter(deps.db));
  app.use(ownerRouter(deps));
  app.use(fleetsRouter(deps));
  app.use(emailSignInRouter(deps));
  app.use(receiptsRouter(deps.db));
  app.use(publicSessionsRouter(deps.db));
  app.use(ipfsRouter(deps.db));
  app.get('/v1/models', async (_req, res) => {
    // Warm capacity: a runner taking jobs has the model loaded.
    const warm = new Set((await servingRunners(deps.db, deps.settings.dispatch)).flatMap((r) => r.loadedModels));
    res.json({
      object: 'list',
      data: MODEL_CATALOG.filter((m) => !m.retired).map((m) => ({
        id: m.key,
        object: 'model',
        created: 0,
        owned_by: 'trd',
        name: m.name,
        context_length: m.contextLength,
        max_output_tokens: m.maxOutputTokens,
        warm_capacity: warm.has(m.key),
        sha256: m.sha256 ?? null,
        size_bytes: m.sizeBytes,
        quantization: m.quantization,
        kind: m.kind,
        license: m.license.name,
      })),
    });
  });
  // The same catalog, signed by the platform key (the orchestrator signs it at start): runners check it before serving.
  const thisCatalog = catalogSha256(CATALOG_DATA_MODELS);
  app.get('/v1/catalog', async (_req, res) => {
    const now = new Date();
    // The key active now (orchestrator/signing-keys.ts): a published key signs only from its activation.
    const current = await deps.db.signingKey.findFirst({
      where: { activatesAt: { lte: now }, OR: [{ retiredAt: null }, { retiredAt: { gt: now } }] },
      orderBy: { activatesAt: 'desc' },
    });
    const row = current && (await deps.db.signedCatalog.findUnique({ where: { catalogSha256_kid: { catalogSha256: await thisCatalog, kid: current.kid } } }));
    if (!row) throw new ApiError(503, 'catalog_not_signed', 'this catalog is not signed by the key in use yet (the orchestrator signs it when it starts); try again shortly');
    res.set('access-control-allow-origin', '*').json(row.document);
  });
  // Runners push streamed text with the job's own token, not an API key: mounted before the key check.
  const streams = deps.streams ?? new JobStreams(deps.db);
  app.use(streams.router());
  app.use(['/v1/jobs', '/v1/chat/completions', '/v1/completions', '/mcp', '/v1/org', '/v1/me'], requireApiKey(deps.db));
  app.use(orgRouter(deps.db, deps.settings.rateLimits));
  app.use(meRouter(deps));
  app.use(payoutAccountRouter({ db: deps.db, stripe: deps.settings.stripe, publicUrl: deps.settings.publicUrl }));
  app.use(payoutRailRouter({ db: deps.db, settings: deps.settings }));
  // Stateless Streamable HTTP: every message is a POST; there is no session stream to GET or DELETE.
  app.post('/mcp', mcpHttpHandler());
  app.use(jobsRouter(deps));
  app.use(openAiRouter({ ...deps, streams }));
  app.use(runnersRouter({ db: deps.db, temporal: deps.temporal, dispatch: deps.settings.dispatch, runnerVersions: deps.settings.runnerVersions, requireApiKey: requireApiKey(deps.db) }));
  app.use(sessionCertificateRouter({ db: deps.db, publicUrl: deps.settings.publicUrl, requireApiKey: requireApiKey(deps.db) }));
  app.use(runnerLoginRouter({ db: deps.db, settings: deps.settings, requireApiKey: requireApiKey(deps.db) }));
  app.use(federationRouter({ db: deps.db, temporal: deps.temporal, settings: deps.settings.federation, payloadKeys: deps.payloadKeys ?? null, cascade: deps.settings.cascade }));
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

/**
 * Stops serving: stops accepting at once, lets responses in flight (long polls, streams) finish for
 * up to `drainMs`, then cuts the rest. Jobs whose responses are cut this way go on (isDraining):
 * their customers read them at GET /v1/jobs/:id.
 */
export async function closeHttpServer(server: Server, opts: { app?: express.Application; drainMs?: number } = {}): Promise<void> {
  if (opts.app) opts.app.locals.draining = true;
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  const drained = await Promise.race([closed.then(() => true), new Promise((r) => setTimeout(() => r(false), opts.drainMs ?? 0).unref())]);
  if (!drained) server.closeAllConnections();
  await closed;
}

/** Node's keep-alive and header timeouts above a balancer's idle timeout, so the balancer closes idle connections first (no 502 on reuse). */
export function applyServerTimeouts(server: Server, s: GatewaySettings['http']): void {
  server.keepAliveTimeout = s.keepAliveTimeoutMs;
  server.headersTimeout = s.headersTimeoutMs;
}
