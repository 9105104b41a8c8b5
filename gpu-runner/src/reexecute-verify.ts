/**
 * Audit by re-execution: generate again with the job's model, seed and
 * sampling settings, and compare. llama.cpp reproduces greedy tokens exactly,
 * and sampled ones for a fixed seed, so any difference is evidence.
 */
import type { VerifyMismatch } from '@trd/protocol';
import type { GenerateRequest, InferenceEngine } from './engine.js';
import type { CheckOutcome, ClaimedOutput } from './prefill-verify.js';

/** Characters of each text shown around the first difference. */
const EVIDENCE_CHARS = 16;

export class UnreproducibleJobError extends Error {
  constructor() {
    super('a sampled job without a seed cannot be reproduced; audit it by prefill');
    this.name = 'UnreproducibleJobError';
  }
}

export interface ReexecuteCheck extends Omit<GenerateRequest, 'onText' | 'onToken'> {
  claimed: ClaimedOutput;
  onProgress?: (tokens: number) => void;
}

export async function verifyByReexecution(engine: InferenceEngine, check: ReexecuteCheck): Promise<CheckOutcome> {
  if (check.temperature > 0 && check.seed === undefined) throw new UnreproducibleJobError();
  const { claimed } = check;
  /** Output characters after each token: which token a differing character came from. */
  const charsAfter: number[] = [];
  let chars = 0;
  const again = await engine.generate({
    ...check,
    onText: (piece) => (chars += piece.length),
    onToken: (n) => {
      charsAfter[n - 1] = chars;
      check.onProgress?.(n);
    },
  });
  const offset = firstDifference(claimed.text, again.text);
  if (offset !== null) {
    const tokenIndex = charsAfter.findIndex((c) => c > offset);
    const mismatch: VerifyMismatch = {
      tokenIndex: tokenIndex < 0 ? again.completionTokens : tokenIndex,
      textOffset: offset,
      claimedToken: claimed.text.slice(offset, offset + EVIDENCE_CHARS),
      expectedToken: again.text.slice(offset, offset + EVIDENCE_CHARS),
      claimedProbability: null,
    };
    const reason = `re-execution differs at character ${offset}: claimed ${JSON.stringify(mismatch.claimedToken)}, the model generated ${JSON.stringify(mismatch.expectedToken)}`;
    return { passed: false, reason, tokensChecked: again.completionTokens, mismatch };
  }
  if (claimed.completionTokens !== again.completionTokens) {
    return { passed: false, reason: `same text, but claims ${claimed.completionTokens} tokens; re-execution generated ${again.completionTokens}`, tokensChecked: again.completionTokens, mismatch: null };
  }
  if (claimed.finishReason !== again.finishReason) {
    return { passed: false, reason: `same text, but claims it ended for '${claimed.finishReason}'; re-execution ended for '${again.finishReason}'`, tokensChecked: again.completionTokens, mismatch: null };
  }
  return { passed: true, reason: null, tokensChecked: again.completionTokens, mismatch: null };
}

function firstDifference(a: string, b: string): number | null {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return i;
  return a.length === b.length ? null : n;
}
