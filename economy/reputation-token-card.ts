/**
 * A runner's reputation token as its public card shows it: where it is
 * (chain, contract, token id, an explorer link when the chain has one) and
 * what the chain holds now, read with viem from the chain itself beside the
 * score the API computes, so anyone can compare the two (and read the
 * contract without us: `reputationOf(token_id)`).
 */
import type { PublicClient } from 'viem';
import { TIER_OF_INDEX, cidOfHead, readToken, tokenExplorerUrl, tokenIdOf } from '../chain/reputation-token.js';
import type { ChainSettings } from '../chain/settings.js';
import type { Db } from '../platform/db.js';

export interface TokenCard {
  chain_id: number;
  contract: `0x${string}`;
  token_id: string;
  /** minted | slashed (burned on a confirmed cheat) | not_minted (not Verified yet) */
  status: 'minted' | 'slashed' | 'not_minted';
  explorer_url: string | null;
  mint_tx: string | null;
  slash_tx: string | null;
  /** What the contract holds now; null when it has no token of this runner, or could not be read (read_error). */
  on_chain: { holder: string; reputation_score: number; tier: string; receipt_head_cid: string | null; updated_at: string } | null;
  read_error?: string;
}

export async function tokenCard(db: Db, chain: ChainSettings, client: PublicClient, runnerId: string): Promise<TokenCard | null> {
  if (!chain.reputationToken) return null;
  const tokenId = tokenIdOf(runnerId);
  const row = await db.reputationToken.findUnique({ where: { runnerId } });
  const base = {
    chain_id: chain.chainId,
    contract: chain.reputationToken,
    token_id: tokenId.toString(),
    status: (row?.status ?? 'not_minted') as TokenCard['status'],
    explorer_url: tokenExplorerUrl(chain, runnerId),
    mint_tx: row?.mintTxHash ?? null,
    slash_tx: row?.slashTxHash ?? null,
  };
  try {
    const t = await readToken(client, chain.reputationToken, tokenId);
    return {
      ...base,
      on_chain: t && {
        holder: t.holder,
        // Basis points back to the API's 0–100 scale (the mint and every batch write score × 100).
        reputation_score: t.scoreBps / 100,
        tier: TIER_OF_INDEX[t.tier] ?? `unknown (${t.tier})`,
        receipt_head_cid: cidOfHead(t.receiptHead),
        updated_at: new Date(t.updatedAt * 1000).toISOString(),
      },
    };
  } catch (err) {
    // The card still answers when the RPC does not: it says so instead of guessing.
    return { ...base, on_chain: null, read_error: `the chain could not be read: ${(err as { shortMessage?: string }).shortMessage ?? (err as Error).message}` };
  }
}
