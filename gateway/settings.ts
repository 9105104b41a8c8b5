/** Gateway settings from the environment; every time bound is configurable so tests can shorten it. */
import type { JobLimits } from '../platform/workflow-api.js';
import type { AgentReviewSettings } from '../workflows/agent-review.js';
import { dispatchSettings, type DispatchSettings } from '../dispatch/settings.js';
import { envInt, envString, SettingsError } from '../platform/env.js';
import { stripeSettings, type StripeSettings } from '../economy/stripe.js';
import { chainSettings, type ChainSettings } from '../chain/settings.js';
import type { RateLimitSettings } from './rate-limit.js';
import { trustProxyValue } from './public-url.js';
import { cascadeFromEnv, type CascadeConfig } from '../cascade/config.js';
import { federationSettings, type FederationSettings } from '../federation/settings.js';
import type { SmtpSettings } from '../platform/smtp.js';
import { runnerVersionSettings, type RunnerVersionPolicy } from './runner-versions.js';


function publicUrlSetting(raw: string | undefined): string | null {
  const v = raw?.trim();
  if (!v) return null;
  if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(v)) throw new SettingsError(`TRD_PUBLIC_URL must be an http(s) URL such as https://api.example.com, got ${JSON.stringify(v)}`);
  return v.replace(/\/+$/, '');
}

export interface GatewaySettings {
  port: number;
  host: string;
  maxPromptBytes: number;
  maxWaitSeconds: number;
  /** How long accepting a job may wait on Temporal before the customer gets a 503. */
  startTimeoutMs: number;
  jobLimits: JobLimits;
  dispatch: DispatchSettings;
  /** `trd-worker login`: how long a device code lives, and how often the CLI may poll. */
  login: { codeTtlMs: number; pollIntervalMs: number };
  /** How long a fleet invite link stays valid. */
  fleets: { inviteTtlMs: number };
  /** What a job holds against its organization's cap while open (economy/billing.ts reservationMicrocredits). */
  reservation: { msPerToken: number; promptMs: number };
  /** How long a job of a capped or rate-limited organization may wait for its turn at admission (its row lock). */
  admissionWaitMs: number;
  /** The owner dashboard: how long a sign-in lasts, and how often its live view looks for changes. */
  dashboard: { sessionTtlMs: number; pushIntervalMs: number };
  /** The address customers reach the gateway at (every URL it hands out; https makes the session cookie Secure); by default, the request's own scheme and host. */
  publicUrl: string | null;
  /** Express's `trust proxy` (gateway/public-url.ts): which proxies' X-Forwarded-For/-Proto/-Host count; none by default. */
  trustProxy: number | string | false;
  /** Cash payouts start at this many credits. */
  payoutMinimumCredits: number;
  /** Owner onboarding to Stripe Connect, and Stripe's webhooks. */
  stripe: StripeSettings;
  /** The chain of the USDC rail (an owner's address is checked on it); null: Stripe only. */
  chain: ChainSettings | null;
  /** How long a change of an owner's payout rail or address waits before it takes effect. */
  payoutRailDelayMs: number;
  /** Login, sign-in and key endpoints: requests per window, per client IP and per credential (gateway/rate-limit.ts). */
  rateLimits: RateLimitSettings;
  /**
   * Dashboard sign-in by e-mail (a one-time link): the SMTP relay it is sent through (none: e-mail
   * sign-in is off), how long a link lives, and how many links one address and one client IP may ask
   * for per window.
   */
  /** Update notices: the minimum and recommended runner versions, and the command that updates (gateway/runner-versions.ts). */
  runnerVersions: RunnerVersionPolicy;
  emailSignIn: { smtp: SmtpSettings | null; linkTtlMs: number; windowMs: number; perAddress: number; perIp: number };
  /**
   * Behind a balancer: an SSE comment every `streamKeepAliveMs` while a stream waits (0: none), Node's
   * keep-alive and header timeouts (above the balancer's idle timeout), and how long shutdown lets responses finish.
   */
  http: { streamKeepAliveMs: number; keepAliveTimeoutMs: number; headersTimeoutMs: number; drainMs: number; resultGraceMs: number };
  /** Each model's tiers after the network (TRD_CASCADE_FILE, cascade/config.ts): a job carries its model's from acceptance. */
  cascade: CascadeConfig;
  /** This pod's name to its peers and the bounds of its exchanges with them (federation/settings.ts). */
  federation: FederationSettings;
  /** Agent reviews (workflows/agent-review.ts), fixed in each submission's workflow input when it is submitted. */
  agentReview: AgentReviewTimes;
  /** The codec server Temporal's UI calls (gateway/codec-server.ts): the UI origins CORS answers, and its body bound. */
  codec: { allowedOrigins: string[]; maxBodyBytes: number };
}

/**
 * The longest the gateway may hold a response with nothing sent: a `?wait=` (bounded by
 * TRD_MAX_WAIT_SECONDS), a plain OpenAI completion (until its job ends: the deadline plus
 * TRD_RESULT_GRACE_MS to settle), an SSE stream between keep-alive comments. A balancer in
 * front must allow at least this much silence (devstack/load-balancer.ts derives its timeout
 * from it), or it cuts a response the gateway still means to send, and the hang-up of a plain
 * completion cancels its job.
 */
export function longestSilenceMs(s: Pick<GatewaySettings, 'maxWaitSeconds' | 'jobLimits' | 'http'>): number {
  const untilJobEnds = s.jobLimits.deadlineMs + s.http.resultGraceMs;
  return Math.max(s.maxWaitSeconds * 1000, untilJobEnds, s.http.streamKeepAliveMs > 0 ? s.http.streamKeepAliveMs : untilJobEnds);
}

export type AgentReviewTimes = Omit<AgentReviewSettings, 'dryRunLimits' | 'reservation'>;

export function gatewaySettings(env: Record<string, string | undefined>): GatewaySettings {
  return {
    port: envInt(env, 'TRD_GATEWAY_PORT'),
    host: envString(env, 'TRD_GATEWAY_HOST'),
    maxPromptBytes: envInt(env, 'TRD_MAX_PROMPT_BYTES'),
    maxWaitSeconds: envInt(env, 'TRD_MAX_WAIT_SECONDS'),
    startTimeoutMs: envInt(env, 'TRD_WORKFLOW_START_TIMEOUT_MS'),
    jobLimits: {
      heartbeatTimeoutMs: envInt(env, 'TRD_HEARTBEAT_TIMEOUT_MS'),
      deadlineMs: envInt(env, 'TRD_JOB_DEADLINE_MS'),
      maxAttempts: envInt(env, 'TRD_INFERENCE_MAX_ATTEMPTS'),
      retryInitialIntervalMs: envInt(env, 'TRD_RETRY_INITIAL_INTERVAL_MS'),
      // A free warm runner takes a job within milliseconds; a busy one is not worth waiting a second for.
      warmWaitMs: envInt(env, 'TRD_WARM_WAIT_MS'),
      // Each look costs a workflow task and a describe; in a burst of queued jobs, looks every 5 s cost 12% of jobs/s.
      progressCheckMs: envInt(env, 'TRD_PROGRESS_CHECK_MS'),
      longJobGraceMs: envInt(env, 'TRD_LONG_JOB_GRACE_MS'),
    },
    dispatch: dispatchSettings(env),
    // A runner slower than 10 tokens/s could charge more than was held; the cap then overshoots by that much.
    reservation: {
      msPerToken: envInt(env, 'TRD_RESERVE_MS_PER_TOKEN'),
      promptMs: envInt(env, 'TRD_RESERVE_PROMPT_MS'),
    },
    admissionWaitMs: envInt(env, 'TRD_ADMISSION_WAIT_MS'),
    dashboard: {
      sessionTtlMs: envInt(env, 'TRD_DASHBOARD_SESSION_TTL_MS'),
      pushIntervalMs: envInt(env, 'TRD_DASHBOARD_PUSH_MS'),
    },
    publicUrl: publicUrlSetting(env.TRD_PUBLIC_URL),
    trustProxy: trustProxyValue(env.TRD_TRUST_PROXY),
    stripe: stripeSettings(env),
    chain: chainSettings(env),
    payoutRailDelayMs: envInt(env, 'TRD_PAYOUT_RAIL_DELAY_MS'),
    payoutMinimumCredits: envInt(env, 'TRD_PAYOUT_MINIMUM_CREDITS'),
    rateLimits: {
      windowMs: envInt(env, 'TRD_AUTH_RATE_WINDOW_MS'),
      perIp: envInt(env, 'TRD_AUTH_RATE_PER_IP'),
      perCredential: envInt(env, 'TRD_AUTH_RATE_PER_CREDENTIAL'),
    },
    http: httpSettings(env),
    cascade: cascadeFromEnv(env),
    federation: federationSettings(env),
    emailSignIn: emailSignInSettings(env),
    runnerVersions: runnerVersionSettings(env),
    agentReview: {
      slaMs: envInt(env, 'TRD_AGENT_REVIEW_SLA_MS'),
      remindersBeforeEscalation: envInt(env, 'TRD_AGENT_REVIEW_REMINDERS_BEFORE_ESCALATION'),
      resubmitWaitMs: envInt(env, 'TRD_AGENT_RESUBMIT_WAIT_MS'),
      dryRunMaxTokens: envInt(env, 'TRD_AGENT_DRY_RUN_MAX_TOKENS'),
    },
    fleets: { inviteTtlMs: envInt(env, 'TRD_FLEET_INVITE_TTL_MS') },
    login: {
      codeTtlMs: envInt(env, 'TRD_DEVICE_CODE_TTL_MS'),
      pollIntervalMs: envInt(env, 'TRD_DEVICE_POLL_INTERVAL_MS'),
    },
    codec: {
      allowedOrigins: codecOrigins(env.TRD_CODEC_ALLOWED_ORIGINS),
      // Temporal's default blob limit is 2 MB a payload, and base64 adds a third.
      maxBodyBytes: envInt(env, 'TRD_CODEC_MAX_BODY_BYTES'),
    },
  };
}

/** TRD_CODEC_ALLOWED_ORIGINS: the Temporal UI origins (scheme://host[:port], comma-separated) whose pages may call the codec server. */
export function codecOrigins(raw: string | undefined): string[] {
  const origins = (raw ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  for (const o of origins) {
    let origin = '';
    try {
      origin = new URL(o).origin;
    } catch {
      // reported below
    }
    if (origin !== o || !/^https?:/.test(o)) {
      throw new SettingsError(`TRD_CODEC_ALLOWED_ORIGINS: ${JSON.stringify(o)} is not an origin such as http://127.0.0.1:8233 (scheme, host, optional port; no path, no trailing slash)`);
    }
  }
  return origins;
}

function emailSignInSettings(env: Record<string, string | undefined>): GatewaySettings['emailSignIn'] {
  const host = env.TRD_SMTP_HOST?.trim();
  const from = env.TRD_SMTP_FROM?.trim();
  if (host && !from) throw new SettingsError('TRD_SMTP_FROM must be set with TRD_SMTP_HOST: the address sign-in mail comes from, e.g. sign-in@example.com');
  if (from && !/^[^\s@<>]+@[^\s@<>]+$/.test(from)) throw new SettingsError(`TRD_SMTP_FROM must be a plain address such as sign-in@example.com, got ${JSON.stringify(from)}`);
  return {
    smtp: host ? { host, port: envInt(env, 'TRD_SMTP_PORT'), from: from!, timeoutMs: envInt(env, 'TRD_SMTP_TIMEOUT_MS') } : null,
    linkTtlMs: envInt(env, 'TRD_EMAIL_LINK_TTL_MS'),
    windowMs: envInt(env, 'TRD_EMAIL_RATE_WINDOW_MS'),
    perAddress: envInt(env, 'TRD_EMAIL_RATE_PER_ADDRESS'),
    perIp: envInt(env, 'TRD_EMAIL_RATE_PER_IP'),
  };
}

function httpSettings(env: Record<string, string | undefined>): GatewaySettings['http'] {
  const keepAliveTimeoutMs = envInt(env, 'TRD_HTTP_KEEPALIVE_TIMEOUT_MS');
  // Node requires headersTimeout above keepAliveTimeout: by default 1 s above it.
  const headersTimeoutMs = envInt(env, 'TRD_HTTP_HEADERS_TIMEOUT_MS', keepAliveTimeoutMs + 1000);
  if (headersTimeoutMs <= keepAliveTimeoutMs) throw new SettingsError(`TRD_HTTP_HEADERS_TIMEOUT_MS must be between ${keepAliveTimeoutMs + 1} and ${Number.MAX_SAFE_INTEGER}, got ${headersTimeoutMs}`);
  return {
    streamKeepAliveMs: envInt(env, 'TRD_STREAM_KEEPALIVE_MS'),
    keepAliveTimeoutMs,
    headersTimeoutMs,
    drainMs: envInt(env, 'TRD_SHUTDOWN_DRAIN_MS'),
    // A job at its deadline still records its failure (a workflow task or two); a plain completion waits for that answer.
    resultGraceMs: envInt(env, 'TRD_RESULT_GRACE_MS'),
  };
}
