/**
 * The chain USDC payouts are paid on, as configuration: Base mainnet, Base
 * Sepolia, or a local node (Hardhat's EDR in tests and `npm run dev`). Only
 * the RPC URL, the USDC contract, the hot wallet's key file and the bounds
 * change between them; the code paths are the same. Unset TRD_CHAIN: no
 * USDC rail on this platform (Stripe only).
 */
import { getAddress, isAddress } from 'viem';
import { envInt, SettingsError } from '../platform/env.js';

export type ChainName = 'base' | 'base-sepolia' | 'local';

export interface ChainSettings {
  name: ChainName;
  chainId: number;
  rpcUrl: string;
  /** Blocks on top of the transfer's own block (itself counted) before a payout is marked paid. */
  confirmations: number;
  /** The USDC (6 decimals) contract, EIP-55 checksummed. */
  usdcAddress: `0x${string}`;
  /** A file holding the hot wallet's private key (0x + 64 hex); null: USDC payouts wait until one is configured. */
  hotWalletKeyFile: string | null;
  /** How often a payout waiting on the chain (confirmations, funds, fees) looks again. */
  pollMs: number;
  /** One JSON-RPC call's bound. */
  rpcTimeoutMs: number;
  /** No transfer is signed while the base fee is above this; a signed one's max fee never exceeds it (wei). */
  maxFeePerGasWei: bigint;
  priorityFeeWei: bigint;
  /** Owners may name a contract (a smart-contract wallet) as their USDC address. */
  allowContractAddresses: boolean;
}

/** Base's public facts; the RPC URLs are the public endpoints (rate-limited: give your provider's in production). */
export const KNOWN_CHAINS: Record<Exclude<ChainName, 'local'>, { chainId: number; rpcUrl: string; usdc: `0x${string}`; confirmations: number }> = {
  base: { chainId: 8453, rpcUrl: 'https://mainnet.base.org', usdc: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913', confirmations: 10 },
  'base-sepolia': { chainId: 84532, rpcUrl: 'https://sepolia.base.org', usdc: '0x036CbD53842c5426634e7929541eC2318f3dCF7e', confirmations: 3 },
};

export const LOCAL_CHAIN_ID = 31337;

type Env = Record<string, string | undefined>;

export function chainSettings(env: Env): ChainSettings | null {
  const raw = env.TRD_CHAIN?.trim();
  if (!raw) return null;
  if (raw !== 'base' && raw !== 'base-sepolia' && raw !== 'local') throw new SettingsError(`TRD_CHAIN must be base, base-sepolia or local, got ${JSON.stringify(raw)}`);
  const known = raw === 'local' ? null : KNOWN_CHAINS[raw];
  const chainId = envInt(env, 'TRD_CHAIN_ID', known?.chainId ?? LOCAL_CHAIN_ID);
  if (known && chainId !== known.chainId) throw new SettingsError(`TRD_CHAIN_ID ${chainId} is not ${raw}'s chain id (${known.chainId}); leave it unset`);
  const rpcUrl = env.TRD_CHAIN_RPC_URL?.trim() || known?.rpcUrl;
  if (!rpcUrl) throw new SettingsError('TRD_CHAIN_RPC_URL is not set (the local node\'s JSON-RPC URL, e.g. http://127.0.0.1:8545)');
  if (!/^https?:\/\/\S+$/.test(rpcUrl)) throw new SettingsError(`TRD_CHAIN_RPC_URL must be an http(s) URL, got ${JSON.stringify(rpcUrl)}`);
  const usdcRaw = env.TRD_USDC_ADDRESS?.trim() || known?.usdc;
  if (!usdcRaw) throw new SettingsError('TRD_USDC_ADDRESS is not set (the USDC contract on the local node)');
  const usdc = checksummedAddress(usdcRaw);
  if (!usdc.ok) throw new SettingsError(`TRD_USDC_ADDRESS: ${usdc.problem}`);
  const keyFile = env.TRD_HOT_WALLET_KEY_FILE?.trim() || null;
  return {
    name: raw,
    chainId,
    rpcUrl,
    confirmations: envInt(env, 'TRD_CHAIN_CONFIRMATIONS', known?.confirmations ?? 1),
    usdcAddress: usdc.address,
    hotWalletKeyFile: keyFile,
    pollMs: envInt(env, 'TRD_CHAIN_POLL_MS'),
    rpcTimeoutMs: envInt(env, 'TRD_CHAIN_RPC_TIMEOUT_MS'),
    maxFeePerGasWei: envWei(env, 'TRD_CHAIN_MAX_FEE_WEI', 50_000_000_000n),
    priorityFeeWei: envWei(env, 'TRD_CHAIN_PRIORITY_FEE_WEI', 1_000_000n),
    allowContractAddresses: env.TRD_USDC_ALLOW_CONTRACT_ADDRESSES === '1',
  };
}

export function chainSettingsEnv(s: ChainSettings | null): Record<string, string> {
  if (!s) return {};
  return {
    TRD_CHAIN: s.name,
    TRD_CHAIN_ID: String(s.chainId),
    TRD_CHAIN_RPC_URL: s.rpcUrl,
    TRD_CHAIN_CONFIRMATIONS: String(s.confirmations),
    TRD_USDC_ADDRESS: s.usdcAddress,
    ...(s.hotWalletKeyFile ? { TRD_HOT_WALLET_KEY_FILE: s.hotWalletKeyFile } : {}),
    TRD_CHAIN_POLL_MS: String(s.pollMs),
    TRD_CHAIN_RPC_TIMEOUT_MS: String(s.rpcTimeoutMs),
    TRD_CHAIN_MAX_FEE_WEI: String(s.maxFeePerGasWei),
    TRD_CHAIN_PRIORITY_FEE_WEI: String(s.priorityFeeWei),
    ...(s.allowContractAddresses ? { TRD_USDC_ALLOW_CONTRACT_ADDRESSES: '1' } : {}),
  };
}

function envWei(env: Env, name: string, fallback: bigint): bigint {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw)) throw new SettingsError(`${name} must be a whole number of wei, got ${JSON.stringify(raw)}`);
  return BigInt(raw);
}

/**
 * An address as owners and settings must give it: 0x and 40 hex digits in
 * EIP-55 mixed case, so a mistyped character is caught by its checksum.
 */
export function checksummedAddress(raw: string): { ok: true; address: `0x${string}` } | { ok: false; problem: string } {
  const v = raw.trim();
  if (!/^0x[0-9a-fA-F]{40}$/.test(v)) return { ok: false, problem: `${JSON.stringify(v)} is not an address (0x and 40 hex digits)` };
  const expected = getAddress(v.toLowerCase());
  if (v === v.toLowerCase() || v === `0x${v.slice(2).toUpperCase()}`) {
    return { ok: false, problem: `${v} has no EIP-55 checksum (all one case): give it as ${expected} after checking it is yours` };
  }
  if (!isAddress(v, { strict: true }) || v !== expected) return { ok: false, problem: `${v} fails its EIP-55 checksum: a character is wrong` };
  if (BigInt(v) === 0n) return { ok: false, problem: 'the zero address cannot receive payouts' };
  return { ok: true, address: expected };
}
