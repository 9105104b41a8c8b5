/**
 * The runner <-> platform contract, written once: what a runner says in its
 * heartbeat, what the gateway answers, the owner's settings and their rules
 * (HH:MM windows, IANA time zones), and the runner states. The gateway
 * validates requests with these schemas (and documents them in
 * /openapi.json from them); the runner checks the gateway's answer with them
 * before acting on it. The signed model catalog is catalog-document.ts.
 */
import { z } from 'zod';
import { JOB_ID_PATTERN } from './ids.js';
import { TRUST_TIERS, WORKER_ID_PATTERN } from './queues.js';

/** What a runner is doing, as its heartbeat says. */
export const RUNNER_STATES = ['starting', 'idle', 'busy', 'loading', 'stopping', 'paused'] as const;
export type RunnerState = (typeof RUNNER_STATES)[number];

const ModelKeys = z.array(z.string().min(1).max(64)).max(64);

/** A trd-worker version (semantic, as the gateway's update notices compare it). */
export const RunnerVersionSchema = z.string().max(32).regex(/^\d{1,4}\.\d{1,4}\.\d{1,4}(?:-[0-9A-Za-z.]{1,20})?$/, 'a version like 1.2.3 or 1.2.3-beta.1');

export const RunnerHeartbeatSchema = z
  .object({
    state: z.enum(RUNNER_STATES),
    loaded_models: ModelKeys,
    disk_models: ModelKeys,
    running_jobs: z.number().int().min(0).max(1024),
    /** The jobs it works on now. */
    current_jobs: z.array(z.string().regex(JOB_ID_PATTERN, 'must be job ids')).max(1024).default([]),
    slots: z.number().int().min(1).max(1024),
    free_vram_mib: z.number().int().min(0).nullable().default(null),
    /** Why a paused runner takes no jobs (paused by the owner, on battery, outside the schedule), in the owner's words on the dashboard. */
    state_reason: z.string().max(200).nullable().default(null),
    /** Its trd-worker version: the platform's update notices compare it; runners older than update notices send none. */
    runner_version: RunnerVersionSchema.optional(),
  })
  .strict();
/** A heartbeat as the runner sends it (every field present). */
export type RunnerHeartbeat = z.output<typeof RunnerHeartbeatSchema>;

const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h)');

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** One daily window; it crosses midnight when it ends earlier than it starts. */
export const ScheduleWindowSchema = z
  .object({ days: z.array(z.number().int().min(0).max(6)).min(1).max(7).optional(), start: HHMM, end: HHMM })
  .strict()
  .refine((w) => w.start !== w.end, 'start and end must differ (a window past midnight ends earlier than it starts)');

export const OwnerScheduleSchema = z
  .object({
    timezone: z.string().refine(isTimeZone, 'is not an IANA time zone (e.g. Europe/Berlin)'),
    windows: z.array(ScheduleWindowSchema).min(1).max(28),
  })
  .strict();

/** Each owner setting's rule, shared by the stored document and the request that changes it. */
export const OWNER_SETTING_FIELDS = {
  paused: z.boolean(),
  pause_on_battery: z.boolean(),
  schedule: OwnerScheduleSchema.nullable(),
  /** Catalog keys this runner may serve; null serves all it has. */
  models: z.array(z.string()).max(64).nullable(),
  /** At most this many jobs at once on this runner; null leaves it to the hardware class. */
  max_concurrent_jobs: z.number().int().min(1).max(64).nullable(),
};

/** The owner's settings as the gateway stores and sends them: every field present (fields a newer gateway adds are ignored). */
export const OwnerSettingsSchema = z.object(OWNER_SETTING_FIELDS);
export type OwnerSettings = z.output<typeof OwnerSettingsSchema>;

/** Longest heartbeat interval a gateway may ask for: a runner that goes quiet for longer is taken for dead anyway. */
export const MAX_HEARTBEAT_INTERVAL_MS = 3_600_000;

/** Shown in the runner's log and `status`: bounded, one line. */
const NoticeLine = z.string().transform((t) => t.replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 500));

/** The platform's update notice: recommended, or required (below the minimum the runner gets no new jobs). */
export const UpdateNoticeSchema = z.object({
  level: z.enum(['required', 'recommended']),
  /** The runner's version as the gateway read it, and the versions the platform publishes. */
  current: RunnerVersionSchema.nullable().optional(),
  minimum: RunnerVersionSchema.nullable().optional(),
  recommended: RunnerVersionSchema.nullable().optional(),
  command: NoticeLine,
  message: NoticeLine,
});
export type UpdateNotice = z.output<typeof UpdateNoticeSchema>;

export const HeartbeatAnswerSchema = z.object({
  runner_id: z.string().regex(WORKER_ID_PATTERN, 'is not a runner id'),
  tier: z.enum(TRUST_TIERS),
  heartbeat_interval_ms: z.number().int().min(1).max(MAX_HEARTBEAT_INTERVAL_MS),
  /** The owner's settings, applied at once. */
  settings: OwnerSettingsSchema,
  /** Why the platform gives this runner no new jobs (its reputation fell too low); null when it does. */
  shadowbanned: z.string().nullable().default(null),
  /** The update notice; null when the runner is up to date. */
  update: UpdateNoticeSchema.nullable().default(null),
  /** Under a fleet: why it takes no new jobs (its member's daily earning cap) or may not run (over the member's runner limit). */
  fleet: z.object({ id: z.string().max(64), hold: NoticeLine.nullable(), refused: NoticeLine.nullable() }).nullable().default(null),
});
export type HeartbeatAnswer = z.output<typeof HeartbeatAnswerSchema>;

/** The first problem zod found, as `path: message` (`what` names the document). */
export function contractProblem(error: z.ZodError, what: string): string {
  const issue = error.issues[0];
  const at = issue.path.length ? issue.path.join('.') : '(top level)';
  return `${what}: ${at}: ${issue.message}`;
}
