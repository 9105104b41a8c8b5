/**
 * The organization behind an API key: its monthly spending cap and what it
 * spent, its members, and its keys (each with an optional rate limit). Any
 * of the organization's keys manages it; a key is shown once, at creation.
 */
import { Router } from 'express';
import { randomUUID } from 'node:crypto';
import type { Db } from '../platform/db.js';
import { jsonBody } from './json-body.js';
import { monthSpending } from './admission.js';
import { issueApiKey } from './api-keys.js';
import { ApiError } from './errors.js';
import { ipAndCredentialLimit, type RateLimitSettings } from './rate-limit.js';
import { ApiKeyPatchBody, CreateApiKeyBody, OrgMemberBody, OrgPatchBody } from './schemas.js';

const MICRO = 1_000_000n;

export function orgRouter(db: Db, rateLimits: RateLimitSettings): Router {
  const router = Router();
  // A leaked key must not mint keys without bound (each outlives the leaked one's revocation).
  const limitKeyCreation = ipAndCredentialLimit(db, 'API key creation', rateLimits, (_req, res) => res.locals.apiKeyId ?? null);

  const orgView = async (customerId: string) => {
    const org = await db.customer.findUniqueOrThrow({ where: { id: customerId } });
    const m = await monthSpending(db, customerId, new Date());
    return {
      id: org.id,
      object: 'organization',
      name: org.name,
      monthly_cap_credits: org.monthlyCapMicrocredits === null ? null : Number(org.monthlyCapMicrocredits / MICRO),
      // Integer microcredits (1 credit = 1,000,000).
      spent_this_month_microcredits: Number(m.spentMicrocredits),
      reserved_microcredits: Number(m.reservedMicrocredits),
    };
  };

  router.get('/v1/org', async (_req, res) => {
    res.json(await orgView(res.locals.customerId));
  });

  router.patch('/v1/org', async (req, res) => {
    const body = OrgPatchBody.parse(jsonBody(req));
    await db.customer.update({
      where: { id: res.locals.customerId },
      data: {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.monthly_cap_credits !== undefined ? { monthlyCapMicrocredits: body.monthly_cap_credits === null ? null : BigInt(body.monthly_cap_credits) * MICRO } : {}),
      },
    });
    res.json(await orgView(res.locals.customerId));
  });

  const memberView = (m: { email: string; role: string; createdAt: Date }) => ({ email: m.email, role: m.role, created_at: m.createdAt.toISOString() });

  router.get('/v1/org/members', async (_req, res) => {
    const members = await db.orgMember.findMany({ where: { customerId: res.locals.customerId }, orderBy: { createdAt: 'asc' } });
    res.json({ object: 'list', data: members.map(memberView) });
  });

  router.post('/v1/org/members', async (req, res) => {
    const body = OrgMemberBody.parse(jsonBody(req));
    const email = body.email.toLowerCase();
    const member = await db.orgMember.upsert({
      where: { customerId_email: { customerId: res.locals.customerId, email } },
      create: { id: `mem_${randomUUID().replace(/-/g, '')}`, customerId: res.locals.customerId, email, role: body.role },
      update: { role: body.role },
    });
    res.status(201).json(memberView(member));
  });

  router.delete('/v1/org/members/:email', async (req, res) => {
    const email = String(req.params.email).toLowerCase();
    await db.$transaction(async (tx) => {
      const member = await tx.orgMember.findUnique({ where: { customerId_email: { customerId: res.locals.customerId, email } } });
      if (!member) throw new ApiError(404, 'member_not_found', `${email} is not a member of this organization`, 'email');
      const owners = await tx.orgMember.count({ where: { customerId: res.locals.customerId, role: 'owner' } });
      if (member.role === 'owner' && owners === 1) throw new ApiError(409, 'last_owner', `${email} is the last owner; make another member an owner first`, 'email');
      await tx.orgMember.delete({ where: { id: member.id } });
    });
    res.status(204).end();
  });

  const keyView = (k: { id: string; name: string; prefix: string; createdAt: Date; revokedAt: Date | null; rateLimitPerMinute: number | null }) => ({
    id: k.id,
    object: 'api_key',
    name: k.name,
    prefix: k.prefix,
    rate_limit_per_minute: k.rateLimitPerMinute,
    created_at: k.createdAt.toISOString(),
    revoked_at: k.revokedAt?.toISOString() ?? null,
  });

  router.get('/v1/org/keys', async (_req, res) => {
    const keys = await db.apiKey.findMany({ where: { customerId: res.locals.customerId }, orderBy: { createdAt: 'asc' } });
    res.json({ object: 'list', data: keys.map(keyView) });
  });

  router.post('/v1/org/keys', limitKeyCreation, async (req, res) => {
    const body = CreateApiKeyBody.parse(jsonBody(req));
    const issued = await issueApiKey(db, res.locals.customerId, body.name, body.rate_limit_per_minute);
    const row = await db.apiKey.findUniqueOrThrow({ where: { id: issued.id } });
    res.status(201).json({ ...keyView(row), key: issued.key });
  });

  const ownKey = async (customerId: string, id: string) => {
    const key = await db.apiKey.findFirst({ where: { id, customerId } });
    if (!key) throw new ApiError(404, 'api_key_not_found', `no API key ${JSON.stringify(id)} in this organization`, 'id');
    return key;
  };

  router.patch('/v1/org/keys/:id', async (req, res) => {
    const body = ApiKeyPatchBody.parse(jsonBody(req));
    const key = await ownKey(res.locals.customerId, String(req.params.id));
    res.json(keyView(await db.apiKey.update({ where: { id: key.id }, data: { rateLimitPerMinute: body.rate_limit_per_minute } })));
  });

  // Revokes: the key stops working at once; jobs it started go on and stay billed to the organization.
  router.delete('/v1/org/keys/:id', async (req, res) => {
    const key = await ownKey(res.locals.customerId, String(req.params.id));
    const active = await db.apiKey.count({ where: { customerId: res.locals.customerId, revokedAt: null } });
    if (!key.revokedAt && active === 1) throw new ApiError(409, 'last_key', 'this is the organization’s last active key; create another before revoking it', 'id');
    res.json(keyView(await db.apiKey.update({ where: { id: key.id }, data: { revokedAt: key.revokedAt ?? new Date() } })));
  });

  return router;
}
