/**
 * How many jobs this runner takes at once, across all its queues: the
 * hardware's sequences, or fewer when the owner caps it. The runner polls one
 * queue per Worker, so a per-Worker limit alone would not cap the runner.
 *
 * Each Worker gets its own slot supplier over this one count: a Worker may
 * start a poll while it holds fewer permits than the limit (what the SDK's
 * fixed-size supplier does, so a busy queue's Worker stops polling) and the
 * runner runs fewer jobs than the limit. A poll that began before the runner
 * filled up can still bring a task; that task waits here for a job slot, as
 * one waits for a sequence.
 */
import type { ActivitySlotInfo, CustomSlotSupplier, SlotPermit } from '@temporalio/worker';
import { Semaphore } from './semaphore.js';

export class JobSlots extends Semaphore {
  /** A supplier for one Worker. */
  supplier(): CustomSlotSupplier<ActivitySlotInfo> {
    let issued = 0;
    const claim = () => {
      if (issued >= this.limit || !this.free) return false;
      issued++;
      return true;
    };
    const permit: SlotPermit = {};
    return {
      type: 'custom',
      reserveSlot: (_ctx, abort) => this.waitFor(claim, abort).then(() => permit),
      tryReserveSlot: () => (claim() ? permit : null),
      markSlotUsed: () => {},
      releaseSlot: () => {
        issued--;
        this.changed();
      },
    };
  }
}
