/**
 * Audit by prefill: prompt + claimed output go through the model in batched
 * forward passes (no sequential decode), and every claimed token is scored
 * under the job's own sampler: the greedy choice for temperature 0, at least
 * `minTokenProbability` likely for sampled jobs (a token the sampler's top-k /
 * top-p cut away scores 0).
 *
 * The claim is text, so the tokens are reconstructed: a longest-piece guess
 * (token-pieces.ts) is scored in one pass; where a guessed token fails, the
 * model's own choice is taken instead if its text continues the claimed text
 * (a different split of the same text), and the guess restarts from there.
 * For a greedy job that walk is exactly the generation's token path, so the
 * token count is checked exactly; a sampled job's split is not unique (" been"
 * or " be"+"e"+"n"), so its count is only bounded (see countProblem), and a
 * failed walk backtracks to try another split.
 *
 * Batched evaluation rounds differently from one-token decoding, so scores get
 * a tie margin (sampler-scores.ts); a greedy token that passes only by that
 * margin is confirmed by one-token decoding, as generation does it. For
 * sampled jobs, the whole output's log-likelihood must also be what sampling
 * gives (likelihoodZ): each token alone can be plausible while the whole is not.
 */
import type { VerifyMismatch } from '@trd/protocol';
import type { ControlledEvaluateInputItem, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { PromptTooLongError, samplingOf, type GenerateRequest, type InferenceEngine } from './engine.js';
import { PLAIN_DISTRIBUTION, scorerFor, type Distribution, type TokenScorer } from './sampler-scores.js';
import { TokenPieces } from './token-pieces.js';

/** Tokens before a piece that detokenizing it looks at (as the engine decodes), so a word's leading space comes out right. */
const DETOKENIZE_CONTEXT = 8;
/** Guessed tokens scored per forward pass; a failed guess wastes the rest of its chunk. */
const CHUNK = 64;
/** Backtracking (see retreat): how far back a failure may look for another split, and how often in all. */
const BACKTRACK_WINDOW = 8;
const BACKTRACK_BUDGET = 32;

export interface ClaimedOutput {
  text: string;
  completionTokens: number;
  finishReason: 'length' | 'stop';
}

/** The job as it was generated (the same fields as a generation), and what was claimed. */
export interface PrefillCheck extends Pick<GenerateRequest, 'prompt' | 'chat' | 'maxTokens' | 'temperature' | 'topP' | 'seed' | 'stop'> {
  claimed: ClaimedOutput;
  /** Sampled jobs: a claimed token less likely than this fails. */
  minTokenProbability: number;
  signal?: AbortSignal;
  /** Called after each forward pass with the tokens checked so far. */
  onProgress?: (tokensChecked: number) => void;
}

export interface CheckOutcome {
  passed: boolean;
  reason: string | null;
  tokensChecked: number;
  mismatch: VerifyMismatch | null;
  /** Sampled jobs, prefill: the least likely accepted token's probability, how close the claim came to the threshold. */
  lowestProbability?: number;
  /** Sampled jobs, prefill: how far the whole output's log-likelihood is from what sampling gives, in standard deviations. */
  likelihoodZ?: number | null;
}

/**
 * Each token alone can be plausible while the output as a whole is not: a
 * greedy answer replayed for a sampled job, or filler the model finds
 * likely. Drawn honestly, a token's log-probability has mean minus the
 * entropy and a known variance at its position, and the sum over the output
 * is a martingale, so its deviation, in standard deviations (z), stays near
 * 0 (measured on the tiny model: within ±LIMIT in every honest job of the
 * benchmark); a claim beyond the limit either way fails.
 */
const LIKELIHOOD_Z_LIMIT = 6;
/** Fewer sampled tokens than this say too little about the whole. */
const LIKELIHOOD_MIN_TOKENS = 8;

function likelihoodZ(l: { excess: number; variance: number; tokens: number }): number | null {
  if (l.tokens < LIKELIHOOD_MIN_TOKENS || l.variance <= 0) return null;
  return l.excess / Math.sqrt(l.variance);
}

/** Checks a claimed output by one forward pass over it: the walk finds the model's tokens for the text, the verdict weighs them. */
export async function verifyByPrefill(engine: InferenceEngine, check: PrefillCheck): Promise<CheckOutcome> {
  const { maxTokens } = check;
  const stops = (check.stop ?? []).filter((s) => s.length > 0);
  const upfront = claimProblem(check, stops);
  if (upfront) return { passed: false, reason: upfront, tokensChecked: 0, mismatch: null };

  const prompt = engine.promptTokens(check);
  if (prompt.length + maxTokens > engine.contextSize) throw new PromptTooLongError(prompt.length, maxTokens, engine.contextSize);
  const sampling = samplingOf(check);
  const greedy = sampling.temperature <= 0;
  const scorer = scorerFor(engine.llamaModel, sampling, check.minTokenProbability);
  const walked = await prefillWalk(engine, check, { prompt, stops, scorer, greedy });
  if ('failure' in walked) return walked.failure;
  return prefillVerdict(engine, check, { prompt, stops, scorer, sampling, greedy, ...walked });
}

interface WalkInputs {
  prompt: Token[];
  stops: string[];
  scorer: ReturnType<typeof scorerFor>;
  greedy: boolean;
}

/** The tokens the walk accepted for the claimed text, each with the distribution it was drawn from, and the distribution the text ended with. */
interface Walked {
  out: Token[];
  drawnFrom: Distribution[];
  endedWith: Distribution | null;
}

/**
 * The prefill walk: the claimed text is split into this model's tokens while the model scores each
 * one (guessed chunks evaluated at once, the model's own choices where a guess fails, backtracking
 * to another split within a budget). Ends with the accepted tokens, or with the first failure.
 */
async function prefillWalk(engine: InferenceEngine, check: PrefillCheck, { prompt, stops, scorer, greedy }: WalkInputs): Promise<Walked | { failure: CheckOutcome }> {
  const { claimed, maxTokens } = check;
  const model = engine.llamaModel;
  const pieces = TokenPieces.of(model);
  const text = claimed.text;
  const sequence = await engine.newSequence();
  const probe = (token: Token): ControlledEvaluateInputItem => [token, { generateNext: { probabilities: true, options: PLAIN_DISTRIBUTION } }];
  const decode = (tokens: Token[]) => model.detokenize(tokens, false);
  const fail = (reason: string, mismatch: VerifyMismatch | null = null): CheckOutcome => ({ passed: false, reason, tokensChecked: out.length, mismatch });

  /** Accepted tokens, each with the distribution it was drawn from; the first `evaluated` are in the sequence's state. */
  const out: Token[] = [];
  const drawnFrom: Distribution[] = [];
  /** Per accepted position, the tokens tried there (backtracking tries each once). */
  const tried: Array<Set<Token>> = [];
  let evaluated = 0;
  /** Guessed tokens already scored: each with the distribution that follows it. */
  let scored: Array<{ token: Token; after: Distribution }> = [];
  let guess: Token[] = [];
  let next: Distribution;
  let endedWith: Distribution | null = null;
  let firstFailure: CheckOutcome | null = null;
  let backtracks = 0;
  /** decode(out), kept current: decoding the whole output for every candidate made long outputs quadratic. */
  let decodedOut = '';
  const decodeWith = (token: Token) =>
    out.length === 0 || decodedOut.endsWith('\uFFFD') ? decode([...out, token]) : decodedOut + model.detokenize([token], false, out.slice(-DETOKENIZE_CONTEXT));
  const accept = (token: Token, dist: Distribution, seen = new Set<Token>()) => {
    decodedOut = decodeWith(token);
    out.push(token);
    drawnFrom.push(dist);
    tried.push(seen.add(token));
  };
  const reach = (prefix: Token[], token: Token) => {
    const decodedWith = decode([...prefix, token]);
    return fits(decodedWith, text, stops, claimed.finishReason) ? decodedWith.length : -1;
  };
  /**
   * A sampled text can often be split more than one way (" been" or " be"+"e"+"n"), and the split taken
   * shapes what the model expects next. When the walk fails, it goes back a few tokens and tries another
   * split there, within a budget, before it calls the claim false.
   */
  const retreat = async (failure: CheckOutcome): Promise<boolean> => {
    firstFailure ??= failure;
    for (let j = out.length - 1; j >= Math.max(0, out.length - BACKTRACK_WINDOW) && backtracks < BACKTRACK_BUDGET; j--) {
      const dist = drawnFrom[j]!;
      const prefix = out.slice(0, j);
      const seen = tried[j]!;
      const other = longestFitting(dist, (t) => scorer.passes(t, dist), (t) => (seen.has(t) ? -1 : reach(prefix, t)));
      if (other === undefined) continue;
      backtracks++;
      out.length = drawnFrom.length = tried.length = j;
      decodedOut = decode(out);
      await dropFrom(sequence, prompt.length + j);
      evaluated = Math.min(evaluated, j);
      scored = [];
      guess = [];
      accept(other, dist, seen);
      return true;
    }
    return false;
  };

  try {
    const first = await sequence.controlledEvaluate([...prompt.slice(0, -1), probe(prompt.at(-1)!)]);
    next = first[prompt.length - 1]!.next.probabilities!;
    walk: for (;;) {
      check.signal?.throwIfAborted();
      const decoded = decodedOut;
      if (guess.length === 0 && scored.length === 0 && text.startsWith(decoded) && decoded !== text) guess = guessRest(model, pieces, out, decoded, text);
      if (evaluated < out.length || (scored.length === 0 && guess.length > 0)) {
        const chunk = guess.slice(0, CHUNK);
        guess = guess.slice(CHUNK);
        const pending = out.slice(evaluated);
        const results = await sequence.controlledEvaluate([...pending, ...chunk].map(probe));
        if (pending.length > 0) next = results[pending.length - 1]!.next.probabilities!;
        evaluated = out.length;
        scored.push(...chunk.map((token, i) => ({ token, after: results[pending.length + i]!.next.probabilities! })));
        check.onProgress?.(out.length);
      }

      const place = placeOf(decoded, text, stops);
      if (place === 'end') {
        if (claimed.finishReason === 'length') break;
        if (scorer.mayEnd(next)) {
          endedWith = next;
          break;
        }
        if (stops.length === 0) {
          if (await retreat(fail(eosReason(model, next, scorer, greedy, out.length), eosMismatch(model, next, scorer, out, text)))) continue;
          return { failure: firstFailure! };
        }
      }
      if (place === 'stopped') break;
      if (out.length >= maxTokens) {
        if (await retreat(fail(`the claimed text needs more than max_tokens (${maxTokens}) tokens of this model`))) continue;
        return { failure: firstFailure! };
      }

      const candidate = scored[0]?.token;
      // Where the output ends at a stop string, the last token may run into the stop string (" one" for
      // "on" + stop "e"): then the guess that ends exactly at the text competes with the model's choices.
      const mayStraddle = claimed.finishReason === 'stop' && stops.length > 0;
      const candidatePlace = candidate !== undefined && scorer.passes(candidate, next) ? placeOf(decodeWith(candidate), text, stops) : 'off';
      if (candidatePlace === 'inside' || (candidatePlace === 'end' && !mayStraddle)) {
        accept(candidate!, next);
        evaluated += 1;
        next = scored.shift()!.after;
        continue;
      }
      // The guess failed here: drop what was scored after it, then try the model's own choices.
      if (scored.length > 0) await dropFrom(sequence, prompt.length + out.length);
      scored = [];
      guess = [];
      const alternative = longestFitting(next, (token) => scorer.passes(token, next), (token) => {
        const decodedWith = decodeWith(token);
        return fits(decodedWith, text, stops, claimed.finishReason) ? decodedWith.length : -1;
      });
      if (alternative !== undefined) {
        accept(alternative, next);
        continue;
      }
      if (await retreat(fail(...tokenFailure(model, next, scorer, out, text, candidate, greedy, check.minTokenProbability)))) continue walk;
      return { failure: firstFailure! };
    }
  } finally {
    sequence.dispose();
  }
  return { out, drawnFrom, endedWith };
}

/** The verdict on a finished walk: doubtful greedy tokens settled by one-token decoding, the token count, and the sampled output's likelihood as a whole. */
async function prefillVerdict(
  engine: InferenceEngine,
  check: PrefillCheck,
  { prompt, stops, scorer, sampling, greedy, out, drawnFrom, endedWith }: WalkInputs & Walked & { sampling: ReturnType<typeof samplingOf> },
): Promise<CheckOutcome> {
  const { claimed } = check;
  const model = engine.llamaModel;
  const text = claimed.text;
  const fail = (reason: string, mismatch: VerifyMismatch | null = null): CheckOutcome => ({ passed: false, reason, tokensChecked: out.length, mismatch });
  // Greedy tokens the margin let through are settled the slow, exact way.
  const doubts = out.flatMap((token, j) => (scorer.doubtful(token, drawnFrom[j]!) ? [j] : []));
  // An end of text that passed only by the margin is settled the same way, decoding through the end.
  const endDoubtful = greedy && endedWith !== null && !model.isEogToken(topOf(endedWith)[0]);
  if (doubts.length > 0 || endDoubtful) {
    const differs = await firstGreedyDifference(engine, prompt, out, endDoubtful ? out.length + 1 : doubts.at(-1)! + 1, check.signal);
    if (differs !== null) {
      const { at, expected } = differs;
      const decoded = model.detokenize(out.slice(0, at), false);
      // at === out.length: the claim ends where one-token decoding goes on.
      const mismatch: VerifyMismatch = {
        tokenIndex: at,
        textOffset: decoded.length,
        claimedToken: at < out.length ? pieceOf(model, out[at]!, out.slice(0, at)) : '',
        expectedToken: model.isEogToken(expected) ? '' : pieceOf(model, expected, out.slice(0, at)),
        claimedProbability: at < out.length ? scorer.probability(out[at]!, drawnFrom[at]!) : scorer.endProbability(endedWith!),
      };
      return fail(`token ${at} (text offset ${decoded.length}): the claimed ${JSON.stringify(mismatch.claimedToken)} is within rounding of the greedy choice in the prefill, but one-token decoding, as generation does it, chooses ${JSON.stringify(mismatch.expectedToken)}`, mismatch);
    }
  }
  const countIssue = countProblem(claimed.completionTokens, out.length, greedy, text, stops);
  if (countIssue) return fail(countIssue);
  let lowest = endedWith && !greedy ? scorer.endProbability(endedWith) : Infinity;
  const likelihood = { excess: 0, variance: 0, tokens: 0 };
  if (!greedy) {
    for (const [j, token] of out.entries()) {
      lowest = Math.min(lowest, scorer.probability(token, drawnFrom[j]!));
      const { logP, mean, variance } = scorer.surprise(token, drawnFrom[j]!);
      likelihood.excess += logP - mean;
      likelihood.variance += variance;
      likelihood.tokens += 1;
    }
  }
  const z = likelihoodZ(likelihood);
  if (z !== null && Math.abs(z) > LIKELIHOOD_Z_LIMIT) {
    const how = z > 0 ? 'more likely than sampling gives: they look chosen, not drawn' : 'less likely than sampling gives: they look drawn from another distribution';
    return fail(`the ${likelihood.tokens} claimed tokens are together far ${how} (log-likelihood z = ${z.toFixed(1)} at temperature ${sampling.temperature}; honest outputs stay within ±${LIKELIHOOD_Z_LIMIT})`);
  }
  return { passed: true, reason: null, tokensChecked: out.length, mismatch: null, ...(greedy ? {} : { lowestProbability: lowest, likelihoodZ: z }) };
}

/**
 * Decodes greedily one token at a time, as generation does, for `count`
 * tokens: the first position where the claimed tokens differ, or null.
 */
async function firstGreedyDifference(engine: InferenceEngine, prompt: Token[], claimed: Token[], count: number, signal?: AbortSignal): Promise<{ at: number; expected: Token } | null> {
  const sequence = await engine.newSequence();
  try {
    let at = 0;
    for await (const token of sequence.evaluate(prompt, samplingOf({ temperature: 0 }))) {
      signal?.throwIfAborted();
      // Past the claimed tokens (a doubtful end): generation must end here.
      if (at === claimed.length) return engine.llamaModel.isEogToken(token) ? null : { at, expected: token };
      if (token !== claimed[at]) return { at, expected: token };
      if (++at >= count) break;
    }
    // Generation ended (end of text) before the claimed tokens did.
    return at < count && at < claimed.length ? { at, expected: engine.llamaModel.tokens.eos ?? claimed[at]! } : null;
  } finally {
    sequence.dispose();
  }
}

/** What is wrong with the claim before any model is run. */
function claimProblem(check: PrefillCheck, stops: string[]): string | null {
  const { claimed, maxTokens } = check;
  if (claimed.completionTokens > maxTokens) return `claims ${claimed.completionTokens} tokens, more than max_tokens (${maxTokens})`;
  if (claimed.finishReason === 'length' && claimed.completionTokens !== maxTokens) return `finished for length after ${claimed.completionTokens} tokens, not max_tokens (${maxTokens})`;
  for (const stop of stops) {
    const at = claimed.text.indexOf(stop);
    if (at >= 0) return `the output contains the stop string ${JSON.stringify(stop)} at character ${at}; generation would have ended there`;
  }
  if (claimed.text.length > 0 && claimed.completionTokens === 0) return 'claims 0 tokens for a non-empty text';
  return null;
}

/**
 * Token counts. Greedy: the walk is the generation's own path, so the count is
 * exact. Sampled: the split of a text into tokens is not unique, so only a
 * bound holds: no token makes less than a byte. (Re-execution checks a sampled
 * job's count exactly.)
 */
function countProblem(claimedTokens: number, walked: number, greedy: boolean, text: string, stops: string[]): string | null {
  if (greedy) return claimedTokens === walked ? null : `claims ${claimedTokens} tokens; the model generates this text in ${walked}`;
  // The tokens that generated a stop string count too, though the stop string is not output.
  const bytes = Buffer.byteLength(text) + Math.max(0, ...stops.map((s) => Buffer.byteLength(s)));
  if (claimedTokens > bytes) return `claims ${claimedTokens} tokens for ${bytes} bytes of generated text`;
  return null;
}

/**
 * The guess for the rest of the text. A first token's leading space is not
 * in the output (SentencePiece models), so " what" may have made "what":
 * guessing with the space back matches the model's word pieces.
 */
function guessRest(model: LlamaModel, pieces: TokenPieces, out: Token[], decoded: string, text: string): Token[] {
  if (out.length === 0) {
    const spaced = pieces.guess(` ${text}`);
    if (model.detokenize(spaced, false) === text) return spaced;
  }
  return pieces.guess(text.slice(decoded.length));
}

/** Of the tokens `allowed` keeps, the one whose text reaches furthest into the claim (the fewest-token split); reach -1 rules one out. */
function longestFitting(dist: Distribution, allowed: (token: Token) => boolean, reach: (token: Token) => number): Token | undefined {
  let best: Token | undefined;
  let bestReach = -1;
  for (const token of dist.keys()) {
    // The map is sorted by probability, and what a sampler keeps is a top run of it.
    if (!allowed(token)) break;
    const r = reach(token);
    if (r >= 0 && r > bestReach) {
      best = token;
      bestReach = r;
    }
  }
  return best;
}

type Place = 'inside' | 'end' | 'beyond' | 'stopped' | 'off';

/**
 * Where decoded tokens stand against the claimed text: still inside it, at
 * its end, past it into a stop string (the stop string is generated, then cut
 * from the output), past a whole stop string, or off the text.
 */
function placeOf(decoded: string, text: string, stops: string[]): Place {
  if (decoded === text) return 'end';
  if (text.startsWith(decoded)) return 'inside';
  // A character split over byte tokens decodes to U+FFFD until its last byte comes.
  const whole = decoded.replace(/\uFFFD+$/, '');
  if (whole.length < decoded.length && whole.length < text.length && text.startsWith(whole) && text.charCodeAt(whole.length) >= 0x80) return 'inside';
  if (!decoded.startsWith(text) || stops.length === 0) return 'off';
  // The engine ends the output at the first stop string anywhere in the generated text.
  let first = -1;
  for (const stop of stops) {
    const at = decoded.indexOf(stop, Math.max(0, text.length - stop.length + 1));
    if (at >= 0 && (first < 0 || at < first)) first = at;
  }
  if (first >= 0) return first === text.length ? 'stopped' : 'off';
  const tail = whole.slice(text.length);
  return stops.some((s) => s.startsWith(tail)) ? 'beyond' : 'off';
}

function fits(decoded: string, text: string, stops: string[], finishReason: ClaimedOutput['finishReason']): boolean {
  const place = placeOf(decoded, text, stops);
  if (place === 'inside' || place === 'end') return true;
  return finishReason === 'stop' && (place === 'beyond' || place === 'stopped');
}

async function dropFrom(sequence: LlamaContextSequence, position: number): Promise<void> {
  if (sequence.nextTokenIndex > position) await sequence.eraseContextTokenRanges([{ start: position, end: sequence.nextTokenIndex }]);
}

function pieceOf(model: LlamaModel, token: Token, before: Token[]): string {
  return model.detokenize([token], false, before.slice(-8));
}

function topOf(dist: Distribution): [Token, number] {
  return dist.entries().next().value ?? [0 as Token, 0];
}

function tokenFailure(
  model: LlamaModel,
  dist: Distribution,
  scorer: TokenScorer,
  out: Token[],
  text: string,
  guessed: Token | undefined,
  greedy: boolean,
  minProbability: number,
): [string, VerifyMismatch] {
  const [top, topP] = topOf(dist);
  const decoded = model.detokenize(out, false);
  const claimedToken = guessed === undefined ? text.slice(decoded.length, decoded.length + 8) : pieceOf(model, guessed, out);
  const claimedProbability = guessed === undefined ? 0 : scorer.probability(guessed, dist);
  const expectedToken = model.isEogToken(top) ? '' : pieceOf(model, top, out);
  const where = `token ${out.length} (text offset ${decoded.length})`;
  const reason = greedy
    ? `${where}: the claimed ${JSON.stringify(claimedToken)} (p=${fmt(claimedProbability)}) is not the model's greedy choice ${JSON.stringify(expectedToken)} (p=${fmt(topP)}), and no greedy token continues the claimed text`
    : `${where}: the claimed ${JSON.stringify(claimedToken)} has p=${fmt(claimedProbability)} under the job's sampling settings, below ${minProbability}, and no token that likely continues the claimed text (most likely: ${JSON.stringify(expectedToken)}, p=${fmt(scorer.probability(top, dist))})`;
  return [reason, { tokenIndex: out.length, textOffset: decoded.length, claimedToken, expectedToken, claimedProbability }];
}

function eosReason(model: LlamaModel, dist: Distribution, scorer: TokenScorer, greedy: boolean, at: number): string {
  const [top, topP] = topOf(dist);
  const expected = model.isEogToken(top) ? 'end of text' : JSON.stringify(model.detokenize([top], false));
  return `finished as 'stop' after token ${at}, but the model would not end there: end-of-text has p=${fmt(scorer.endProbability(dist))}${greedy ? `, the greedy choice is ${expected} (p=${fmt(topP)})` : ''}`;
}

function eosMismatch(model: LlamaModel, dist: Distribution, scorer: TokenScorer, out: Token[], text: string): VerifyMismatch {
  const [top] = topOf(dist);
  return {
    tokenIndex: out.length,
    textOffset: text.length,
    claimedToken: '',
    expectedToken: model.isEogToken(top) ? '' : pieceOf(model, top, out),
    claimedProbability: scorer.endProbability(dist),
  };
}

function fmt(p: number): string {
  return p === 0 ? '0' : p.toPrecision(3);
}
