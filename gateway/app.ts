/** The gateway's HTTP surface, built over its dependencies (tests build it the same way). */
import express from 'express';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { MODEL_CATALOG } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import { requireApiKey } from './api-keys.js';
import { ApiError, handleErrors } from './errors.js';
import { jobsRouter } from './jobs.js';
import { keysRouter } from './keys.js';
import { runnerLoginRouter } from './runner-login.js';
import { runnersRouter } from './runners.js';
import type { GatewaySettings } from './settings.js';

const VERIFY_WEB = fileURLToPath(new URL('../verify-web/', import.meta.url));

export function createGatewayApp(deps: { db: Db; temporal: Client; settings: GatewaySettings }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // The prompt limit is checked per field with a clear message; this bound only stops abuse.
  app.use(express.json({ limit: deps.settings.maxPromptBytes * 2 + 64 * 1024 }));

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.use(keysRouter(deps.db));
  // The auditor's page: static, and it checks receipts without trusting this server.
  // Relative asset URLs need the trailing slash; Express matches /verify and /verify/ alike.
  app.get('/verify', (req, res) =>
    req.originalUrl.split('?')[0].endsWith('/') ? res.sendFile(`${VERIFY_WEB}index.html`) : res.redirect(301, '/verify/'),
  );
  app.use('/verify/dist', express.static(`${VERIFY_WEB}dist`, { fallthrough: false }));
  app.get('/v1/models', (_req, res) => {
    res.json({
      object: 'list',
      data: MODEL_CATALOG.map((m) => ({ id: m.key, object: 'model', owned_by: 'trd', name: m.name, context_length: m.contextLength })),
    });
  });
  app.use('/v1/jobs', requireApiKey(deps.db));
  app.use(jobsRouter(deps));
  app.use(runnersRouter({ db: deps.db, temporal: deps.temporal, dispatch: deps.settings.dispatch, requireApiKey: requireApiKey(deps.db) }));
  app.use(runnerLoginRouter({ db: deps.db, settings: deps.settings, requireApiKey: requireApiKey(deps.db) }));
  app.use((req, _res) => {
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
