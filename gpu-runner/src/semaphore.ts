/**
 * A counting semaphore whose waits are bounded and abortable, and whose
 * limit may change while permits are out (a lower limit takes effect as
 * permits come back; nothing held is taken away).
 */
export class SlotsBusyError extends Error {
  constructor(readonly waitedMs: number) {
    super(`no free slot after waiting ${waitedMs} ms`);
    this.name = 'SlotsBusyError';
  }
}

export class Semaphore {
  private held = 0;
  /** Each is handed a permit already counted as held. */
  private readonly waiting: Array<(release: () => void) => void> = [];
  private readonly watchers = new Set<() => void>();

  constructor(private max: number) {}

  get limit(): number {
    return this.max;
  }

  get inUse(): number {
    return this.held;
  }

  get free(): boolean {
    return this.held < this.max;
  }

  setLimit(max: number): void {
    this.max = max;
    this.grant();
  }

  /** A permit, waiting at most `timeoutMs` for one; rejects with SlotsBusyError, or the signal's reason. */
  async acquire(signal: AbortSignal | undefined, timeoutMs: number): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.waiting.length === 0 && this.free) return this.take();
    const started = performance.now();
    return new Promise<() => void>((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = this.waiting.indexOf(enter);
        if (i >= 0) this.waiting.splice(i, 1);
      };
      const enter = (release: () => void) => {
        leave();
        resolve(release);
      };
      const onAbort = () => {
        leave();
        reject(signal!.reason);
      };
      const timer = setTimeout(() => {
        leave();
        reject(new SlotsBusyError(Math.round(performance.now() - started)));
      }, timeoutMs);
      this.waiting.push(enter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Resolves once `condition()` holds, checked now and whenever permits or
   * the limit change (or `changed()` is called); rejects with the signal's
   * reason on abort. The condition may claim what it checked: it runs
   * synchronously, so two waiters never both see the last free place.
   */
  waitFor(condition: () => boolean, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const watch = () => {
        if (!condition()) return;
        this.watchers.delete(watch);
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.watchers.delete(watch);
        reject(signal.reason);
      };
      this.watchers.add(watch);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Re-checks the waiters' conditions after something they depend on changed. */
  protected changed(): void {
    for (const watch of [...this.watchers]) watch();
  }

  private take(): () => void {
    this.held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
      this.grant();
    };
  }

  private grant(): void {
    // Each call to a waiter removes it from the queue (leave()).
    while (this.free && this.waiting.length > 0) this.waiting[0]!(this.take());
    this.changed();
  }
}
