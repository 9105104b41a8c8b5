/**
 * How likely a token is under a job's sampler, from the model's plain
 * distribution at that position (softmax of the logits over its most likely
 * tokens, see PLAIN_DISTRIBUTION).
 *
 * The audit asks llama.cpp for the plain distribution and applies the job's
 * chain here (top-k, top-p, temperature, in node-llama-cpp's order) instead of
 * letting llama.cpp apply it, because a batched prefill does not round as
 * one-token decoding does: measured on the tiny model, a token's probability
 * differs by up to 0.73% between a batch of 120 and one token at a time. Two
 * tokens that close at the top (greedy) or at the top-k / top-p edge can swap
 * places, and an honest sampled token was indeed cut by the prefill's own
 * top-p. Tokens within TIE of an edge count as inside it, so rounding never
 * fails an honest runner, while a token the sampler could not have drawn
 * still scores 0.
 */
import type { LlamaModel, Token } from 'node-llama-cpp';
import { DEFAULT_TOP_K, DEFAULT_TOP_P, type Sampling } from './engine.js';

/** Relative closeness that counts as a tie: about three times the batched-vs-single rounding measured. */
const TIE = 0.02;
/**
 * Greedy jobs: how close to the prefill's top choice a claimed token may be and still pass, to be
 * confirmed by one-token decoding (doubtful). On SmolLM2 135M Q4_1 the rounding is far larger than on
 * the tiny model: a probability differs by up to 59% (p99 28%) between a batch of 200 and one token at a
 * time, and in 6 of 400 positions the top choice swapped, the one-token choice having 0.93 to 0.997 of the
 * batched top's probability; an honest greedy job failed its prefill at a 0.202 vs 0.206 near-tie
 * (scripts/bench-audit-real.ts). A wider margin only costs decoding, never lets a wrong token through.
 */
const GREEDY_TIE = 0.25;

/** Next-token probabilities, sorted from the most likely (node-llama-cpp's order). */
export type Distribution = Map<Token, number>;

/**
 * The options for llama.cpp that give the plain distribution over the most
 * likely tokens: temperature 1, no top-p, and only the top CANDIDATES tokens.
 * Asking for the whole vocabulary at every position cost ~0.4 ms a token on
 * the tiny model (sorting and copying it), ten times the forward pass itself.
 * The probabilities come renormalized over the candidates, which changes no
 * ratio between them, so the job's chain (top-k 40, then top-p on those) comes
 * out exact; a token outside the candidates scores 0.
 */
const CANDIDATES = 64;
export const PLAIN_DISTRIBUTION = { temperature: 1, topK: CANDIDATES, topP: 1, minP: 0 } as const;

export interface TokenScorer {
  /** The job's sampler could have drawn `token` here: the greedy choice, or at least the minimum probability. */
  passes(token: Token, dist: Distribution): boolean;
  /**
   * Greedy jobs: `token` passed only by the tie margin, not as the prefill's
   * own top choice, so one-token decoding must confirm it. Sampled: never.
   */
  doubtful(token: Token, dist: Distribution): boolean;
  /** Probability of `token` under the job's sampler (greedy jobs: the model's plain probability). */
  probability(token: Token, dist: Distribution): number;
  /** Probability that generation ends here. */
  endProbability(dist: Distribution): number;
  /** Generation can end here: end-of-text is the greedy choice, or likely enough. */
  mayEnd(dist: Distribution): boolean;
  /**
   * Sampled jobs: the token's log-probability, and the mean and variance an
   * honest draw's log-probability has here (minus the entropy, and its spread).
   */
  surprise(token: Token, dist: Distribution): { logP: number; mean: number; variance: number };
}

export function scorerFor(model: LlamaModel, sampling: Sampling, minProbability: number): TokenScorer {
  const eog = (t: Token) => model.isEogToken(t);
  if (sampling.temperature <= 0) {
    const isTop = (token: Token, dist: Distribution) => (dist.get(token) ?? 0) >= top(dist) * (1 - GREEDY_TIE) && dist.has(token);
    return {
      passes: isTop,
      doubtful: (token, dist) => (dist.get(token) ?? 0) < top(dist),
      probability: (token, dist) => dist.get(token) ?? 0,
      endProbability: (dist) => sumWhere(dist, eog),
      mayEnd: (dist) => [...takeWhile(dist, (t) => isTop(t, dist))].some(eog),
      surprise: () => ({ logP: 0, mean: 0, variance: 0 }),
    };
  }
  const sampled = new WeakMap<Distribution, Map<Token, number>>();
  const under = (dist: Distribution) => {
    let kept = sampled.get(dist);
    if (!kept) sampled.set(dist, (kept = applyChain(dist, sampling)));
    return kept;
  };
  return {
    passes: (token, dist) => (under(dist).get(token) ?? 0) >= minProbability,
    doubtful: () => false,
    probability: (token, dist) => under(dist).get(token) ?? 0,
    endProbability: (dist) => sumWhere(under(dist), eog),
    mayEnd: (dist) => sumWhere(under(dist), eog) >= minProbability,
    surprise: (token, dist) => {
      const kept = under(dist);
      let mean = 0;
      let square = 0;
      for (const q of kept.values()) {
        if (q <= 0) continue;
        mean += q * Math.log(q);
        square += q * Math.log(q) ** 2;
      }
      return { logP: Math.log(kept.get(token) ?? 0), mean, variance: Math.max(0, square - mean * mean) };
    },
  };
}

/** The job's sampler over a plain distribution: what it keeps, with the probability it draws each. */
export function applyChain(dist: Distribution, sampling: Sampling): Map<Token, number> {
  const topK = sampling.topK ?? DEFAULT_TOP_K;
  if (topK <= 0 || topK >= CANDIDATES) throw new Error(`top-k ${topK} is outside what an audit scores (1..${CANDIDATES - 1})`);
  const topP = sampling.topP ?? DEFAULT_TOP_P;
  const sorted = [...dist.entries()];
  // top-k, and whatever ties with its last token.
  let k = topK > 0 ? Math.min(topK, sorted.length) : sorted.length;
  while (k < sorted.length && sorted[k]![1] >= sorted[k - 1]![1] * (1 - TIE)) k++;
  const afterK = sorted.slice(0, k);
  // top-p on the top-k renormalized: keep tokens until the mass reaches top_p (the one that reaches it too).
  const massK = afterK.reduce((sum, [, p]) => sum + p, 0);
  let n = afterK.length;
  if (topP < 1) {
    let before = 0;
    for (let i = 0; i < afterK.length; i++) {
      if (before / massK >= topP * (1 + TIE)) {
        n = i;
        break;
      }
      before += afterK[i]![1];
    }
    // And whatever ties with the last token kept.
    while (n > 0 && n < afterK.length && afterK[n]![1] >= afterK[n - 1]![1] * (1 - TIE)) n++;
  }
  // Temperature on what is left: p^(1/T), renormalized (softmax of logits / T).
  const kept = afterK.slice(0, Math.max(1, n)).map(([t, p]) => [t, Math.pow(p, 1 / sampling.temperature)] as const);
  const total = kept.reduce((sum, [, w]) => sum + w, 0);
  return new Map(kept.map(([t, w]) => [t, w / total]));
}

function top(dist: Distribution): number {
  return dist.values().next().value ?? 0;
}

function sumWhere(dist: Map<Token, number>, keep: (t: Token) => boolean): number {
  let sum = 0;
  for (const [t, p] of dist) if (keep(t)) sum += p;
  return sum;
}

function* takeWhile(dist: Distribution, keep: (t: Token) => boolean): Generator<Token> {
  for (const t of dist.keys()) {
    if (!keep(t)) return;
    yield t;
  }
}
