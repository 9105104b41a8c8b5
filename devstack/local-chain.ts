/**
 * The chain of `npm run dev`: a local EVM node (in memory, so deployed anew
 * at each start: the deployer's contracts always land at the same
 * addresses), the test USDC, the reputation token (its platform the hot
 * wallet), and a hot wallet whose key is kept in a 0600 file
 * of the state folder, funded with ETH for gas and 1,000,000 test USDC.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { Hex } from 'viem';
import { compileContracts } from '../chain/compile.js';
import { chainSettingsEnv } from '../chain/settings.js';
import { startLocalEvm } from './evm.js';

export async function startLocalChain(opts: { port: number; stateDir: string; blockMs?: number; echo?: (line: string) => void }) {
  const evm = await startLocalEvm({ port: opts.port, dir: opts.stateDir, blockMs: opts.blockMs ?? 1000, echo: opts.echo });
  try {
    const usdc = await evm.deploy('TestUsdc');
    const keyFile = join(opts.stateDir, 'hot-wallet.key');
    if (!existsSync(keyFile)) await writeFile(keyFile, `${generatePrivateKey()}\n`, { mode: 0o600 });
    const hotWallet = privateKeyToAccount((await readFile(keyFile, 'utf8')).trim() as Hex).address;
    await evm.setEthBalance(hotWallet, 10n ** 18n);
    await evm.write(usdc, (await compileContracts()).TestUsdc.abi, 'mint', [hotWallet, 1_000_000n * 10n ** 6n]);
    const reputationToken = await evm.deploy('TrdReputation', [hotWallet]);
    const env = chainSettingsEnv({
      name: 'local',
      chainId: evm.chainId,
      rpcUrl: evm.rpcUrl,
      confirmations: 2,
      usdcAddress: usdc,
      hotWalletKeyFile: keyFile,
      pollMs: 1000,
      rpcTimeoutMs: 10_000,
      maxFeePerGasWei: 50_000_000_000n,
      priorityFeeWei: 1_000_000n,
      allowContractAddresses: false,
      reputationToken,
      explorerUrl: null,
    });
    return { rpcUrl: evm.rpcUrl, chainId: evm.chainId, usdc, reputationToken, hotWallet, env, evm, stop: () => evm.stop() };
  } catch (err) {
    await evm.stop();
    throw err;
  }
}
