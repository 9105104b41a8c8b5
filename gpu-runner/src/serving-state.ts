/**
 * What the platform last said about this runner (its id, tier, the owner's settings, a shadowban,
 * an update notice) and what follows from it: whether it takes new jobs, and how many at once.
 */
import { TRUST_TIERS, type TrustTier } from '@trd/protocol';
import type { HeartbeatAnswer, UpdateNotice } from './gateway-client.js';
import type { JobSlots } from './job-slots.js';
import { DEFAULT_OWNER_SETTINGS, OUTSIDE_SCHEDULE, onBattery, ownerClock, servingDecision, type OwnerSettings } from './owner-settings.js';

export class ServingState {
  tier: TrustTier = TRUST_TIERS[0];
  heartbeatEveryMs = 30_000;
  settings: OwnerSettings = DEFAULT_OWNER_SETTINGS;
  /** The platform's update notice; a required one means no new jobs (the runner endpoint would refuse its polls). */
  update: UpdateNotice | null = null;
  shadowbanned: string | null = null;
  /** Its fleet's word: the member's daily cap reached (no new jobs until the fleet's midnight) or over the runner limit. */
  fleetBlock: string | null = null;
  /** Why it takes no new jobs now; null: it takes them. */
  pausedFor: string | null = null;

  constructor(
    public workerId: string,
    private readonly concurrency: number,
    private readonly jobSlots: JobSlots,
    private readonly log: (line: string) => void,
  ) {}

  /** The first answer, at start: the gateway names the runner. */
  greet(answer: HeartbeatAnswer): void {
    ({ runner_id: this.workerId, tier: this.tier, heartbeat_interval_ms: this.heartbeatEveryMs, settings: this.settings } = answer);
    this.update = answer.update ?? null;
    if (this.update) this.log(`${this.update.level === 'required' ? 'UPDATE REQUIRED' : 'update available'}: ${this.update.message}`);
  }

  /** A later answer; each change is logged once, as the owner should read it in the daemon's log. */
  take(answer: HeartbeatAnswer): void {
    this.heartbeatEveryMs = answer.heartbeat_interval_ms;
    if (answer.tier !== this.tier) this.log(`trust tier is now ${answer.tier} (was ${this.tier})`);
    this.tier = answer.tier;
    this.settings = answer.settings;
    this.shadowbanned = answer.shadowbanned ?? null;
    this.fleetBlock = answer.fleet?.refused ?? answer.fleet?.hold ?? null;
    if ((answer.update?.message ?? null) !== (this.update?.message ?? null)) {
      if (answer.update) this.log(`${answer.update.level === 'required' ? 'UPDATE REQUIRED' : 'update available'}: ${answer.update.message}`);
      else if (this.update) this.log('this trd-worker is up to date again');
    }
    this.update = answer.update ?? null;
  }

  /** Takes no new work while the owner's settings say so (paused, on battery, outside the schedule), or the platform's shadowban or required update. */
  apply(): void {
    const decision = this.shadowbanned
      ? { serve: false as const, reason: `shadowbanned by the platform: ${this.shadowbanned}` }
      : this.fleetBlock
        ? { serve: false as const, reason: `fleet: ${this.fleetBlock}` }
        : this.update?.level === 'required'
          ? { serve: false as const, reason: `update required: ${this.update.message}` }
          : servingDecision(this.settings, ownerClock(), onBattery());
    const reason = decision.serve ? null : decision.reason;
    if (reason !== this.pausedFor) this.log(reason ? `not taking new jobs: ${reason}` : 'taking jobs again');
    this.pausedFor = reason;
    const limit = Math.min(this.settings.max_concurrent_jobs ?? this.concurrency, this.concurrency);
    if (limit !== this.jobSlots.limit) this.log(`at most ${limit} job(s) at once`);
    this.jobSlots.setLimit(limit);
  }

  /** Outside the owner's schedule windows: nothing should stay in memory (scale-to-zero). */
  get outsideSchedule(): boolean {
    return this.pausedFor === OUTSIDE_SCHEDULE;
  }

  /** Whether the owner's whitelist lets it serve this model. */
  serves(modelKey: string): boolean {
    return !this.settings.models || this.settings.models.includes(modelKey);
  }
}
