/**
 * Temporal's codec server protocol, so finance and reviewers read what their
 * roles open in Temporal's UI (and `temporal workflow show --codec-endpoint`).
 *
 * Wire format (temporalio/samples-go codec-server/protocol.md; what UI 2.42.1,
 * the one in CLI 1.5.1, sends): `POST <endpoint>/decode`, `Content-Type:
 * application/json`, `X-Namespace: <namespace>`, body and answer
 * `{"payloads":[{"metadata":{"<key>":"<base64>"},"data":"<base64>"}]}` (proto3
 * JSON of Payloads: every bytes value base64), the same number of payloads
 * back in the same order. Only the path's last part says decode or encode, so
 * `<endpoint>/<namespace>/decode` (the CLI's `{namespace}` template) works too.
 * The UI sends no workflow id: what a payload is comes from the class sealed
 * into it (platform/payload-classes.ts), decided per payload.
 *
 * The credential: the UI's fetch carries the gateway's dashboard session cookie
 * when "include cross-origin credentials" is on (UI setting or
 * TEMPORAL_CODEC_INCLUDE_CREDENTIALS), or an `Authorization: Bearer <API key>`
 * (the CLI's --codec-auth). CORS answers only the origins in
 * TRD_CODEC_ALLOWED_ORIGINS, with credentials.
 *
 * Hosted in the gateway: it already holds the payload keys (it seals workflow
 * inputs) and the sign-in, and it stays stateless (keys from the environment,
 * roles and the decode log in PostgreSQL). No /encode: a payload sealed with
 * the platform's key is trusted as the platform's own (a forged runner result
 * is refused only because it is not sealed), so sealing is never offered to a
 * person.
 */
import express, { Router, type RequestHandler } from 'express';
import { randomUUID } from 'node:crypto';
import type { Payload } from '@temporalio/common';
import type { Db } from '../platform/db.js';
import { classesOpenedBy, knownClass, type PayloadClass } from '../platform/payload-classes.js';
import { decryptPayload, isEncrypted, payloadClassOf, type PayloadKeys } from '../platform/payload-encryption.js';
import { rolesOf } from '../platform/roles.js';
import { ApiError } from './errors.js';
import { requireAccount } from './owner.js';
import { CodecBody, type CodecPayload } from './schemas.js';
import type { GatewaySettings } from './settings.js';

export const CODEC_PATH = '/v1/codec';
/** `/v1/codec/decode` or `/v1/codec/<namespace>/decode` (and the same for encode, which is refused). */
const CODEC_ROUTE = /^\/v1\/codec(?:\/([^/]+))?\/(decode|encode)$/;
export const CODEC_DECODE_PATHS = [`${CODEC_PATH}/decode`, `${CODEC_PATH}/:namespace/decode`];
/** What the UI sends: X-Namespace, JSON, and with "pass access token" Authorization (+ Authorization-Extras, its ID token). */
const ALLOWED_HEADERS = 'content-type, x-namespace, authorization, authorization-extras';

type JsonPayload = CodecPayload;

function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

export type ClassCounts = Partial<Record<PayloadClass, { opened: number; sealed: number }>>;

/**
 * Opens what these classes allow; every other sealed payload goes back exactly as it came (still
 * sealed: the UI shows it encoded, and the rest of the page still renders), as does a plain one.
 */
export function decodeForRoles(keys: PayloadKeys, opens: ReadonlySet<PayloadClass>, payloads: JsonPayload[]): { payloads: JsonPayload[]; classes: ClassCounts; opened: number } {
  const classes: ClassCounts = {};
  let opened = 0;
  const out = payloads.map((json) => {
    const payload = fromJson(json);
    if (!isEncrypted(payload)) return json;
    const cls = knownClass(payloadClassOf(payload));
    const count = (classes[cls] ??= { opened: 0, sealed: 0 });
    if (opens.has(cls)) {
      try {
        const plain = toJson(decryptPayload(keys, payload));
        count.opened++;
        opened++;
        return plain;
      } catch {
        // Tampered with, relabelled, or under a key this gateway lacks: it stays sealed.
      }
    }
    count.sealed++;
    return json;
  });
  return { payloads: out, classes, opened };
}

export function codecRouter(deps: { db: Db; keys: PayloadKeys | null; namespace: string; settings: GatewaySettings['codec'] }): Router {
  const { db, keys, namespace, settings } = deps;
  const router = Router();
  const allowed = new Set(settings.allowedOrigins);
  const account = requireAccount(db);

  const cors: RequestHandler = (req, res, next) => {
    const origin = req.get('origin');
    if (origin !== undefined) {
      if (!allowed.has(origin)) {
        throw new ApiError(403, 'origin_not_allowed', `the codec server answers pages from ${allowed.size ? [...allowed].join(', ') : 'no origin yet'} (TRD_CODEC_ALLOWED_ORIGINS), not ${origin.slice(0, 200)}`);
      }
      res.set({ 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' });
    }
    next();
  };
  // With "pass access token" on, a UI without its own sign-in sends "Bearer undefined": that is no credential, so the cookie decides.
  const dropEmptyToken: RequestHandler = (req, _res, next) => {
    if (/^Bearer\s*(undefined|null)?\s*$/i.test(req.get('authorization') ?? '')) delete req.headers.authorization;
    next();
  };

  // Preflights and /encode are answered here, before any route: neither is an operation of the API.
  router.use((req, res, next) => {
    const match = CODEC_ROUTE.exec(req.path);
    if (!match) return next();
    if (req.method === 'OPTIONS') {
      return cors(req, res, () => {
        res.set({ 'access-control-allow-methods': 'POST', 'access-control-allow-headers': ALLOWED_HEADERS, 'access-control-max-age': '600' }).status(204).end();
      });
    }
    if (match[2] === 'encode') {
      return cors(req, res, () => {
        throw new ApiError(403, 'encode_not_offered', 'this codec server only decodes: a payload sealed with the platform key is trusted as the platform’s own, so nobody else may seal one');
      });
    }
    next();
  });
  const decode: RequestHandler = async (req, res) => {
    if (!keys) throw new ApiError(503, 'codec_not_configured', 'this gateway has no payload keys (TRD_PAYLOAD_KEYS), so it cannot open payloads');
    const pathNamespace = req.params.namespace as string | undefined;
    const body = CodecBody.parse(req.body ?? {});
    const asked = pathNamespace || req.get('x-namespace') || namespace;
    const customerId = res.locals.customerId as string;
    const roles = await rolesOf(db, customerId);
    // Another namespace's payloads are not the platform's to open.
    const opens = asked === namespace ? classesOpenedBy(roles) : new Set<PayloadClass>();
    const result = decodeForRoles(keys, opens, body.payloads);
    const sealedTotal = Object.values(result.classes).reduce((n, c) => n + c.sealed, 0);
    await db.codecDecode.create({
      data: {
        id: `dec_${randomUUID().replace(/-/g, '')}`,
        customerId,
        roles: roles.join(','),
        via: res.locals.apiKeyId ? 'api_key' : 'session',
        namespace: asked.slice(0, 200),
        payloads: body.payloads.length,
        opened: result.opened,
        keptSealed: sealedTotal,
        classes: result.classes,
        origin: req.get('origin')?.slice(0, 200) ?? null,
      },
    });
    res.set('cache-control', 'no-store').json({ payloads: result.payloads });
  };
  // Its own body bound, above the API's: the UI sends a history event's payloads in one request.
  for (const path of CODEC_DECODE_PATHS) router.post(path, cors, express.json({ limit: settings.maxBodyBytes }), dropEmptyToken, account, decode);
  return router;
}
