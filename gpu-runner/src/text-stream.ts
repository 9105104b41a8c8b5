/**
 * Turns generated text, piece by piece, into what may be shown now: a stop
 * string ends the output before it (the stop string itself is never shown),
 * and text that might be the start of a stop string is held back until the
 * next piece tells. Pure, so the rules are tested without a model.
 */
export class StopAwareText {
  private text = '';
  private shown = 0;
  private stoppedAt: number | null = null;

  constructor(private readonly stops: readonly string[] = []) {}

  /** Adds generated text; returns the text that can be shown now ('' if none). */
  push(piece: string): string {
    if (this.stoppedAt !== null) return '';
    this.text += piece;
    let hit = -1;
    for (const stop of this.stops) {
      // Search only where a new match can be: from just before the text already shown.
      const i = this.text.indexOf(stop, Math.max(0, this.shown - stop.length + 1));
      if (i >= 0 && (hit < 0 || i < hit)) hit = i;
    }
    if (hit >= 0) {
      this.stoppedAt = hit;
      return this.take(hit);
    }
    return this.take(this.text.length - this.heldBack());
  }

  /** True once a stop string appeared: generation should end. */
  get stopped(): boolean {
    return this.stoppedAt !== null;
  }

  /** All the output: up to the stop string, or everything when none appeared. */
  get output(): string {
    return this.stoppedAt === null ? this.text : this.text.slice(0, this.stoppedAt);
  }

  /** At the end, what was held back as a possible stop string's start. */
  flush(): string {
    return this.take(this.output.length);
  }

  private take(upTo: number): string {
    if (upTo <= this.shown) return '';
    const out = this.text.slice(this.shown, upTo);
    this.shown = upTo;
    return out;
  }

  /** How many trailing characters could begin a stop string. */
  private heldBack(): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, this.text.length - this.shown); n > longest; n--) {
        if (this.text.endsWith(stop.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
