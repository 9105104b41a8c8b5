/**
 * Dishonest runners, for the audit tests (TRD_RUNNER_FAULTS=cheat=…). Each
 * saves compute and returns a result that passes the platform's structural
 * check (right model name and hash, counts within max_tokens, 'length' only
 * at max_tokens), so only an audit can catch it:
 *  - other-model: answers with a cheaper model (TRD_RUNNER_CHEAT_MODEL, or a
 *    tiny model of another seed written on first use) and claims the real one;
 *  - truncate-pad: generates half the tokens and pads with filler to the
 *    claimed count;
 *  - replay: returns the text of an earlier job it answered, counts adjusted.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceEngine, type GenerateRequest, type Generation } from '../src/engine.js';
import { writeTinyModel } from '../src/tiny-model.js';

export const CHEATS = ['other-model', 'truncate-pad', 'replay'] as const;
export type Cheat = (typeof CHEATS)[number];

/** One token per missing token in most vocabularies (a word piece of the tiny model too). */
const FILLER = ' the';
/** The seed of the stand-in model when no TRD_RUNNER_CHEAT_MODEL is given (the catalog's trd-tiny is seed 42). */
const OTHER_MODEL_SEED = 7;

export class CheatingRunner {
  private other: Promise<InferenceEngine> | null = null;
  private readonly answered: Generation[] = [];

  constructor(
    readonly cheat: Cheat,
    private readonly opts: { otherModelPath?: string; threads?: number; contextSize?: number } = {},
  ) {}

  async generate(engine: InferenceEngine, req: GenerateRequest): Promise<Generation> {
    if (this.cheat === 'other-model') return (await this.otherModel()).generate(req);
    if (this.cheat === 'truncate-pad') return this.truncateAndPad(engine, req);
    return this.replay(engine, req);
  }

  private async truncateAndPad(engine: InferenceEngine, req: GenerateRequest): Promise<Generation> {
    const short = await engine.generate({ ...req, maxTokens: Math.max(1, Math.floor(req.maxTokens / 2)) });
    // Ended by itself (end of text or a stop string): nothing to pad, and padding would show.
    if (short.finishReason === 'stop') return short;
    const missing = req.maxTokens - short.completionTokens;
    return { ...short, text: short.text + FILLER.repeat(missing), completionTokens: req.maxTokens, finishReason: 'length' };
  }

  private async replay(engine: InferenceEngine, req: GenerateRequest): Promise<Generation> {
    // The latest earlier answer that fits this job's max_tokens, its counts made to match this job.
    const earlier = [...this.answered].reverse().find((gen) => gen.completionTokens <= req.maxTokens);
    if (!earlier) {
      // Nothing to replay yet: answer honestly, to have something to replay later.
      const gen = await engine.generate(req);
      this.answered.push(gen);
      return gen;
    }
    return { ...earlier, finishReason: earlier.completionTokens === req.maxTokens ? 'length' : 'stop' };
  }

  private otherModel(): Promise<InferenceEngine> {
    this.other ??= (async () => {
      let path = this.opts.otherModelPath;
      if (!path) {
        path = join(await mkdtemp(join(tmpdir(), 'trd-cheat-')), `tiny-seed-${OTHER_MODEL_SEED}.gguf`);
        await writeTinyModel(path, OTHER_MODEL_SEED);
      }
      return InferenceEngine.load({ modelPath: path, sequences: 1, threads: this.opts.threads ?? 1, contextSize: this.opts.contextSize });
    })();
    return this.other;
  }

  async dispose(): Promise<void> {
    const other = await this.other?.catch(() => null);
    this.other = null;
    await other?.dispose();
  }
}
