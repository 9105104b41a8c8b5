/**
 * A local EVM node: Hardhat 2.28's `hardhat node` (the Rust EDR) serving
 * JSON-RPC on 127.0.0.1, started like the other local services. Its state
 * lives in its memory only. Helpers deploy our contracts and fund accounts
 * with Hardhat's own RPC methods (hardhat_setBalance), as a faucet would.
 */
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createPublicClient, createWalletClient, getAddress, http, type Abi, type Hex, type PublicClient, type WalletClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { defineChain } from 'viem';
import { compileContracts, type ContractName } from '../chain/compile.js';
import { LOCAL_CHAIN_ID } from '../chain/settings.js';
import { envInt } from '../platform/env.js';
import { startProcess, type ManagedProcess } from './processes.js';

const require = createRequire(import.meta.url);
const CONFIG = fileURLToPath(new URL('./hardhat.config.cjs', import.meta.url));
/** Hardhat's first built-in account (its well-known test mnemonic): the local deployer and faucet, never a real key. */
export const LOCAL_DEPLOYER_KEY: Hex = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';

export const localChain = defineChain({
  id: LOCAL_CHAIN_ID,
  name: 'local',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [] } },
});

export interface LocalEvm {
  rpcUrl: string;
  chainId: number;
  process: ManagedProcess;
  publicClient: PublicClient;
  deployer: WalletClient;
  /** Deploys one of chain/contracts as the local deployer; resolves with its address once mined. */
  deploy(name: ContractName, args?: unknown[]): Promise<`0x${string}`>;
  /** Sends a contract call as the deployer and waits for it to be mined; returns the receipt. */
  write(address: `0x${string}`, abi: Abi, functionName: string, args: unknown[]): Promise<{ status: 'success' | 'reverted'; gasUsed: bigint }>;
  setEthBalance(address: `0x${string}`, wei: bigint): Promise<void>;
  /** Any JSON-RPC method (evm_mine, evm_setAutomine, hardhat_setNextBlockBaseFeePerGas, …). */
  rpc(method: string, params?: unknown[]): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startLocalEvm(opts: { port: number; dir: string; blockMs?: number; echo?: (line: string) => void }): Promise<LocalEvm> {
  await mkdir(`${opts.dir}/no-sources`, { recursive: true });
  const cli = require.resolve('hardhat/internal/cli/cli.js');
  const child = startProcess('evm', process.execPath, [cli, 'node', '--hostname', '127.0.0.1', '--port', String(opts.port), '--config', CONFIG], {
    // Hardhat refuses to run unless it resolves from its working folder: the repository's.
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { TRD_EVM_DIR: opts.dir, TRD_EVM_BLOCK_MS: String(opts.blockMs ?? envInt(process.env, 'TRD_EVM_BLOCK_MS')), HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true', DO_NOT_TRACK: '1' },
    // Not the twenty well-known test accounts it lists at start.
    echo: opts.echo && ((line) => !/Account #|Private Key|^\[evm\]\s*$/.test(line) && opts.echo!(line)),
  });
  try {
    await child.waitFor(/Started HTTP and WebSocket JSON-RPC server/, 120_000);
  } catch (err) {
    await child.stop('SIGKILL');
    throw err;
  }
  const rpcUrl = `http://127.0.0.1:${opts.port}`;
  const chain = { ...localChain, rpcUrls: { default: { http: [rpcUrl] } } };
  const transport = http(rpcUrl, { retryCount: 0 });
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 50 }) as PublicClient;
  const account = privateKeyToAccount(LOCAL_DEPLOYER_KEY);
  const deployer = createWalletClient({ chain, transport, account });
  const rpc = (method: string, params: unknown[] = []) => publicClient.request({ method: method as never, params: params as never });
  return {
    rpcUrl,
    chainId: LOCAL_CHAIN_ID,
    process: child,
    publicClient,
    deployer,
    rpc,
    async deploy(name, args = []) {
      const c = (await compileContracts())[name];
      const hash = await deployer.deployContract({ abi: c.abi, bytecode: c.bytecode, args, account, chain });
      const receipt = await publicClient.waitForTransactionReceipt({ hash });
      if (!receipt.contractAddress) throw new Error(`deploying ${name} made no contract (tx ${hash})`);
      return getAddress(receipt.contractAddress);
    },
    async write(address, abi, functionName, args) {
      const hash = await deployer.writeContract({ address, abi, functionName, args, account, chain } as never);
      const receipt = await publicClient.waitForTransactionReceipt({ hash });
      return { status: receipt.status, gasUsed: receipt.gasUsed };
    },
    async setEthBalance(address, wei) {
      await rpc('hardhat_setBalance', [address, `0x${wei.toString(16)}`]);
    },
    stop: () => child.stop('SIGTERM', 5000),
  };
}
