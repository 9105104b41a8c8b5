/** A JSON-RPC client of the configured chain (viem), and the hot wallet's key read from its file. */
import { readFile } from 'node:fs/promises';
import { createPublicClient, defineChain, http, type Hex, type PublicClient } from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import type { ChainSettings } from './settings.js';

export function chainClient(s: ChainSettings): PublicClient {
  const chain = defineChain({ id: s.chainId, name: s.name, nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [s.rpcUrl] } } });
  // No retries inside viem: Temporal retries the activity, and its history says why.
  return createPublicClient({ chain, transport: http(s.rpcUrl, { retryCount: 0, timeout: s.rpcTimeoutMs }) }) as PublicClient;
}

/** The hot wallet, from TRD_HOT_WALLET_KEY_FILE (0x and 64 hex digits); a clear error if missing or malformed. */
export async function readHotWallet(s: ChainSettings): Promise<PrivateKeyAccount> {
  if (!s.hotWalletKeyFile) throw new Error('no hot wallet: TRD_HOT_WALLET_KEY_FILE is not set');
  let raw: string;
  try {
    raw = (await readFile(s.hotWalletKeyFile, 'utf8')).trim();
  } catch (err) {
    throw new Error(`TRD_HOT_WALLET_KEY_FILE ${s.hotWalletKeyFile} cannot be read: ${(err as Error).message}`);
  }
  if (!/^0x[0-9a-fA-F]{64}$/.test(raw)) throw new Error(`TRD_HOT_WALLET_KEY_FILE ${s.hotWalletKeyFile} does not hold a private key (0x and 64 hex digits)`);
  return privateKeyToAccount(raw as Hex);
}

/** Whether code lives at the address (a contract, or a smart-contract wallet). */
export async function isContract(client: PublicClient, address: `0x${string}`): Promise<boolean> {
  const code = await client.getCode({ address });
  return !!code && code !== '0x';
}

/** Units of a 6-decimals token as text, e.g. 40000000 → "40.000000". */
export function formatUsdc(baseUnits: bigint): string {
  const s = baseUnits.toString().padStart(7, '0');
  return `${s.slice(0, -6)}.${s.slice(-6)}`;
}
