/** Request schemas: one per request type, the single source of validation. */
import { z } from 'zod';
import { JOB_ID_PATTERN, MAX_SEED, OWNER_SETTING_FIELDS, ProofKeyError, RunnerHeartbeatSchema, RunnerVersionSchema, TRUST_TIERS, bytesToBase64, findModel, parseProofPublicKey } from '@trd/protocol';

const TrustTier = z.enum(TRUST_TIERS);
/** TRD: `auto` (the default) tries the network first, then the model's upstream tiers; `upstream` sends the job straight to them. */
const Route = z.enum(['auto', 'upstream']).default('auto');
/** llama.cpp's 32-bit seed, less its "random" value (protocol/src/inference.ts). */
/**
 * TRD: proof of work (docs/proof-of-work.md). The job's prompt and output are sealed to this X25519 public key
 * (32 bytes in base64, or a PEM PUBLIC KEY), pinned, and named by CID in the receipt (`proof_cid`). Only the
 * holder of the private key can open it; the platform keeps no key that does.
 */
export const Proof = z
  .object({
    public_key: z
      .string()
      .max(1000)
      .transform((text, ctx) => {
        try {
          return bytesToBase64(parseProofPublicKey(text));
        } catch (err) {
          if (!(err instanceof ProofKeyError)) throw err;
          ctx.addIssue({ code: 'custom', message: err.message });
          return z.NEVER;
        }
      })
      .describe('X25519 public key: 32 bytes in base64, or a PEM PUBLIC KEY (openssl genpkey -algorithm X25519; openssl pkey -pubout)'),
  })
  .strict()
  .describe(
    'TRD proof of work: the prompt and output are sealed to this key (X25519 + HKDF-SHA-256 + AES-256-GCM), pinned, and named in the receipt (proof_cid, proof_v); GET /ipfs/{proof_cid} serves the blob, which only the private key opens (docs/proof-of-work.md)',
  )
  .optional();
export const Seed = z.number().int().min(0).max(MAX_SEED, `must be at most ${MAX_SEED} (llama.cpp's 32-bit seed; ${MAX_SEED + 1} means a random one there)`);

export const CreateJobBody = z
  .object({
    model: z.string().min(1).max(64),
    prompt: z.string().min(1, 'must not be empty'),
    max_tokens: z.number().int().min(1),
    /** 0 (the default) is greedy decoding: the same prompt gives the same output. */
    temperature: z.number().min(0).max(2).default(0),
    seed: Seed.optional(),
    /** Only runners of this trust tier or above may run the job. */
    min_tier: TrustTier.default('probation'),
    /** The session whose receipt chain the job's receipt joins (checked in accept-job.ts). */
    session_id: z.string().min(1).max(128).optional(),
    trd_route: Route,
    trd_proof: Proof,
  })
  .strict();
export type CreateJobBody = z.infer<typeof CreateJobBody>;

export const JobIdParam = z.string().regex(JOB_ID_PATTERN, 'is not a job id');

export const WaitQuery = z.object({
  wait: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number of seconds')
    .transform(Number)
    .optional(),
});

export const EligibleQuery = z.object({
  model: z.string({ error: 'is required (?model=<catalog key>)' }).min(1),
  min_tier: TrustTier.default('probation'),
});

/** The runner's heartbeat: the contract's schema (protocol/runner-contract.ts), which the runner sends by. */
export const RunnerHeartbeatBody = RunnerHeartbeatSchema;

/**
 * The machine asking to log in, as the CLI describes it: shown to the owner on the approval page, so
 * printable text of bounded length only (nothing it says is trusted beyond that).
 */
export const DeviceMachine = z
  .object({
    hostname: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/, 'a host name: letters, digits, ".", "_", "-"; up to 253'),
    gpu: z.string().min(1).max(120).regex(/^[\x20-\x7E]+$/, 'printable ASCII, up to 120 characters'),
    runner_version: RunnerVersionSchema,
  })
  .strict();
export const DeviceCodeBody = z.object({ email: z.email().max(254).optional(), machine: DeviceMachine.optional() }).strict();
export const UserCodeParam = z.string().regex(/^[A-Za-z0-9]{4}-[A-Za-z0-9]{4}$/, 'looks like ABCD-EFGH');
export const ApproveDeviceCodeBody = z.object({ user_code: UserCodeParam }).strict();
export const DeviceTokenBody = z.object({ device_code: z.string().min(20).max(100) }).strict();

const Spread = z.object({ median: z.number().int().min(0), min: z.number().int().min(0), max: z.number().int().min(0) }).strict();

export const RunnerBenchBody = z
  .object({
    model: z.string().min(1).max(64),
    hardware_class: z.string().min(1).max(64),
    runs: z.number().int().min(1).max(1000),
    prompt_tokens_per_second: Spread,
    generation_tokens_per_second: Spread,
  })
  .strict();

/**
 * The owner's runner settings as a request sets them: the contract's rules
 * (protocol/runner-contract.ts: HH:MM windows, IANA time zones, bounds), a
 * default for each field left out, and models the catalog has, so a runner
 * never receives settings it cannot apply.
 */
export const RunnerSettingsBody = z
  .object({
    paused: OWNER_SETTING_FIELDS.paused.default(false),
    pause_on_battery: OWNER_SETTING_FIELDS.pause_on_battery.default(false),
    schedule: OWNER_SETTING_FIELDS.schedule.default(null),
    models: z
      .array(z.string().refine((key) => findModel(key) !== undefined, 'is not a catalog model (GET /v1/models lists them)'))
      .max(64)
      .nullable()
      .default(null),
    max_concurrent_jobs: OWNER_SETTING_FIELDS.max_concurrent_jobs.default(null),
  })
  .strict();

/** A partial change to the settings: any of their fields, each checked when merged (unknown fields refused here). */
export const RunnerSettingsPatch = z
  .object(Object.fromEntries(Object.keys(RunnerSettingsBody.shape).map((k) => [k, z.unknown()])) as Record<keyof typeof RunnerSettingsBody.shape, z.ZodUnknown>)
  .partial()
  .strict();

// OpenAI-compatible requests. Fields OpenAI clients commonly send with their
// neutral values are accepted; a field this network cannot honor is refused by
// name rather than silently ignored.
const Stop = z.union([z.string().min(1), z.array(z.string().min(1)).max(4)]).nullable().optional();
const openAiSampling = {
  model: z.string().min(1).max(64),
  max_tokens: z.number().int().min(1).nullable().optional(),
  /** OpenAI's default temperature is 1; 0 is greedy (the same output every time). */
  temperature: z.number().min(0).max(2).nullable().optional().transform((t) => t ?? 1),
  top_p: z.number().gt(0).max(1).nullable().optional().transform((p) => p ?? undefined),
  seed: Seed.nullable().optional().transform((s) => s ?? undefined),
  stop: Stop,
  stream: z.boolean().nullable().optional().transform((s) => s === true),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
  n: z.literal(1, 'only n=1 is supported').nullable().optional(),
  presence_penalty: z.literal(0, 'is not supported (only 0)').nullable().optional(),
  frequency_penalty: z.literal(0, 'is not supported (only 0)').nullable().optional(),
  user: z.string().max(256).optional(),
  /** TRD: only runners of this trust tier or above may run the job. */
  min_tier: TrustTier.default('probation'),
  trd_route: Route,
  trd_proof: Proof,
};

const MessageContent = z.union([
  z.string(),
  z.array(z.object({ type: z.literal('text', 'only text content parts are supported'), text: z.string() }).strict()).min(1),
]);

export const ChatCompletionBody = z
  .object({
    ...openAiSampling,
    max_completion_tokens: z.number().int().min(1).nullable().optional(),
    messages: z
      .array(z.object({ role: z.enum(['system', 'developer', 'user', 'assistant']), content: MessageContent, name: z.string().optional() }).strict())
      .min(1, 'must hold at least one message'),
  })
  .strict();

export const CompletionBody = z
  .object({
    ...openAiSampling,
    prompt: z.union([z.string().min(1, 'must not be empty'), z.array(z.string().min(1)).length(1, 'one prompt per request')]),
    echo: z.literal(false, 'is not supported').optional(),
  })
  .strict();

// The organization behind an API key: its cap, members and keys.
export const OrgPatchBody = z
  .object({
    name: z.string().min(1).max(200).optional(),
    /** Whole credits a month (1,000 credits = 8 USD); null removes the cap. */
    monthly_cap_credits: z.number().int().min(0).max(1e9).nullable().optional(),
  })
  .strict();

export const OrgMemberBody = z.object({ email: z.email().max(254), role: z.enum(['owner', 'member']).default('member') }).strict();

export const CreateApiKeyBody = z
  .object({ name: z.string().min(1).max(200), rate_limit_per_minute: z.number().int().min(1).max(100_000).nullable().default(null) })
  .strict();

export const ApiKeyPatchBody = z.object({ rate_limit_per_minute: z.number().int().min(1).max(100_000).nullable() }).strict();

/** Dashboard sign-in: the account's API key, exchanged for a session cookie. */
export const SignInBody = z.object({ api_key: z.string().min(1).max(200) }).strict();
/** Where the dashboard goes after signing in: one of its own pages, never another site. */
export const DASHBOARD_NEXT_PATTERN = /^\/dashboard\/[A-Za-z0-9_./?=&%-]{0,200}$/;
export const EmailLinkBody = z
  .object({ email: z.email().max(254), next: z.string().regex(DASHBOARD_NEXT_PATTERN, 'a dashboard path such as /dashboard/device?code=ABCD-EFGH').refine((p) => !p.includes('..'), 'no ".." in the path').optional() })
  .strict();
export const EmailSignInBody = z.object({ token: z.string().min(20).max(100) }).strict();

/** Whole credits, into build credits (at once) or the cash payout queue (a minimum applies; economy/rates.ts). */
export const RedemptionBody = z
  .object({
    credits: z.number().int('must be a whole number of credits').min(1).max(1_000_000_000),
    to: z.enum(['build_credits', 'cash']),
  })
  .strict();

/** Cash payouts start at the gateway's minimum; build credits at 1. */
export function redemptionBody(payoutMinimumCredits: number) {
  return z.union([
    RedemptionBody.extend({ to: z.literal('cash'), credits: RedemptionBody.shape.credits.min(payoutMinimumCredits) }),
    RedemptionBody.extend({ to: z.literal('build_credits') }),
  ]);
}

/** The texts a CID parser reads: CIDv0 (`Qm…`, base58btc) or CIDv1 in base32 (`b…`), base58btc (`z…`) or base36 (`k…`). */
const CID_TEXT = /^(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]+|z[1-9A-HJ-NP-Za-km-z]+|k[0-9a-z]+)$/;

export const CidParams = z.object({ cid: z.string().regex(CID_TEXT, 'not a CID: CIDv0 (Qm…) or CIDv1 in base32 (b…), base58btc (z…) or base36 (k…)') });

export const IpfsQuery = z.object({ format: z.literal('raw').optional() });

export const LedgerQuery = z.object({
  limit: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(200))
    .default(50),
  /** The `next_cursor` of the page before. */
  cursor: z.string().regex(/^\d{1,19}$/, 'is not a cursor from an earlier page').optional(),
});

// The developer marketplace (gateway/marketplace.ts): the manifest itself is checked by protocol/agent.ts, every problem at once.
export const SubmissionBody = z.object({ manifest: z.unknown().describe('an agent manifest (protocol/agent.ts AgentManifestSchema)') }).strict();

export const ReviewDecisionBody = z
  .object({
    /** The version the reviewer looked at; a decision on another is refused. */
    version: z.string().min(1).max(40),
    action: z.enum(['approve', 'reject', 'request_changes']),
    reasons: z.string().trim().max(4000).optional(),
  })
  .strict()
  .refine((d) => d.action === 'approve' || !!d.reasons, { message: 'reasons: tell the author why (required to reject or request changes)', path: ['reasons'] });

/** An owner's payout rail: Stripe Connect, or a USDC address (EIP-55 checksummed) on the platform's chain. */
export const PayoutRailBody = z.discriminatedUnion('rail', [
  z.object({ rail: z.literal('stripe') }).strict(),
  z.object({ rail: z.literal('usdc'), usdc_address: z.string().min(1).max(100) }).strict(),
]);

/** A Payload in proto3 JSON, as Temporal's codec server protocol sends it: every bytes value base64. */
const Base64 = z.string().max(8 * 1024 * 1024).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64');
const CodecPayloadSchema = z.object({ metadata: z.record(z.string(), Base64).nullish(), data: Base64.nullish() }).passthrough();
export type CodecPayload = z.infer<typeof CodecPayloadSchema>;
/** The body of the codec server's /decode (gateway/codec-server.ts), and its answer's shape. */
export const CodecBody = z.object({ payloads: z.array(CodecPayloadSchema).max(10_000) });
