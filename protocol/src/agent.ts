/**
 * An agent: a versioned manifest naming a catalog model, a system prompt and
 * sampling parameters, published by its author after a review and callable
 * as `model: "agent:<slug>"`. One schema validates every manifest (the
 * gateway on submission, the review workflow's automatic check); its errors
 * name the field at fault. A manifest's hash is over its RFC 8785 canonical
 * JSON, so anyone can recompute the hash a receipt names.
 */
import { z } from 'zod';
import { canonicalize } from './canonical-json.js';
import { sha256Hex } from './encoding.js';
import { AGENT_SLUG_PATTERN } from './ids.js';
import type { ChatMessage } from './inference.js';
import { findModel } from './models.js';

/** What a request names to run an agent instead of a catalog model. */
export const AGENT_MODEL_PREFIX = 'agent:';
/** Semantic versioning's core form: each submitted version of an agent is reviewed on its own. */
const SEMVER = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/;
/** An account id (gateway/api-keys.ts createCustomer). */
const ACCOUNT_ID = /^cus_[0-9a-f]{32}$/;

const inputSchemaSchema = z
  .record(z.string(), z.unknown())
  .refine((s) => s.type === 'object', 'must be a JSON Schema with "type": "object"')
  .refine((s) => s.properties === undefined || (typeof s.properties === 'object' && s.properties !== null && !Array.isArray(s.properties)), '"properties" must be an object')
  .refine((s) => new TextEncoder().encode(JSON.stringify(s)).length <= 16 * 1024, 'must be at most 16 KiB of JSON');

export const AgentManifestSchema = z
  .strictObject({
    slug: z.string().regex(AGENT_SLUG_PATTERN, 'must be 2-48 of a-z 0-9 and "-", starting with a letter or digit'),
    version: z.string().regex(SEMVER, 'must be a version such as 1.0.0'),
    name: z.string().trim().min(1, 'must not be empty').max(80, 'must be at most 80 characters'),
    description: z.string().trim().min(1, 'must not be empty').max(2000, 'must be at most 2000 characters'),
    author: z.string().trim().min(1, 'must not be empty').max(80, 'must be at most 80 characters'),
    model: z.string().min(1, 'must be a catalog model key (GET /v1/models)'),
    system_prompt: z.string().min(1, 'must not be empty').max(8000, 'must be at most 8000 characters'),
    parameters: z.strictObject({
      temperature: z.number().min(0, 'must be at least 0').max(2, 'must be at most 2'),
      max_tokens: z.number().int('must be an integer').min(1, 'must be at least 1'),
      stop: z.array(z.string().min(1, 'must not be empty')).max(4, 'at most 4 stop strings').default([]),
    }),
    input_schema: inputSchemaSchema.optional(),
    /** The account credited with the author's share of each run (ledger account author:<id>). */
    payout_account: z.string().regex(ACCOUNT_ID, 'must be an account id (cus_ and 32 hex digits; GET /v1/org shows yours)'),
  })
  .superRefine((m, ctx) => {
    const model = findModel(m.model);
    if (!model || model.retired) {
      ctx.addIssue({ code: 'custom', path: ['model'], message: `"${m.model}" is not a model the catalog serves (GET /v1/models lists them)` });
    } else if (m.parameters.max_tokens > model.maxOutputTokens) {
      ctx.addIssue({ code: 'custom', path: ['parameters', 'max_tokens'], message: `must be at most ${model.maxOutputTokens} for ${model.key}` });
    }
  });

export type AgentManifest = z.output<typeof AgentManifestSchema>;

export type ManifestCheck = { ok: true; manifest: AgentManifest } | { ok: false; errors: string[] };

/** Every problem of a manifest, each as "field.path: message", or the parsed manifest (defaults filled in). */
export function checkManifest(value: unknown): ManifestCheck {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, errors: ['manifest: must be a JSON object'] };
  const parsed = AgentManifestSchema.safeParse(value);
  if (parsed.success) return { ok: true, manifest: parsed.data };
  return { ok: false, errors: parsed.error.issues.map((i) => `${['manifest', ...i.path].join('.')}: ${i.message}`) };
}

/** SHA-256 (hex) of the manifest's canonical JSON: the hash receipts name. */
export function manifestSha256(manifest: AgentManifest): Promise<string> {
  return sha256Hex(canonicalize(manifest));
}

/** The slug a request's `model` names as an agent, or null for a catalog model. */
export function agentSlugOf(model: string): string | null {
  return model.startsWith(AGENT_MODEL_PREFIX) ? model.slice(AGENT_MODEL_PREFIX.length) : null;
}

/** Workflow id of a submission's review: one workflow per submission. */
export function agentReviewWorkflowId(submissionId: string): string {
  return `agent-review-${submissionId}`;
}

/** The conversation a run of the agent sends its model: the agent's system prompt, then the caller's messages. */
export function agentChatPrompt(manifest: Pick<AgentManifest, 'system_prompt'>, messages: ChatMessage[]): ChatMessage[] {
  return [{ role: 'system', content: manifest.system_prompt }, ...messages];
}

export interface ManifestChange {
  /** The field, as a path: `system_prompt`, `parameters.temperature`. */
  field: string;
  published: unknown;
  submitted: unknown;
}

/** What a submitted version changes against the published one, field by field (every field when nothing is published). */
export function manifestDiff(published: AgentManifest | null, submitted: AgentManifest): ManifestChange[] {
  const flat = (m: AgentManifest | null): Map<string, unknown> => {
    const out = new Map<string, unknown>();
    if (!m) return out;
    for (const [k, v] of Object.entries(m)) {
      if (k === 'parameters') for (const [p, pv] of Object.entries(v as object)) out.set(`parameters.${p}`, pv);
      else out.set(k, v);
    }
    return out;
  };
  const a = flat(published);
  const b = flat(submitted);
  const fields = [...new Set([...a.keys(), ...b.keys()])];
  return fields
    .filter((f) => canonicalize(a.get(f) ?? null) !== canonicalize(b.get(f) ?? null))
    .map((f) => ({ field: f, published: a.has(f) ? a.get(f) : null, submitted: b.has(f) ? b.get(f) : null }));
}
