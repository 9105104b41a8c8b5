/**
 * Fault injection for the dispatch tests, from TRD_RUNNER_FAULTS, e.g.
 * "token-delay-ms=50" (a slow runner), "stall-after-tokens=3" (a runner
 * that stops producing tokens but stays alive), "load-delay-ms=1500" (a model
 * that takes long to load, as real ones do), "bad-result=1" (a runner that
 * misreports its token count) or "cheat=other-model|truncate-pad|replay" (a
 * dishonest runner whose results pass the platform's structural check, so
 * only an audit catches them; see cheats.ts). Only the test build of the
 * runner reads it (./trd-worker.js, through the seam in
 * src/generation-wrapper.ts); the published package has neither file.
 */
import type { GenerateRequest, InferenceEngine } from '../src/engine.js';
import type { GenerationWrapper } from '../src/generation-wrapper.js';
import { CHEATS, CheatingRunner, type Cheat } from './cheats.js';

export interface RunnerFaults {
  tokenDelayMs: number;
  stallAfterTokens?: number;
  loadDelayMs: number;
  badResult: boolean;
  cheat?: Cheat;
  /** cheat=other-model: the model it answers with (TRD_RUNNER_CHEAT_MODEL); a tiny model of another seed when unset. */
  cheatModelPath?: string;
}

const KNOWN = 'token-delay-ms, stall-after-tokens, load-delay-ms, bad-result, cheat';

export function parseRunnerFaults(spec: string | undefined, cheatModelPath?: string): RunnerFaults | undefined {
  if (!spec) return undefined;
  const faults: RunnerFaults = { tokenDelayMs: 0, loadDelayMs: 0, badResult: false, cheatModelPath: cheatModelPath || undefined };
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [key, value] = part.split('=');
    if (key === 'cheat') {
      if (!CHEATS.includes(value as Cheat)) throw new Error(`TRD_RUNNER_FAULTS: "${part}" names no cheat (known: ${CHEATS.join(', ')})`);
      faults.cheat = value as Cheat;
      continue;
    }
    if (!/^\d{1,9}$/.test(value ?? '')) throw new Error(`TRD_RUNNER_FAULTS: "${part}" needs a whole number (up to 9 digits), as in token-delay-ms=50`);
    if (key === 'token-delay-ms') faults.tokenDelayMs = Number(value);
    else if (key === 'stall-after-tokens') faults.stallAfterTokens = Number(value);
    else if (key === 'load-delay-ms') faults.loadDelayMs = Number(value);
    else if (key === 'bad-result') faults.badResult = value !== '0';
    else throw new Error(`TRD_RUNNER_FAULTS: unknown fault "${key}" (known: ${KNOWN})`);
  }
  return faults;
}

/** Runs after each generated token; resolves when generation may go on, rejects when aborted. */
export function injectFaults(faults: RunnerFaults, tokens: number, signal: AbortSignal): Promise<void> | undefined {
  const stall = faults.stallAfterTokens !== undefined && tokens >= faults.stallAfterTokens;
  if (!stall && faults.tokenDelayMs === 0) return undefined;
  return new Promise((resolve, reject) => {
    const timer = stall ? undefined : setTimeout(done, faults.tokenDelayMs);
    function done() {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Generation with these faults: slowed or stalled per token, answered by a cheat, or misreported. */
export function faultyGeneration(faults: RunnerFaults, spec: string): GenerationWrapper {
  const cheater = faults.cheat ? new CheatingRunner(faults.cheat, { otherModelPath: faults.cheatModelPath }) : undefined;
  return {
    warning: `fault injection is on (TRD_RUNNER_FAULTS=${spec}); this runner misbehaves on purpose`,
    loadDelayMs: faults.loadDelayMs,
    async generate(engine: InferenceEngine, req: GenerateRequest) {
      const slowed: GenerateRequest = {
        ...req,
        onToken: (n) => {
          const own = req.onToken?.(n);
          const fault = injectFaults(faults, n, req.signal ?? new AbortController().signal);
          return own && fault ? own.then(() => fault) : (own ?? fault);
        },
      };
      const gen = cheater ? await cheater.generate(engine, slowed) : await engine.generate(slowed);
      // A runner that misreports its work: the platform must refuse the result.
      return faults.badResult ? { ...gen, completionTokens: req.maxTokens + 1 } : gen;
    },
  };
}
