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
 * or " be"+"e"+"n"), so its count is only bounded (see countProblem).
 */
import type { VerifyMismatch } from '@trd/protocol';
import type { ChatMessage } from '@trd/protocol';
import type { ControlledEvaluateInputItem, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { PromptTooLongError, samplingOf, type InferenceEngine } from './engine.js';
import { PLAIN_DISTRIBUTION, scorerFor, type Distribution, type TokenScorer } from './sampler-scores.js';
import { TokenPieces } from './token-pieces.js';

/** Guessed tokens scored per forward pass; a failed guess wastes the rest of its chunk. */
const CHUNK = 64;

export interface ClaimedOutput {
  text: string;
  completionTokens: number;
  finishReason: 'length' | 'stop';
}

export interface PrefillCheck {
  prompt: string;
  chat?: ChatMessage[];
  maxTokens: number;
  temperature: number;
  topP?: number;
  seed?: number;
  stop?: string[];
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
}

export async function verifyByPrefill(engine: InferenceEngine, check: PrefillCheck): Promise<CheckOutcome> {
  const { claimed, maxTokens } = check;
  const stops = (check.stop ?? []).filter((s) => s.length > 0);
  const upfront = claimProblem(check, stops);
  if (upfront) return { passed: false, reason: upfront, tokensChecked: 0, mismatch: null };

  const model = engine.llamaModel;
  const prompt = engine.promptTokens(check);
  if (prompt.length + maxTokens > engine.contextSize) throw new PromptTooLongError(prompt.length, maxTokens, engine.contextSize);
  const sampling = samplingOf(check);
  const greedy = sampling.temperature <= 0;
  const scorer = scorerFor(model, sampling, check.minTokenProbability);
  const pieces = TokenPieces.of(model);
  const text = claimed.text;
  const sequence = await engine.newSequence();
  const probe = (token: Token): ControlledEvaluateInputItem => [token, { generateNext: { probabilities: true, options: PLAIN_DISTRIBUTION } }];
  const decode = (tokens: Token[]) => model.detokenize(tokens, false);
  const fail = (reason: string, mismatch: VerifyMismatch | null = null): CheckOutcome => ({ passed: false, reason, tokensChecked: out.length, mismatch });

  /** Accepted tokens; the first `evaluated` of them are in the sequence's state. */
  const out: Token[] = [];
  let evaluated = 0;
  /** Guessed tokens already scored: each with the distribution that follows it. */
  let scored: Array<{ token: Token; after: Distribution }> = [];
  let guess: Token[] = [];
  let next: Distribution;
  let lowest = Infinity;
  const accept = (token: Token, dist: Distribution) => {
    out.push(token);
    if (!greedy) lowest = Math.min(lowest, scorer.probability(token, dist));
  };

  try {
    const first = await sequence.controlledEvaluate([...prompt.slice(0, -1), probe(prompt.at(-1)!)]);
    next = first[prompt.length - 1]!.next.probabilities!;
    for (;;) {
      check.signal?.throwIfAborted();
      const decoded = decode(out);
      if (guess.length === 0 && scored.length === 0 && text.startsWith(decoded) && decoded !== text) guess = guessRest(model, pieces, out, text);
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
          if (!greedy) lowest = Math.min(lowest, scorer.endProbability(next));
          break;
        }
        if (stops.length === 0) return fail(eosReason(model, next, scorer, greedy, out.length), eosMismatch(model, next, scorer, out, text));
      }
      if (place === 'stopped') break;
      if (out.length >= maxTokens) return fail(`the claimed text needs more than max_tokens (${maxTokens}) tokens of this model`);

      const candidate = scored[0]?.token;
      // Where the output ends at a stop string, the last token may run into the stop string (" one" for
      // "on" + stop "e"): then the guess that ends exactly at the text competes with the model's choices.
      const mayStraddle = claimed.finishReason === 'stop' && stops.length > 0;
      const candidatePlace = candidate !== undefined && scorer.passes(candidate, next) ? placeOf(decode([...out, candidate]), text, stops) : 'off';
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
        const decodedWith = decode([...out, token]);
        return fits(decodedWith, text, stops, claimed.finishReason) ? decodedWith.length : -1;
      });
      if (alternative === undefined) return fail(...tokenFailure(model, next, scorer, out, text, candidate, greedy, check.minTokenProbability));
      accept(alternative, next);
    }
  } finally {
    sequence.dispose();
  }

  const countIssue = countProblem(claimed.completionTokens, out.length, greedy, text, stops);
  if (countIssue) return fail(countIssue);
  return { passed: true, reason: null, tokensChecked: out.length, mismatch: null, ...(greedy ? {} : { lowestProbability: lowest }) };
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
 * exact. Sampled: the walk prefers the longest pieces, which gives the fewest
 * tokens a split of this text has in practice, and no token is shorter than a
 * byte; a claim outside those bounds is not a count any split gives.
 */
function countProblem(claimedTokens: number, walked: number, greedy: boolean, text: string, stops: string[]): string | null {
  if (greedy) return claimedTokens === walked ? null : `claims ${claimedTokens} tokens; the model generates this text in ${walked}`;
  if (claimedTokens < walked) return `claims ${claimedTokens} tokens; the text takes at least ${walked} tokens of this model`;
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
function guessRest(model: LlamaModel, pieces: TokenPieces, out: Token[], text: string): Token[] {
  if (out.length === 0) {
    const spaced = pieces.guess(` ${text}`);
    if (model.detokenize(spaced, false) === text) return spaced;
  }
  return pieces.guess(text.slice(model.detokenize(out, false).length));
}

/** Of the tokens `allowed` keeps, the one whose text reaches furthest into the claim (the fewest-token split). */
function longestFitting(dist: Distribution, allowed: (token: Token) => boolean, reach: (token: Token) => number): Token | undefined {
  let best: Token | undefined;
  let bestReach = -1;
  for (const token of dist.keys()) {
    // The map is sorted by probability, and what a sampler keeps is a top run of it.
    if (!allowed(token)) break;
    const r = reach(token);
    if (r > bestReach) {
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
