/**
 * Stripe's API is unreachable here, so this local server speaks its wire
 * format for the calls the platform makes (form-encoded requests, Bearer
 * secret key, JSON objects and `{ error: { type, code, message } }` errors),
 * and the real `stripe` SDK is pointed at it (host, port, protocol). Like
 * Stripe, it keeps the first result of each Idempotency-Key and answers a
 * repeat with it, and refuses the same key with other parameters; an injected
 * outage (5xx) happens before any work, so nothing is saved for it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface FakeTransfer {
  id: string;
  amount: number;
  currency: string;
  destination: string;
  transfer_group: string | null;
  metadata: Record<string, string>;
  idempotencyKey: string | null;
}

export interface StripeFake {
  url: URL;
  transfers: FakeTransfer[];
  accounts: Map<string, { id: string; payouts_enabled: boolean }>;
  /** Transfer requests that reached the server, saved or not. */
  transferRequests: number;
  /** The next n transfer requests get a 500 before anything happens. */
  failNext(n: number): void;
  /** Transfers to this account are declined (as to an account that cannot receive them). */
  decline(accountId: string): void;
  /** Each transfer takes this long to answer (for killing the caller mid-batch). */
  delayMs: number;
  stop(): Promise<void>;
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

async function form(req: IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

export async function startStripeFake(secretKey: string): Promise<StripeFake> {
  const saved = new Map<string, { params: string; status: number; body: unknown }>();
  const declined = new Set<string>();
  let failures = 0;

  const fake: StripeFake = {
    url: new URL('http://127.0.0.1'),
    transfers: [],
    accounts: new Map(),
    transferRequests: 0,
    failNext: (n) => (failures = n),
    decline: (account) => declined.add(account),
    delayMs: 0,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };

  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req') }).end(JSON.stringify(body));
    const error = (status: number, type: string, message: string, code?: string) => send(status, { error: { type, message, ...(code ? { code } : {}) } });
    if (req.headers.authorization !== `Bearer ${secretKey}`) return error(401, 'invalid_request_error', 'Invalid API Key provided');
    const url = new URL(req.url ?? '/', 'http://fake');
    const params = req.method === 'POST' ? await form(req) : Object.fromEntries(url.searchParams);
    const key = (req.headers['idempotency-key'] as string | undefined) ?? null;
    const isTransfer = req.method === 'POST' && url.pathname === '/v1/transfers';
    if (isTransfer) {
      fake.transferRequests++;
      if (failures > 0) {
        failures--;
        return error(500, 'api_error', 'An unknown error occurred');
      }
      if (fake.delayMs) await new Promise((r) => setTimeout(r, fake.delayMs));
    }
    if (req.method === 'POST' && key) {
      const earlier = saved.get(key);
      const fingerprint = `${url.pathname} ${JSON.stringify(params)}`;
      if (earlier && earlier.params !== fingerprint) {
        return error(400, 'idempotency_error', `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`);
      }
      if (earlier) return res.writeHead(earlier.status, { 'content-type': 'application/json', 'idempotent-replayed': 'true' }).end(JSON.stringify(earlier.body));
      const [status, body] = handle(req.method, url, params, key);
      saved.set(key, { params: fingerprint, status, body });
      return send(status, body);
    }
    const [status, body] = handle(req.method ?? 'GET', url, params, key);
    send(status, body);
  });

  function handle(method: string, url: URL, p: Record<string, string>, key: string | null): [number, unknown] {
    const err = (status: number, type: string, message: string, code?: string): [number, unknown] => [status, { error: { type, message, ...(code ? { code } : {}) } }];
    if (method === 'POST' && url.pathname === '/v1/accounts') {
      const account = { id: id('acct'), object: 'account', type: p.type ?? 'express', email: p.email ?? null, payouts_enabled: false, charges_enabled: false, metadata: {} };
      fake.accounts.set(account.id, account);
      return [200, account];
    }
    if (method === 'POST' && url.pathname === '/v1/account_links') {
      if (!fake.accounts.has(p.account)) return err(400, 'invalid_request_error', `No such account: '${p.account}'`, 'resource_missing');
      return [200, { object: 'account_link', url: `https://connect.stripe.test/setup/${p.account}`, created: Math.floor(Date.now() / 1000), expires_at: Math.floor(Date.now() / 1000) + 300 }];
    }
    if (method === 'POST' && url.pathname === '/v1/transfers') {
      const amount = Number(p.amount);
      if (!Number.isInteger(amount) || amount <= 0) return err(400, 'invalid_request_error', 'Invalid positive integer', 'parameter_invalid_integer');
      if (!fake.accounts.has(p.destination)) return err(400, 'invalid_request_error', `No such destination: '${p.destination}'`, 'resource_missing');
      if (declined.has(p.destination)) {
        return err(400, 'invalid_request_error', "Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments", 'insufficient_capabilities_for_transfer');
      }
      const metadata = Object.fromEntries(Object.entries(p).filter(([k]) => k.startsWith('metadata[')).map(([k, v]) => [k.slice(9, -1), v]));
      const transfer: FakeTransfer = { id: id('tr'), amount, currency: p.currency, destination: p.destination, transfer_group: p.transfer_group ?? null, metadata, idempotencyKey: key };
      fake.transfers.push(transfer);
      return [200, view(transfer)];
    }
    const one = /^\/v1\/transfers\/(tr_\w+)$/.exec(url.pathname);
    if (method === 'GET' && one) {
      const t = fake.transfers.find((x) => x.id === one[1]);
      return t ? [200, view(t)] : err(404, 'invalid_request_error', `No such transfer: '${one[1]}'`, 'resource_missing');
    }
    if (method === 'GET' && url.pathname === '/v1/transfers') {
      const group = p.transfer_group;
      const data = fake.transfers.filter((t) => !group || t.transfer_group === group).map(view);
      return [200, { object: 'list', url: '/v1/transfers', has_more: false, data }];
    }
    return err(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${url.pathname})`);
  }

  const view = (t: FakeTransfer) => ({
    id: t.id,
    object: 'transfer',
    amount: t.amount,
    currency: t.currency,
    destination: t.destination,
    transfer_group: t.transfer_group,
    metadata: t.metadata,
    reversed: false,
    created: Math.floor(Date.now() / 1000),
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return fake;
}
