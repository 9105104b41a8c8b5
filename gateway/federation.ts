/**
 * Federation between pods (docs/cascade.md): the operator's peers (add, give the peer's credential,
 * revoke, attest now), the endpoint peers POST their chain-head attestations to, and the public
 * views a verifier reads: what this pod received from a peer for a session, and those sightings
 * checked against the peer's chain as it publishes it now (a rewrite shows as an inconsistent head).
 * The gateway holds no signing key: an orchestrator countersigns (workflows/federation.ts).
 */
import { Router, type RequestHandler } from 'express';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { z } from 'zod';
import { ORCHESTRATOR_QUEUE, SESSION_ID_PATTERN } from '@trd/protocol';
import {
  POD_NAME_PATTERN,
  acceptAttestation,
  attestationSha256,
  headSightings,
  verifyCountersigned,
  type CountersignedAttestation,
  type Countersignature,
  type SignedAttestation,
} from '@trd/protocol/attestation';
import { PeerUnreachableError, fetchPeerJson, fetchPeerKeys, keyMap, ownKeys, peerKeysFor, type StoredKey } from '../federation/peers.js';
import type { FederationSettings } from '../federation/settings.js';
import type { CascadeConfig, PodTier } from '../cascade/config.js';
import { ensureAttestationSchedule, removeAttestationSchedule } from '../orchestrator/schedules.js';
import type { Db } from '../platform/db.js';
import type { PayloadKeys } from '../platform/payload-encryption.js';
import { OPERATOR_ROLE } from '../platform/roles.js';
import { sealSecret } from '../platform/sealed-secrets.js';
import { hashToken, newToken } from '../platform/tokens.js';
import { attestationScheduleId, countersignWorkflowId, type AttestationExchangeInput } from '../platform/workflow-api.js';
import { ApiError } from './errors.js';
import { jsonBody } from './json-body.js';
import { RateLimiter } from './rate-limit.js';
import { requireAccount } from './owner.js';
import { bearerToken } from './tokens.js';

export interface FederationDeps {
  db: Db;
  temporal: Client;
  settings: FederationSettings;
  payloadKeys: PayloadKeys | null;
  /** Where each peer serves as a cascade tier, and at what price (cascade/config.ts). */
  cascade: CascadeConfig;
}

const CREDENTIAL_PREFIX = 'trdp_';
const PodName = z.string().regex(POD_NAME_PATTERN, 'is not a pod name (a-z 0-9 . _ -, up to 64)');
const BaseUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .transform((u) => u.replace(/\/+$/, ''))
  .refine((u) => !/\/v1$/.test(u), 'is the peer’s gateway, without /v1');
const Credential = z.string().startsWith(CREDENTIAL_PREFIX, `is the credential the peer issued (${CREDENTIAL_PREFIX}…)`).max(200);
export const PeerBody = z
  .object({
    name: PodName,
    base_url: BaseUrl,
    credential: Credential.optional(),
    quota_per_minute: z.number().int().min(1).max(100_000).optional(),
    attest_every_ms: z.number().int().min(1000).optional(),
  })
  .strict();
export const PeerPatch = PeerBody.omit({ name: true }).partial().strict();
export const SightingsQuery = z.object({ pod: PodName, session: z.string().regex(SESSION_ID_PATTERN, 'is not a session id') }).strict();

/** A peer's signed attestation as POSTed (documented here; protocol/attestation.ts checks it, signature and all). */
export const AttestationBody = z
  .object({
    envelope: z
      .object({
        v: z.literal(1),
        kind: z.literal('chain-heads'),
        pod: PodName,
        kid: z.string(),
        issued_at: z.string(),
        heads: z.array(z.object({ session_id: z.string().regex(SESSION_ID_PATTERN), seq: z.number().int().min(0), cid: z.string() }).strict()),
        keys: z.array(z.string()).min(1),
      })
      .strict(),
    signature: z.string(),
  })
  .strict();

type PeerRow = NonNullable<Awaited<ReturnType<Db['peer']['findUnique']>>>;

export function federationRouter(deps: FederationDeps): Router {
  const { db, settings } = deps;
  const router = Router();
  // An API key, or the dashboard's sign-in for the operator page (dashboard-web/peers.html).
  const signedIn = requireAccount(db);

  const requireOperator: RequestHandler = async (_req, res, next) => {
    const held = await db.accountRole.count({ where: { customerId: res.locals.customerId, role: OPERATOR_ROLE } });
    if (!held) throw new ApiError(403, 'not_an_operator', `peers are managed by accounts with the ${OPERATOR_ROLE} role (scripts/grant-role.ts)`);
    next();
  };

  const peerView = async (p: PeerRow) => {
    const [lastSent, lastCountersigned, pending, lastReceived, received] = await Promise.all([
      db.sentAttestation.findFirst({ where: { peer: p.name }, orderBy: { issuedAt: 'desc' }, select: { issuedAt: true } }),
      db.sentAttestation.findFirst({ where: { peer: p.name, countersignedAt: { not: null } }, orderBy: { countersignedAt: 'desc' }, select: { countersignedAt: true } }),
      db.sentAttestation.count({ where: { peer: p.name, countersignedAt: null } }),
      db.receivedAttestation.findFirst({ where: { pod: p.name }, orderBy: { receivedAt: 'desc' }, select: { receivedAt: true } }),
      db.receivedAttestation.count({ where: { pod: p.name } }),
    ]);
    return {
      object: 'peer',
      name: p.name,
      base_url: p.baseUrl,
      status: p.revokedAt ? 'revoked' : p.outboundCredential ? 'active' : 'awaiting_credential',
      quota_per_minute: p.quotaPerMinute,
      attest_every_ms: p.attestEveryMs,
      keys: (p.keys as unknown as StoredKey[]).map((k) => k.kid),
      // Where the cascade sends it jobs, and what they cost (TRD_CASCADE_FILE).
      tiers: Object.entries(deps.cascade.models).flatMap(([models, tiers]) =>
        tiers.filter((t): t is PodTier => t.kind === 'pod' && t.name === p.name).map((t) => ({ models, model: t.model, price: t.price, cost: t.cost })),
      ),
      keys_fetched_at: p.keysFetchedAt.toISOString(),
      approved_by: p.approvedBy,
      approved_at: p.approvedAt.toISOString(),
      revoked_by: p.revokedBy,
      revoked_at: p.revokedAt?.toISOString() ?? null,
      attestations: {
        last_sent_at: lastSent?.issuedAt.toISOString() ?? null,
        last_countersigned_at: lastCountersigned?.countersignedAt?.toISOString() ?? null,
        awaiting_countersignature: pending,
        last_received_at: lastReceived?.receivedAt.toISOString() ?? null,
        received: received,
      },
    };
  };

  const findPeer = async (name: string): Promise<PeerRow> => {
    const peer = PodName.safeParse(name).success ? await db.peer.findUnique({ where: { name } }) : null;
    if (!peer) throw new ApiError(404, 'peer_not_found', `no peer ${name} (GET /v1/operator/peers lists them)`, 'name');
    return peer;
  };

  const sealCredential = (credential: string): Uint8Array<ArrayBuffer> => {
    if (!deps.payloadKeys) throw new ApiError(503, 'federation_unavailable', 'this gateway has no payload keys (TRD_PAYLOAD_KEYS) to keep a peer’s credential sealed');
    return sealSecret(deps.payloadKeys, credential);
  };

  const exchangeInput = (peer: string): AttestationExchangeInput => ({
    pod: settings.podName,
    peer,
    maxHeads: settings.maxHeads,
    timeoutMs: settings.timeoutMs,
    retryInitialMs: settings.retryInitialMs,
    retryMaxMs: settings.retryMaxMs,
  });

  const fetchKeysOf = async (baseUrl: string) => {
    try {
      const keys = await fetchPeerKeys(baseUrl, settings.timeoutMs);
      if (!keys.length) throw new PeerUnreachableError(`${baseUrl}/keys lists no Ed25519 signing key`);
      return keys;
    } catch (err) {
      if (err instanceof PeerUnreachableError) throw new ApiError(502, 'peer_unreachable', `the peer’s keys could not be fetched: ${err.message}`, 'base_url');
      throw err;
    }
  };

  // ---- the operator's peers

  router.get('/v1/operator/peers', signedIn, requireOperator, async (_req, res) => {
    const peers = await db.peer.findMany({ orderBy: { name: 'asc' } });
    res.json({ object: 'list', pod: settings.podName, data: await Promise.all(peers.map(peerView)) });
  });

  router.post('/v1/operator/peers', signedIn, requireOperator, async (req, res) => {
    const body = PeerBody.parse(jsonBody(req));
    if (body.name === settings.podName) throw new ApiError(400, 'invalid_request', `name: ${body.name} is this pod's own name`, 'name');
    if (await db.peer.findUnique({ where: { name: body.name } })) throw new ApiError(409, 'peer_exists', `${body.name} is a peer already (PATCH /v1/operator/peers/${body.name} changes it)`, 'name');
    const keys = await fetchKeysOf(body.base_url);
    // The peer presents this to reach this pod; shown once, kept as its hash.
    const credential = newToken(CREDENTIAL_PREFIX);
    const peer = await db.peer.create({
      data: {
        name: body.name,
        baseUrl: body.base_url,
        inboundCredentialSha256: hashToken(credential),
        outboundCredential: body.credential ? sealCredential(body.credential) : null,
        keys: keys as unknown as object,
        keysFetchedAt: new Date(),
        quotaPerMinute: body.quota_per_minute ?? settings.quotaPerMinute,
        attestEveryMs: body.attest_every_ms ?? settings.attestEveryMs,
        approvedBy: res.locals.customerId,
      },
    });
    if (peer.outboundCredential) await ensureAttestationSchedule(deps.temporal, exchangeInput(peer.name), peer.attestEveryMs);
    res.status(201).json({ ...(await peerView(peer)), credential });
  });

  router.patch('/v1/operator/peers/:name', signedIn, requireOperator, async (req, res) => {
    const body = PeerPatch.parse(jsonBody(req));
    const found = await findPeer(req.params.name as string);
    if (found.revokedAt) throw new ApiError(409, 'peer_revoked', `the peering with ${found.name} was revoked; peer again under another name`, 'name');
    const keys = body.base_url && body.base_url !== found.baseUrl ? await fetchKeysOf(body.base_url) : null;
    const peer = await db.peer.update({
      where: { name: found.name },
      data: {
        ...(body.base_url ? { baseUrl: body.base_url } : {}),
        ...(keys ? { keys: keys as unknown as object, keysFetchedAt: new Date() } : {}),
        ...(body.credential ? { outboundCredential: sealCredential(body.credential) } : {}),
        ...(body.quota_per_minute ? { quotaPerMinute: body.quota_per_minute } : {}),
        ...(body.attest_every_ms ? { attestEveryMs: body.attest_every_ms } : {}),
      },
    });
    if (peer.outboundCredential) await ensureAttestationSchedule(deps.temporal, exchangeInput(peer.name), peer.attestEveryMs);
    res.json(await peerView(peer));
  });

  router.post('/v1/operator/peers/:name/revoke', signedIn, requireOperator, async (req, res) => {
    const found = await findPeer(req.params.name as string);
    // Revoking twice keeps the first revocation's time and author.
    const peer = found.revokedAt ? found : await db.peer.update({ where: { name: found.name }, data: { revokedAt: new Date(), revokedBy: res.locals.customerId } });
    await removeAttestationSchedule(deps.temporal, peer.name);
    res.json(await peerView(peer));
  });

  router.post('/v1/operator/peers/:name/attest', signedIn, requireOperator, async (req, res) => {
    const peer = await findPeer(req.params.name as string);
    if (peer.revokedAt || !peer.outboundCredential) throw new ApiError(409, 'peer_not_active', `${peer.name} is ${peer.revokedAt ? 'revoked' : 'awaiting the credential it issued to this pod'}`, 'name');
    // Started here rather than by triggering the Schedule: a trigger in the same second as a scheduled run is that run.
    const exchangeId = `${attestationScheduleId(peer.name)}-now-${new Date().toISOString()}`;
    await deps.temporal.workflow.start('attestationExchange', { taskQueue: ORCHESTRATOR_QUEUE, workflowId: exchangeId, args: [exchangeInput(peer.name)] });
    res.status(202).json({ ...(await peerView(peer)), exchange_id: exchangeId });
  });

  // ---- what peers send

  router.post('/v1/federation/attestations', async (req, res) => {
    const presented = bearerToken(req.get('authorization'), 'federation credential', CREDENTIAL_PREFIX);
    const peer = await db.peer.findUnique({ where: { inboundCredentialSha256: hashToken(presented) } });
    if (!peer) throw new ApiError(401, 'invalid_federation_credential', 'the federation credential is not one this pod issued');
    if (peer.revokedAt) throw new ApiError(403, 'peer_revoked', `this pod revoked its peering with ${peer.name} at ${peer.revokedAt.toISOString()}`);
    const waitMs = await new RateLimiter(db, 'federation:peer', peer.quotaPerMinute, 60_000).hit(peer.name);
    if (waitMs > 0) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw new ApiError(429, 'rate_limited', `${peer.name} is over its ${peer.quotaPerMinute} requests a minute; try again in ${seconds} s`, null, { 'retry-after': String(seconds) });
    }
    const doc = jsonBody(req) as SignedAttestation;
    const kid = typeof doc?.envelope?.kid === 'string' ? doc.envelope.kid : '';
    let keys: Map<string, Uint8Array>;
    try {
      keys = await peerKeysFor(db, peer, kid, settings.timeoutMs);
    } catch (err) {
      if (!(err instanceof PeerUnreachableError)) throw err;
      keys = keyMap(peer.keys);
    }
    // Only the peer the credential is of: a document signed as another pod is refused.
    const check = await acceptAttestation(doc, new Map([[peer.name, { keys, revokedAt: null }]]));
    if (!check.ok) throw new ApiError(400, 'invalid_attestation', check.reason);
    const sha256 = await attestationSha256(doc);
    const kept = await db.receivedAttestation.findUnique({ where: { sha256 } });
    const countersignature = kept
      ? (kept.countersignature as unknown as Countersignature)
      : await deps.temporal.workflow
          .execute('countersignAttestation', {
            taskQueue: ORCHESTRATOR_QUEUE,
            workflowId: countersignWorkflowId(peer.name, sha256),
            workflowIdConflictPolicy: 'USE_EXISTING',
            workflowExecutionTimeout: settings.timeoutMs,
            args: [{ pod: settings.podName, attestation: doc, receivedAt: new Date().toISOString(), timeoutMs: settings.timeoutMs, retryInitialMs: settings.retryInitialMs, retryMaxMs: settings.retryMaxMs }],
          })
          .catch((err: Error) => {
            // No orchestrator countersigned in time (none running, or no key active): the sender tries again.
            if (err instanceof WorkflowFailedError) throw new ApiError(503, 'countersigning_unavailable', `this pod could not countersign within ${settings.timeoutMs} ms (${err.cause?.message ?? err.message}); send it again`);
            throw err;
          });
    res.json({ object: 'countersignature', countersignature });
  });

  // ---- what a verifier reads (public: heads are hashes, as chains are)

  /** What this pod received from `pod` naming `session`, each with this pod's countersignature. */
  const receivedFor = async (pod: string, session: string): Promise<CountersignedAttestation[]> => {
    const heads = await db.attestedHead.findMany({ where: { peer: pod, sent: false, sessionId: session }, select: { attestationSha256: true } });
    const rows = await db.receivedAttestation.findMany({ where: { sha256: { in: heads.map((h) => h.attestationSha256) } }, orderBy: { receivedAt: 'asc' } });
    return rows.map((r) => ({ attestation: r.document as unknown as SignedAttestation, countersignature: r.countersignature as unknown as Countersignature }));
  };

  router.get('/v1/federation/attestations', async (req, res) => {
    const q = SightingsQuery.parse(req.query);
    res.set('access-control-allow-origin', '*').json({ object: 'list', pod: settings.podName, attested_pod: q.pod, session_id: q.session, data: await receivedFor(q.pod, q.session) });
  });

  router.get('/v1/federation/sightings', async (req, res) => {
    const q = SightingsQuery.parse(req.query);
    const peer = await db.peer.findUnique({ where: { name: q.pod } });
    if (!peer) throw new ApiError(404, 'peer_not_found', `${q.pod} is not a peer of this pod`, 'pod');
    const exchanges = await receivedFor(q.pod, q.session);
    const mine = await ownKeys(db);
    const theirs = keyMap(peer.keys);
    const verified: CountersignedAttestation[] = [];
    for (const x of exchanges) if ((await verifyCountersigned(x, theirs, mine)).ok) verified.push(x);
    let chain: { status: number; body: any };
    try {
      chain = await fetchPeerJson(`${peer.baseUrl}/v1/sessions/${encodeURIComponent(q.session)}/receipts`, settings.timeoutMs);
    } catch (err) {
      if (err instanceof PeerUnreachableError) throw new ApiError(502, 'peer_unreachable', `${q.pod}'s chain could not be fetched: ${err.message}`, 'pod');
      throw err;
    }
    if (chain.status !== 200 && chain.status !== 404) throw new ApiError(502, 'peer_unreachable', `${q.pod} answered ${chain.status} for the session's chain`, 'pod');
    // A chain the pod no longer publishes at all contradicts every head seen of it.
    const cids: string[] = chain.status === 200 && Array.isArray(chain.body?.receipts) ? chain.body.receipts.map((r: { cid: string }) => r.cid) : [];
    const sightings = headSightings(q.session, cids, verified);
    res.set('access-control-allow-origin', '*').json({
      object: 'sightings',
      pod: settings.podName,
      attested_pod: q.pod,
      session_id: q.session,
      chain: { head: cids.at(-1) ?? null, count: cids.length },
      consistent: sightings.every((s) => s.consistent),
      unverified: exchanges.length - verified.length,
      sightings,
    });
  });

  /** This pod's own side: its countersigned attestations naming the session, and where each peer is, to ask it. */
  router.get('/v1/sessions/:id/attestations', async (req, res) => {
    const session = z.string().regex(SESSION_ID_PATTERN, 'is not a session id').parse(req.params.id);
    const heads = await db.attestedHead.findMany({ where: { sent: true, sessionId: session }, select: { attestationSha256: true } });
    const rows = await db.sentAttestation.findMany({ where: { sha256: { in: heads.map((h) => h.attestationSha256) }, countersignedAt: { not: null } }, orderBy: { issuedAt: 'asc' } });
    const peers = await db.peer.findMany({ where: { name: { in: [...new Set(rows.map((r) => r.peer))] } }, select: { name: true, baseUrl: true, revokedAt: true } });
    res.set('access-control-allow-origin', '*').json({
      object: 'list',
      pod: settings.podName,
      session_id: session,
      peers: peers.map((p) => ({ name: p.name, base_url: p.baseUrl, revoked_at: p.revokedAt?.toISOString() ?? null })),
      data: rows.map((r) => ({ attestation: r.document, countersignature: r.countersignature })),
    });
  });

  return router;
}
