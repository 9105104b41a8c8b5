/**
 * Our Solidity contracts (chain/contracts), compiled with solc's JavaScript
 * build at setup or test time; nothing compiled is committed. The output is
 * kept in the cache folder under a hash of the compiler version and every
 * source it read (ours and OpenZeppelin's), so an edit recompiles.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Abi, Hex } from 'viem';
import { envPath } from '../platform/env.js';

const require = createRequire(import.meta.url);
const CONTRACTS_DIR = fileURLToPath(new URL('./contracts/', import.meta.url));
/** Base runs Cancun-era opcodes; the local node is configured the same (devstack/hardhat.config.cjs). */
export const EVM_VERSION = 'cancun';

export interface CompiledContract {
  abi: Abi;
  bytecode: Hex;
}

export type ContractName = 'TestUsdc' | 'TrdReputation';

function sources(): Record<string, { content: string }> {
  return Object.fromEntries(
    readdirSync(CONTRACTS_DIR)
      .filter((f) => f.endsWith('.sol'))
      .sort()
      .map((f) => [f, { content: readFileSync(join(CONTRACTS_DIR, f), 'utf8') }]),
  );
}

function readImport(path: string): { contents: string } | { error: string } {
  if (!path.startsWith('@openzeppelin/contracts/')) return { error: `only OpenZeppelin imports are resolved, not ${path}` };
  const root = dirname(require.resolve('@openzeppelin/contracts/package.json'));
  const file = join(root, path.slice('@openzeppelin/contracts/'.length));
  return existsSync(file) ? { contents: readFileSync(file, 'utf8') } : { error: `${path} is not in @openzeppelin/contracts` };
}

let compiled: Promise<Record<ContractName, CompiledContract>> | null = null;

/** Every contract in chain/contracts, compiled once per process (and once per source change on this machine). */
export function compileContracts(): Promise<Record<ContractName, CompiledContract>> {
  compiled ??= compile();
  return compiled;
}

async function compile(): Promise<Record<ContractName, CompiledContract>> {
  const solc = require('solc') as { version(): string; compile(input: string, opts: { import(path: string): unknown }): string };
  const input = {
    language: 'Solidity',
    sources: sources(),
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: EVM_VERSION, outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
  };
  const read: string[] = [];
  const ozVersion = require('@openzeppelin/contracts/package.json').version as string;
  const key = createHash('sha256').update(JSON.stringify([solc.version(), ozVersion, input])).digest('hex').slice(0, 16);
  const cacheDir = join(envPath(process.env, 'TRD_CACHE_DIR'), 'contracts');
  const cacheFile = join(cacheDir, `${key}.json`);
  if (existsSync(cacheFile)) return JSON.parse(await readFile(cacheFile, 'utf8'));
  const output = JSON.parse(
    solc.compile(JSON.stringify(input), {
      import: (path: string) => {
        read.push(path);
        return readImport(path);
      },
    }),
  ) as { errors?: Array<{ severity: string; formattedMessage: string }>; contracts: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>> };
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(`solc ${solc.version()} refused chain/contracts:\n${errors.map((e) => e.formattedMessage).join('\n')}`);
  const result: Record<string, CompiledContract> = {};
  for (const [file, contracts] of Object.entries(output.contracts)) {
    if (!(file in input.sources)) continue;
    for (const [name, c] of Object.entries(contracts)) result[name] = { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
  }
  await mkdir(cacheDir, { recursive: true });
  await writeFile(cacheFile, JSON.stringify(result));
  return result as Record<ContractName, CompiledContract>;
}
