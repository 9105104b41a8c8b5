/**
 * The inference cascade's configuration: for each model (or model kind), the
 * ordered tiers that may serve a job: the network first, then OpenAI-compatible
 * providers and peer pods (federation: a peer's gateway, its address and keys
 * from the `peers` table, its receipt checked before the job counts). Declarative data (a JSON file named by TRD_CASCADE_FILE), checked
 * here field by field when a process starts: a bad entry stops it with the
 * entry and the field named, never a job later. Without the file every model
 * has the network alone, as before the cascade.
 *
 * The gateway fixes a job's tiers (names, prices, time bounds) in its input
 * at acceptance, so a job's history never depends on later edits; the
 * orchestrator looks up the tier by name for what must not travel in a
 * history (the base URL it trusts, the API key, the concurrency limit).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { findModel } from '@trd/protocol';
import { SettingsError } from '../platform/env.js';
import type { UpstreamPrice } from '../economy/billing.js';
import { podLabel, providerLabel, type UpstreamTierInput } from './tiers.js';

const TIER_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

const priceSchema = z.discriminatedUnion('per', [
  /** Integer microcredits per 1000 tokens, prompt and completion apart (as providers price them). */
  z.strictObject({ per: z.literal('token'), promptMicrocreditsPer1k: z.number().int().min(0), completionMicrocreditsPer1k: z.number().int().min(0) }),
  /** Whole credits per hour of the provider's answer time, billed by the millisecond (the network's rule). */
  z.strictObject({ per: z.literal('second'), creditsPerHour: z.number().int().min(0) }),
]);

const apiKeySchema = z.union([
  z.strictObject({ env: z.string().regex(ENV_NAME, 'must be an environment variable name (A-Z, 0-9, _)') }),
  z.strictObject({ file: z.string().min(1) }),
]);

const providerTierSchema = z
  .strictObject({
    kind: z.literal('provider'),
    /** `provider:<name>` is what the customer and the receipt see; the concurrency limit is per name. */
    name: z.string().regex(TIER_NAME, 'must be 1-64 of a-z 0-9 . _ -, starting with a letter or digit'),
    /** The OpenAI-compatible API root, e.g. https://api.example.com/v1 (chat/completions and completions are under it). */
    baseUrl: z.string().regex(/^https?:\/\/[^/\s]+(\/\S*)?$/, 'must be an http(s) URL').transform((u) => u.replace(/\/+$/, '')),
    /** The provider's name for the model. */
    model: z.string().min(1).max(256),
    /** Where the orchestrator reads the provider's API key; none for a provider that needs none. */
    apiKey: apiKeySchema.optional(),
    /** What the customer pays when this tier serves. */
    price: priceSchema,
    /** What the provider charges the platform (the ledger's provider cost); the margin is price − cost. */
    cost: priceSchema,
    /** One call to the provider, from request to last token. */
    timeoutMs: z.number().int().min(100).max(3_600_000),
    /** Calls to this provider at once, across every orchestrator; a job past it passes to the next tier. */
    concurrency: z.number().int().min(1).max(100_000),
    /** Tries of this tier (429s and 5xx are retried; other refusals pass the job on at once). */
    maxAttempts: z.number().int().min(1).max(10).default(2),
    retryInitialIntervalMs: z.number().int().min(10).max(60_000).default(500),
  })
  .refine((t) => t.price.per === t.cost.per, { message: 'price and cost must be per the same unit (token or second)', path: ['cost'] })
  .refine((t) => !marginCanBeNegative(t.price, t.cost), { message: 'cost exceeds price: every job on this tier would lose money', path: ['cost'] });

/**
 * A peer pod (docs/cascade.md, federation) as a tier: its gateway's address and keys are the `peers`
 * row of the same name (an operator's, revocable there), the API key one its operator gave this pod.
 */
const podTierSchema = z
  .strictObject({
    kind: z.literal('pod'),
    /** The peer's pod name, as in `peers`; `pod:<name>` is what the customer and the receipt see. */
    name: z.string().regex(TIER_NAME, 'must be the peer’s pod name (1-64 of a-z 0-9 . _ -)'),
    /** The peer's catalog key for the model. */
    model: z.string().min(1).max(256),
    apiKey: apiKeySchema,
    price: priceSchema,
    cost: priceSchema,
    timeoutMs: z.number().int().min(100).max(3_600_000),
    concurrency: z.number().int().min(1).max(100_000),
    maxAttempts: z.number().int().min(1).max(10).default(2),
    retryInitialIntervalMs: z.number().int().min(10).max(60_000).default(500),
  })
  .refine((t) => t.price.per === t.cost.per, { message: 'price and cost must be per the same unit (token or second)', path: ['cost'] })
  .refine((t) => !marginCanBeNegative(t.price, t.cost), { message: 'cost exceeds price: every job on this tier would lose money', path: ['cost'] });

const tierSchema = z.discriminatedUnion('kind', [z.strictObject({ kind: z.literal('network') }), providerTierSchema, podTierSchema]);

/** Front-of-chain share (cascade/share.ts): the first rule whose every given field matches a job decides its share. */
const shareRuleSchema = z.strictObject({
  $comment: z.string().optional(),
  match: z
    .strictObject({
      apiKeyId: z.string().min(1).optional(),
      customerId: z.string().min(1).optional(),
      header: z.strictObject({ name: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be a header name'), value: z.string().min(1).max(256) }).optional(),
    })
    .refine((m) => m.apiKeyId !== undefined || m.customerId !== undefined || m.header !== undefined, 'needs apiKeyId, customerId or header'),
  /** Of this class's jobs, the share in basis points (0..10,000) that go through the network first; the rest go straight up. */
  networkBps: z.number().int().min(0).max(10_000),
});

/** A model key from the catalog, or `kind:<instruct|base|test>` for every model of that kind. */
const MATCH = /^(kind:(instruct|base|test)|[a-z0-9][a-z0-9._-]{0,63})$/;

export const cascadeSchema = z
  .strictObject({
    $comment: z.string().optional(),
    version: z.literal(1),
    models: z.record(
      z.string().regex(MATCH, 'must be a catalog model key or kind:instruct|base|test'),
      z
        .array(tierSchema)
        .min(1)
        .refine((tiers) => tiers.every((t, i) => t.kind !== 'network' || i === 0), 'the network can only be the first tier')
        .refine((tiers) => new Set(tiers.map(tierLabel)).size === tiers.length, 'a tier appears twice'),
    ),
    shares: z.array(shareRuleSchema).optional(),
  })
  .superRefine((c, ctx) => {
    for (const key of Object.keys(c.models)) {
      if (!key.startsWith('kind:') && !findModel(key)) ctx.addIssue({ code: 'custom', path: ['models', key], message: `"${key}" is not a model of the catalog` });
    }
    // The limit is per provider (or pod) name, so one name has one limit wherever it appears.
    const limits = new Map<string, number>();
    for (const [key, tiers] of Object.entries(c.models)) {
      for (const t of tiers) {
        if (t.kind === 'network') continue;
        const label = tierLabel(t);
        const seen = limits.get(label);
        if (seen !== undefined && seen !== t.concurrency) ctx.addIssue({ code: 'custom', path: ['models', key], message: `${t.kind} "${t.name}" has two concurrency limits (${seen} and ${t.concurrency})` });
        limits.set(label, t.concurrency);
      }
    }
  });

export type CascadeConfig = z.infer<typeof cascadeSchema>;
export type CascadeTier = z.infer<typeof tierSchema>;
export type ProviderTier = z.infer<typeof providerTierSchema>;
export type PodTier = z.infer<typeof podTierSchema>;
export type UpstreamTier = ProviderTier | PodTier;

function marginCanBeNegative(price: UpstreamPrice, cost: UpstreamPrice): boolean {
  if (price.per === 'token' && cost.per === 'token') return cost.promptMicrocreditsPer1k > price.promptMicrocreditsPer1k || cost.completionMicrocreditsPer1k > price.completionMicrocreditsPer1k;
  if (price.per === 'second' && cost.per === 'second') return cost.creditsPerHour > price.creditsPerHour;
  return false;
}

/** What the customer sees as `trd_served_by` and the receipt's `served_by`. */
export function tierLabel(t: CascadeTier | { kind: 'provider' | 'pod'; name: string }): string {
  return t.kind === 'network' ? 'network' : t.kind === 'pod' ? podLabel(t.name) : providerLabel(t.name);
}

/** What a job accepted now carries of its model's upstream tiers (cascade/tiers.ts). */
export function upstreamTiersFor(config: CascadeConfig, modelKey: string): UpstreamTierInput[] {
  return tiersFor(config, modelKey)
    .filter((t): t is UpstreamTier => t.kind !== 'network')
    .map((t) => ({
      name: t.name,
      ...(t.kind === 'pod' ? { kind: 'pod' as const } : {}),
      price: t.price,
      cost: t.cost,
      timeoutMs: t.timeoutMs,
      maxAttempts: t.maxAttempts,
      retryInitialIntervalMs: t.retryInitialIntervalMs,
    }));
}

/** Only the network: what every model has without a cascade file. */
export const NETWORK_ONLY: CascadeConfig = { version: 1, models: {} };

/** Checks parsed JSON; the error names the entry and the field. */
export function parseCascade(data: unknown, source = 'cascade'): CascadeConfig {
  const parsed = cascadeSchema.safeParse(data);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new SettingsError(`${source}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
}

/** The cascade of TRD_CASCADE_FILE, or the network alone when it is unset. */
export function cascadeFromEnv(env: Record<string, string | undefined>): CascadeConfig {
  const path = env.TRD_CASCADE_FILE?.trim();
  if (!path) return NETWORK_ONLY;
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SettingsError(`TRD_CASCADE_FILE: cannot read ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (err) {
    throw new SettingsError(`TRD_CASCADE_FILE: ${path} is not JSON: ${(err as Error).message}`);
  }
  return parseCascade(data, path);
}

/** A model's tiers: its own entry, else its kind's, else the network alone. */
export function tiersFor(config: CascadeConfig, modelKey: string): CascadeTier[] {
  const own = config.models[modelKey];
  if (own) return own;
  const kind = findModel(modelKey)?.kind;
  return (kind && config.models[`kind:${kind}`]) || [{ kind: 'network' }];
}

/** The upstream tier `name` (a provider's, or with `kind` 'pod' a peer pod's) of a model's cascade, or null. */
export function upstreamTier(config: CascadeConfig, modelKey: string, name: string, kind: 'provider' | 'pod' = 'provider'): UpstreamTier | null {
  return tiersFor(config, modelKey).find((t): t is UpstreamTier => t.kind === kind && t.name === name) ?? null;
}

/** A provider's (or peer pod's) API key, read when it is needed (a rotated key file takes effect without a restart). */
export function readApiKey(tier: UpstreamTier, env: Record<string, string | undefined> = process.env): string | null {
  if (!tier.apiKey) return null;
  if ('env' in tier.apiKey) {
    const v = env[tier.apiKey.env];
    if (!v) throw new SettingsError(`${tier.kind} ${tier.name}: ${tier.apiKey.env} is not set`);
    return v.trim();
  }
  try {
    return readFileSync(tier.apiKey.file, 'utf8').trim();
  } catch (err) {
    throw new SettingsError(`${tier.kind} ${tier.name}: cannot read its API key file ${tier.apiKey.file}: ${(err as Error).message}`);
  }
}
