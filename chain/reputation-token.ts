/**
 * The reputation soulbound token (chain/contracts/TrdReputation.sol) as the
 * platform and anyone else reads it: the ABI of the calls we make (written
 * out, so production needs no compiler; a test holds it to solc's output),
 * the token id of a runner, and the API's values as the contract stores them.
 */
import { ContractFunctionRevertedError, BaseError, keccak256, parseAbi, toHex, type PublicClient } from 'viem';
import { cidOfSha256, parseCid, isRawSha256Cid } from '@trd/protocol';
import type { TrustTier } from '@trd/protocol';

export const REPUTATION_TOKEN_ABI = parseAbi([
  'struct Reputation { uint32 score; uint8 tier; bytes32 receiptHead; uint64 updatedAt; }',
  'struct Update { uint256 tokenId; uint32 score; uint8 tier; bytes32 receiptHead; }',
  'function mint(address holder, uint256 tokenId, uint32 score, uint8 tier, bytes32 receiptHead)',
  'function updateBatch(Update[] updates)',
  'function slash(uint256 tokenId, bytes32 evidence)',
  'function ownerOf(uint256 tokenId) view returns (address)',
  'function reputationOf(uint256 tokenId) view returns (Reputation)',
  'function locked(uint256 tokenId) view returns (bool)',
  'error ERC721NonexistentToken(uint256 tokenId)',
]);

export const TIER_INDEX: Record<TrustTier, number> = { probation: 0, verified: 1, trusted: 2 };
export const TIER_OF_INDEX: TrustTier[] = ['probation', 'verified', 'trusted'];
export const ZERO_HEAD = `0x${'0'.repeat(64)}` as const;

/** One token per runner: its id is uint256(keccak256(runner id)), so anyone finds a runner's token, and a second mint of it reverts. */
export function tokenIdOf(runnerId: string): bigint {
  return BigInt(keccak256(toHex(runnerId)));
}

/** The token's page on the chain's explorer (Basescan's token view), or null when the chain has none. */
export function tokenExplorerUrl(chain: { explorerUrl?: string | null; reputationToken?: string | null }, runnerId: string): string | null {
  return chain.explorerUrl && chain.reputationToken ? `${chain.explorerUrl}/token/${chain.reputationToken}?a=${tokenIdOf(runnerId)}` : null;
}

/** The API's 0–100 score as the contract's basis points (null, never computed: 0). */
export function scoreBpsOf(score: number | null): number {
  return Math.max(0, Math.min(100, score ?? 0)) * 100;
}

/** A receipt CID (raw, sha2-256) as the bytes32 the token stores: its digest. No receipt: zero. */
export function receiptHeadOf(cid: string | null): `0x${string}` {
  if (!cid) return ZERO_HEAD;
  const parsed = parseCid(cid);
  if (!isRawSha256Cid(parsed)) throw new Error(`${cid} is not a receipt CID (raw, sha2-256)`);
  return toHex(parsed.multihash.digest);
}

/** The CID a stored head names (null for zero): anyone fetches that receipt and checks it. */
export function cidOfHead(head: string): string | null {
  if (/^0x0{64}$/i.test(head)) return null;
  const bytes = Uint8Array.from(Buffer.from(head.slice(2), 'hex'));
  return cidOfSha256(bytes);
}

export interface OnChainReputation {
  holder: `0x${string}`;
  scoreBps: number;
  tier: number;
  receiptHead: `0x${string}`;
  updatedAt: number;
}

/** The token as the chain holds it now; null when there is none (never minted, or slashed). */
export async function readToken(client: PublicClient, token: `0x${string}`, tokenId: bigint): Promise<OnChainReputation | null> {
  try {
    const [holder, rep] = await Promise.all([
      client.readContract({ address: token, abi: REPUTATION_TOKEN_ABI, functionName: 'ownerOf', args: [tokenId] }),
      client.readContract({ address: token, abi: REPUTATION_TOKEN_ABI, functionName: 'reputationOf', args: [tokenId] }),
    ]);
    return { holder, scoreBps: rep.score, tier: rep.tier, receiptHead: rep.receiptHead, updatedAt: Number(rep.updatedAt) };
  } catch (err) {
    const revert = err instanceof BaseError ? (err.walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null) : null;
    if (revert?.data?.errorName === 'ERC721NonexistentToken') return null;
    throw err;
  }
}
