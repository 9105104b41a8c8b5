/** `trd-worker models ...`: model files on this machine. */
import { Command } from 'commander';
import { join } from 'node:path';
import { getLlama } from 'node-llama-cpp';
import { findModel } from '@trd/protocol';
import { sha256File } from '../model-files.js';
import { listModels, pullModel, removeModel, type PullProgress } from '../model-store.js';
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
  models
    .command('pull')
    .description('take a model into the models folder: a catalog name, an hf: URI or URL (resumable download with progress), or a local GGUF file')
    .argument('<name|hf:uri|url|path>')
    .option('--key <key>', 'catalog key the file serves (for a URI, URL or path)')
    .option('--models-dir <dir>', 'where model files live', defaultModelsDir())
    .action(async (source: string, o) => {
      const done = await pullModel(source, { modelsDir: o.modelsDir, key: o.key, onProgress: progressBar });
      if (process.stderr.isTTY) process.stderr.write('\n');
      console.log(`${done.key}: ${done.path} (${mib(done.sizeBytes)}, sha256 ${done.sha256})`);
    });

  models
    .command('list')
    .description('the models on this machine, with size, quantization and whether each fits in free VRAM')
    .option('--models-dir <dir>', 'where model files live', defaultModelsDir())
    .option('--json', 'one JSON array, for scripts')
    .action(async (o) => {
      const stored = await listModels(o.modelsDir);
      const llama = await getLlama();
      const freeMiB = Math.floor((await llama.getVramState()).free / 2 ** 20);
      const onGpu = llama.gpu !== false;
      await llama.dispose();
      const rows = stored.map((m) => ({
        key: m.key,
        size_bytes: m.sizeBytes,
        quantization: m.quantization,
        in_catalog: m.inCatalog,
        // On a CPU-only machine nothing goes to VRAM: "cpu" says the model runs from RAM.
        fits_in_vram: onGpu ? (m.minVramMiB === null ? null : m.minVramMiB <= freeMiB) : 'cpu',
        path: m.path,
      }));
      if (o.json) {
        console.log(JSON.stringify(rows));
        return;
      }
      if (rows.length === 0) console.log(`no models in ${o.modelsDir} (trd-worker models pull <name>)`);
      for (const r of rows) {
        const fits = r.fits_in_vram === 'cpu' ? 'runs on CPU' : r.fits_in_vram === null ? 'fit unknown' : r.fits_in_vram ? 'fits in VRAM' : 'does not fit in free VRAM';
        console.log(`${r.key.padEnd(24)} ${mib(r.size_bytes).padStart(10)}  ${(r.quantization ?? '?').padEnd(7)} ${fits}`);
      }
    });

  models
    .command('rm')
    .description('delete a model from the models folder')
    .argument('<key>')
    .option('--models-dir <dir>', 'where model files live', defaultModelsDir())
    .action(async (key: string, o) => {
      console.log(`removed ${await removeModel(o.modelsDir, key)}`);
    });
  return models;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** One line, redrawn: size, speed, ETA. Silent when stderr is not a terminal. */
function progressBar(p: PullProgress): void {
  if (!process.stderr.isTTY || !p.totalSize) return;
  const share = p.downloadedSize / p.totalSize;
  const width = 30;
  const bar = '#'.repeat(Math.round(share * width)).padEnd(width, '.');
  const eta = Number.isFinite(p.estimatedTimeLeft) ? `${Math.ceil(p.estimatedTimeLeft / 1000)} s` : '?';
  process.stderr.write(`\r[${bar}] ${(share * 100).toFixed(1)}% of ${mib(p.totalSize)} at ${mib(p.averageSpeed)}/s, ETA ${eta}   `);
}
