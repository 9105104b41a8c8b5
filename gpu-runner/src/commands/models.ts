/** `trd-worker models ...`: model files on this machine. */
import { Command } from 'commander';
import { join } from 'node:path';
import { findModel } from '@trd/protocol';
import { sha256File } from '../model-files.js';
import { defaultModelsDir } from '../paths.js';
import { writeTinyModel } from '../tiny-model.js';
import { positiveInt } from './options.js';

export function modelsCommand(): Command {
  const models = new Command('models').description('manage model files');
  models
    .command('make-tiny')
    .description('write the generated tiny test model (seeded random weights; works offline)')
    .option('--seed <n>', 'weight seed (the catalog\'s trd-tiny uses its own seed)', positiveInt('--seed', 0xffffffff))
    .option('--out <path>', 'output file (default: trd-tiny.gguf in the models folder)')
    .action(async (o) => {
      const tiny = findModel('trd-tiny');
      const seed = o.seed ?? (tiny?.source.kind === 'generated' ? tiny.source.seed : 42);
      const out = o.out ?? join(defaultModelsDir(), 'trd-tiny.gguf');
      await writeTinyModel(out, seed);
      console.log(`${out}\nsha256 ${await sha256File(out)}`);
    });
  return models;
}
