/** Request schemas: one per request type, the single source of validation. */
import { z } from 'zod';
import { JOB_ID_PATTERN, TRUST_TIERS } from '@trd/protocol';

const TrustTier = z.enum(TRUST_TIERS);

export const CreateJobBody = z
  .object({
    model: z.string().min(1).max(64),
    prompt: z.string().min(1, 'must not be empty'),
    max_tokens: z.number().int().min(1),
    /** 0 (the default) is greedy decoding: the same prompt gives the same output. */
    temperature: z.number().min(0).max(2).default(0),
    seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
    /** Only runners of this trust tier or above may run the job. */
    min_tier: TrustTier.default('probation'),
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

const ModelKeys = z.array(z.string().min(1).max(64)).max(64);

export const RunnerHeartbeatBody = z
  .object({
    state: z.enum(['starting', 'idle', 'busy', 'loading', 'stopping']),
    loaded_models: ModelKeys,
    disk_models: ModelKeys,
    running_jobs: z.number().int().min(0).max(1024),
    slots: z.number().int().min(1).max(1024),
    free_vram_mib: z.number().int().min(0).nullable().default(null),
  })
  .strict();

export const DeviceCodeBody = z.object({ email: z.email().max(254).optional() }).strict();
export const ApproveDeviceCodeBody = z.object({ user_code: z.string().regex(/^[A-Za-z0-9]{4}-[A-Za-z0-9]{4}$/, 'looks like ABCD-EFGH') }).strict();
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
