/**
 * How many jobs this runner takes at once, across all its queues: the
 * hardware's sequences, or fewer when the owner caps it. The runner polls
 * one queue per Worker, so a per-Worker limit would not cap the runner; this
 * is every Worker's activity slot supplier instead, asked before each poll.
 * A poll that began while a slot was free can still bring a task after the
 * runner filled up; that task waits for a slot like one waits for a sequence.
 */
import type { ActivitySlotInfo, CustomSlotSupplier, SlotPermit } from '@temporalio/worker';
import { Semaphore } from './semaphore.js';

export class JobSlots extends Semaphore {
  supplier(): CustomSlotSupplier<ActivitySlotInfo> {
    const permit: SlotPermit = {};
    return {
      type: 'custom',
      reserveSlot: (_ctx, abort) => this.whenFree(abort).then(() => permit),
      tryReserveSlot: () => (this.free ? permit : null),
      markSlotUsed: () => {},
      releaseSlot: () => {},
    };
  }
}
