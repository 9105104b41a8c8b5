/**
 * How differently a batched prefill rounds from one-token decoding on SmolLM2 (the reason for the
 * greedy margin in gpu-runner/src/sampler-scores.ts): two greedy continuations, their first 200 tokens
 * evaluated in one batch and one token at a time; the relative difference of the top-5 probabilities
 * (p > 0.01), and where the top choice swaps, the one-token choice's share of the batched top.
 *   node --import tsx scripts/bench-prefill-rounding.ts
 */
import type { ControlledEvaluateInputItem, Token } from 'node-llama-cpp';
import { join } from 'node:path';
import { InferenceEngine } from '../gpu-runner/src/engine.js';
import { PLAIN_DISTRIBUTION } from '../gpu-runner/src/sampler-scores.js';
import { SMOLLM2, ensureRealModels } from '../test/models/real-models.js';

const POSITIONS = 200;
const engine = await InferenceEngine.load({ modelPath: join(await ensureRealModels([SMOLLM2]), `${SMOLLM2}.gguf`), sequences: 1, threads: 1, contextSize: 2048 });
const probe = (t: Token): ControlledEvaluateInputItem => [t, { generateNext: { probabilities: true, options: PLAIN_DISTRIBUTION } }];
const relative: number[] = [];
const atSwaps: number[] = [];
for (const prompt of ['Chapter 1\n\nThe history of the city begins in the year 1200, when', 'Chapter 2\n\nThe history of the city begins in the year 1200, when']) {
  const g = await engine.generate({ prompt, maxTokens: 256, temperature: 0 });
  const tokens = [...engine.promptTokens({ prompt }), ...engine.llamaModel.tokenize(g.text)].slice(0, POSITIONS);
  const batch = await engine.newSequence();
  const batched = await batch.controlledEvaluate(tokens.map(probe));
  batch.dispose();
  const single = await engine.newSequence();
  for (const [i, token] of tokens.entries()) {
    const [one] = await single.controlledEvaluate([probe(token)]);
    const a = batched[i]!.next.probabilities!;
    const b = one!.next.probabilities!;
    for (const [t, p] of [...b.entries()].slice(0, 5)) if (p > 0.01) relative.push(Math.abs((a.get(t) ?? 0) - p) / p);
    const [batchedTop] = a.keys();
    const [singleTop] = b.keys();
    if (batchedTop !== singleTop) atSwaps.push((a.get(singleTop!) ?? 0) / a.get(batchedTop!)!);
  }
  single.dispose();
}
relative.sort((x, y) => x - y);
const q = (f: number) => `${(relative[Math.min(relative.length - 1, Math.floor(relative.length * f))]! * 100).toFixed(2)}%`;
console.log(`${SMOLLM2}, ${2 * POSITIONS} positions, batched vs one-token probabilities of the top-5 tokens (p > 0.01, ${relative.length} values): relative difference p50 ${q(0.5)}, p90 ${q(0.9)}, p99 ${q(0.99)}, max ${q(1)}`);
console.log(`top choice swapped at ${atSwaps.length} positions; there the one-token choice had ${atSwaps.map((r) => r.toFixed(3)).join(', ')} of the batched top's probability`);
await engine.dispose();
