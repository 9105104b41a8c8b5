/** This test file's own local EVM node (devstack/evm.ts), with the test USDC deployed: started before its tests, stopped after. */
import { afterAll, beforeAll } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { erc20Abi, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { compileContracts } from '../../chain/compile.js';
import type { ChainSettings } from '../../chain/settings.js';
import { startLocalEvm, type LocalEvm } from '../../devstack/evm.js';
import { freePort } from '../../devstack/ports.js';

export interface TestChain {
  evm: LocalEvm;
  usdc: `0x${string}`;
  dir: string;
  /** A fresh hot wallet: its key in a 0600 file, as the orchestrator reads it. */
  hotWallet: { address: `0x${string}`; keyFile: string; key: Hex };
  /** The platform's chain settings for this node (short bounds). */
  settings(overrides?: Partial<ChainSettings>): ChainSettings;
  usdcBalance(address: `0x${string}`): Promise<bigint>;
  mintUsdc(to: `0x${string}`, baseUnits: bigint): Promise<void>;
  /** A fresh externally owned address, EIP-55 checksummed. */
  newAddress(): `0x${string}`;
}

export async function startTestChain(opts: { blockMs?: number; echo?: (line: string) => void } = {}): Promise<TestChain & { stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'trd-evm-'));
  const [evm] = await Promise.all([startLocalEvm({ port: await freePort(), dir, blockMs: opts.blockMs, echo: opts.echo ?? (process.env.TRD_TEST_ECHO ? console.log : undefined) }), compileContracts()]);
  const usdc = await evm.deploy('TestUsdc');
  const key = generatePrivateKey();
  const keyFile = join(dir, 'hot-wallet.key');
  await writeFile(keyFile, `${key}\n`, { mode: 0o600 });
  const hotWallet = { address: privateKeyToAccount(key).address, keyFile, key };
  const { abi } = (await compileContracts()).TestUsdc;
  return {
    evm,
    usdc,
    dir,
    hotWallet,
    settings: (overrides = {}) => ({
      name: 'local',
      chainId: evm.chainId,
      rpcUrl: evm.rpcUrl,
      confirmations: 1,
      usdcAddress: usdc,
      hotWalletKeyFile: keyFile,
      pollMs: 100,
      rpcTimeoutMs: 2000,
      maxFeePerGasWei: 50_000_000_000n,
      priorityFeeWei: 1_000_000n,
      allowContractAddresses: false,
      ...overrides,
    }),
    usdcBalance: (address) => evm.publicClient.readContract({ address: usdc, abi: erc20Abi, functionName: 'balanceOf', args: [address] }),
    async mintUsdc(to, baseUnits) {
      const r = await evm.write(usdc, abi, 'mint', [to, baseUnits]);
      if (r.status !== 'success') throw new Error('mint reverted');
    },
    newAddress: () => privateKeyToAccount(generatePrivateKey()).address,
    async stop() {
      await evm.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The node for this file's tests. */
export function useTestChain(opts: Parameters<typeof startTestChain>[0] = {}): TestChain {
  let started: (TestChain & { stop(): Promise<void> }) | undefined;
  beforeAll(async () => {
    started = await startTestChain(opts);
  });
  afterAll(async () => {
    await started?.stop();
  });
  return new Proxy({} as TestChain, {
    get(_t, prop) {
      if (!started) throw new Error(`the chain is not started yet (chain.${String(prop)})`);
      const v = Reflect.get(started, prop);
      return typeof v === 'function' ? v.bind(started) : v;
    },
  });
}
