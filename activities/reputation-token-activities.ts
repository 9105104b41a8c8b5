/**
 * The reputation soulbound token's steps, run by the reputation sweep: which
 * runners get a token (tier Verified or above, none yet), which lose theirs
 * (a failed audit, a cheat another runner's re-execution confirmed, since
 * the token was minted), and one batch of the scores, tiers and receipt
 * heads that changed. Every transaction goes through the hot wallet's
 * signed-once machinery (activities/chain-transactions.ts), kept in
 * chain_transactions with what it writes; the token rows change only once
 * the chain confirmed it. The chain's own state is the last check before a
 * mint or slash is signed: a token already there is recorded, not minted
 * again.
 */
import { encodeFunctionData, keccak256, toHex } from 'viem';
import { REPUTATION_TOKEN_ABI, TIER_INDEX, readToken, receiptHeadOf, scoreBpsOf, tokenIdOf } from '../chain/reputation-token.js';
import type { ChainSettings } from '../chain/settings.js';
import type { Db } from '../platform/db.js';
import { auditWorkflowId } from '../platform/workflow-api.js';
import { createChainTransactions, type FinalTransaction, type TransactionStore } from './chain-transactions.js';

export const TOKEN_TX = { mint: 'reputation-mint', update: 'reputation-update', slash: 'reputation-slash' } as const;
type Purpose = (typeof TOKEN_TX)[keyof typeof TOKEN_TX];

export interface TokenValues {
  scoreBps: number;
  tier: number;
  receiptHead: `0x${string}`;
}
type MintPayload = TokenValues & { runnerId: string; tokenId: string; holder: string; contract: string };
type UpdatePayload = { updates: Array<TokenValues & { runnerId: string; tokenId: string }> };
type SlashPayload = { runnerId: string; tokenId: string; evidence: string };

export interface TokenPlan {
  configured: boolean;
  /** Token transactions an earlier sweep left unconfirmed: settled first (the wallet signs nothing new until they are final). */
  open: string[];
  slash: string[];
  mint: string[];
}

/** A step's answer: the key of the transaction to send, or why there is none. */
export type TokenStep = { key: string } | { key: null; detail: string };

/**
 * A confirmed cheat: an audit workflow's failed verdict (another runner re-executed the job and found the
 * claimed output false; its id is auditWorkflowId's). The platform's own refusals of a result and failed bench
 * challenges lower the score, but burn nothing: they are not a second runner's confirmation.
 */
const CONFIRMED_CHEAT = { passed: false, id: { startsWith: auditWorkflowId('') } };

/** Gas bounds (measured: mint ~143k, slash ~40k, updateBatch ~30k per changed runner; scripts/chain-costs.ts). */
const GAS = { mint: 250_000n, slash: 120_000n, updateBase: 60_000n, updatePerRunner: 45_000n };

function chainTransactionStore(db: Db): TransactionStore {
  return {
    find: (client, key) => client.chainTransaction.findUnique({ where: { key } }),
    async create(tx, key, t, record) {
      const r = record as { purpose: Purpose; payload: object };
      await tx.chainTransaction.create({ data: { key, ...t, purpose: r.purpose, payload: r.payload } });
    },
    async update(key, from, data) {
      await db.chainTransaction.updateMany({ where: { key, status: { in: from } }, data });
    },
  };
}

export function createReputationTokenActivities(deps: { db: Db; chain: ChainSettings | null; batchMax: number }) {
  const { db } = deps;
  const txs = createChainTransactions(deps);
  const store = chainTransactionStore(db);
  const token = deps.chain?.reputationToken ?? null;

  /** Each runner's values as the API has them now: score, tier, and the digest of its newest receipt's CID. */
  async function currentValues(runnerIds: string[]): Promise<Map<string, TokenValues>> {
    const runners = await db.runner.findMany({ where: { id: { in: runnerIds } }, select: { id: true, reputationScore: true, tier: true } });
    const heads = await db.$queryRaw<Array<{ worker_id: string; cid: string }>>`
      SELECT DISTINCT ON (j.worker_id) j.worker_id, r.cid FROM receipts r JOIN jobs j ON j.id = r.job_id
      WHERE j.worker_id = ANY(${runnerIds}) AND r.cid IS NOT NULL ORDER BY j.worker_id, r.created_at DESC, r.job_id DESC`;
    const headOf = new Map(heads.map((h) => [h.worker_id, h.cid]));
    return new Map(runners.map((r) => [r.id, { scoreBps: scoreBpsOf(r.reputationScore), tier: TIER_INDEX[r.tier], receiptHead: receiptHeadOf(headOf.get(r.id) ?? null) }]));
  }

  /** A token the chain has and this database does not (its record was lost, or another platform replica's confirm is late): recorded as the chain says. */
  async function recordFromChain(runnerId: string, contract: `0x${string}`, found: NonNullable<Awaited<ReturnType<typeof readToken>>>, chainId: number): Promise<void> {
    const values = { holder: found.holder, scoreBps: found.scoreBps, tier: found.tier, receiptHead: found.receiptHead };
    await db.reputationToken.upsert({
      where: { runnerId },
      create: { runnerId, chainId, contract, tokenId: tokenIdOf(runnerId).toString(), ...values },
      update: {},
    });
  }

  async function applyConfirmed(key: string): Promise<void> {
    const row = await db.chainTransaction.findUniqueOrThrow({ where: { key } });
    if (row.purpose === TOKEN_TX.mint) {
      const p = row.payload as unknown as MintPayload;
      const values = { holder: p.holder, scoreBps: p.scoreBps, tier: p.tier, receiptHead: p.receiptHead };
      await db.reputationToken.upsert({
        where: { runnerId: p.runnerId },
        create: { runnerId: p.runnerId, chainId: row.chainId, contract: p.contract, tokenId: p.tokenId, mintTxHash: row.txHash, ...values },
        update: { mintTxHash: row.txHash },
      });
    } else if (row.purpose === TOKEN_TX.update) {
      for (const u of (row.payload as unknown as UpdatePayload).updates) {
        await db.reputationToken.updateMany({ where: { runnerId: u.runnerId, status: 'minted' }, data: { scoreBps: u.scoreBps, tier: u.tier, receiptHead: u.receiptHead } });
      }
    } else if (row.purpose === TOKEN_TX.slash) {
      const p = row.payload as unknown as SlashPayload;
      await db.reputationToken.updateMany({ where: { runnerId: p.runnerId, status: 'minted' }, data: { status: 'slashed', slashTxHash: row.txHash, slashedAt: new Date() } });
    }
  }

  const step = (signed: Awaited<ReturnType<typeof txs.signOnce>>, key: string): TokenStep => (signed.ok ? { key } : { key: null, detail: signed.skipped });

  return {
    /** What this sweep sends, from the database; each step checks the chain again before it signs. */
    async planReputationToken(): Promise<TokenPlan> {
      if (!deps.chain || !token) return { configured: false, open: [], slash: [], mint: [] };
      const [open, unminted, minted] = await Promise.all([
        db.chainTransaction.findMany({ where: { purpose: { in: Object.values(TOKEN_TX) }, status: { in: ['signed', 'broadcast'] } }, orderBy: { nonce: 'asc' }, select: { key: true } }),
        db.runner.findMany({ where: { tier: { in: ['verified', 'trusted'] }, NOT: { id: { in: (await db.reputationToken.findMany({ select: { runnerId: true } })).map((t) => t.runnerId) } } }, orderBy: { id: 'asc' }, select: { id: true } }),
        db.reputationToken.findMany({ where: { status: 'minted' }, select: { runnerId: true, mintedAt: true } }),
      ]);
      const cheats = minted.length
        ? await db.runnerAudit.findMany({ where: { runnerId: { in: minted.map((m) => m.runnerId) }, ...CONFIRMED_CHEAT }, select: { runnerId: true, createdAt: true } })
        : [];
      const slash = minted.filter((m) => cheats.some((c) => c.runnerId === m.runnerId && c.createdAt >= m.mintedAt)).map((m) => m.runnerId).sort();
      return { configured: true, open: open.map((o) => o.key), slash, mint: unminted.map((r) => r.id) };
    },

    /** Signs the runner's mint (stored before broadcast), unless the chain or this database already has its token. */
    async signTokenMint(req: { runnerId: string; key: string }): Promise<TokenStep> {
      const tokenId = tokenIdOf(req.runnerId);
      const signed = await txs.signOnce(store, req.key, async ({ chain, client, wallet }) => {
        if (!token) return { skip: 'no reputation token is configured (TRD_REPUTATION_TOKEN_ADDRESS)' };
        const known = await db.reputationToken.findUnique({ where: { runnerId: req.runnerId } });
        if (known) return { skip: `${req.runnerId} has its token already (${known.status})` };
        const onChain = await readToken(client, token, tokenId);
        if (onChain) {
          await recordFromChain(req.runnerId, token, onChain, chain.chainId);
          return { skip: `${req.runnerId}'s token ${tokenId} is on chain already: recorded, not minted again` };
        }
        const runner = await db.runner.findUnique({ where: { id: req.runnerId }, select: { tier: true, ownerId: true } });
        if (!runner || runner.tier === 'probation') return { skip: `${req.runnerId} is not Verified now` };
        // The owner's USDC address when they gave one; otherwise the platform holds it (the token id names the runner either way).
        const rail = runner.ownerId ? await db.payoutRail.findUnique({ where: { ownerId: runner.ownerId } }) : null;
        const holder = rail?.rail === 'usdc' && rail.usdcAddress ? rail.usdcAddress : wallet.address;
        const v = (await currentValues([req.runnerId])).get(req.runnerId)!;
        const payload: MintPayload = { runnerId: req.runnerId, tokenId: tokenId.toString(), holder, contract: token, ...v };
        return {
          to: token,
          data: encodeFunctionData({ abi: REPUTATION_TOKEN_ABI, functionName: 'mint', args: [holder as `0x${string}`, tokenId, v.scoreBps, v.tier, v.receiptHead] }),
          gas: GAS.mint,
          record: { purpose: TOKEN_TX.mint, payload },
        };
      });
      return step(signed, req.key);
    },

    /** Signs one updateBatch of the minted tokens whose score, tier or receipt head changed (at most batchMax; the rest next sweep). */
    async signReputationUpdate(req: { key: string }): Promise<TokenStep & { runners: number }> {
      let runners = 0;
      const signed = await txs.signOnce(store, req.key, async () => {
        if (!token) return { skip: 'no reputation token is configured (TRD_REPUTATION_TOKEN_ADDRESS)' };
        const rows = await db.reputationToken.findMany({ where: { status: 'minted' }, orderBy: { runnerId: 'asc' } });
        const now = await currentValues(rows.map((r) => r.runnerId));
        const updates = rows
          .map((r) => ({ row: r, v: now.get(r.runnerId) }))
          .filter((x): x is { row: typeof x.row; v: TokenValues } => !!x.v && (x.v.scoreBps !== x.row.scoreBps || x.v.tier !== x.row.tier || x.v.receiptHead !== x.row.receiptHead))
          .slice(0, deps.batchMax)
          .map(({ row, v }) => ({ runnerId: row.runnerId, tokenId: row.tokenId, ...v }));
        if (!updates.length) return { skip: 'no token changed' };
        runners = updates.length;
        const payload: UpdatePayload = { updates };
        return {
          to: token,
          data: encodeFunctionData({
            abi: REPUTATION_TOKEN_ABI,
            functionName: 'updateBatch',
            args: [updates.map((u) => ({ tokenId: BigInt(u.tokenId), score: u.scoreBps, tier: u.tier, receiptHead: u.receiptHead }))],
          }),
          gas: GAS.updateBase + GAS.updatePerRunner * BigInt(updates.length),
          record: { purpose: TOKEN_TX.update, payload },
        };
      });
      if (signed.ok && !runners) runners = ((await db.chainTransaction.findUniqueOrThrow({ where: { key: req.key } })).payload as unknown as UpdatePayload).updates.length;
      return { ...step(signed, req.key), runners };
    },

    /** Signs the burn of a cheating runner's token, unless the chain has no token of it any more (then recorded as slashed). */
    async signTokenSlash(req: { runnerId: string; key: string }): Promise<TokenStep> {
      const tokenId = tokenIdOf(req.runnerId);
      const signed = await txs.signOnce(store, req.key, async ({ client }) => {
        if (!token) return { skip: 'no reputation token is configured (TRD_REPUTATION_TOKEN_ADDRESS)' };
        const row = await db.reputationToken.findUnique({ where: { runnerId: req.runnerId } });
        if (!row || row.status !== 'minted') return { skip: `${req.runnerId} has no token to slash` };
        if (!(await readToken(client, token, tokenId))) {
          await db.reputationToken.updateMany({ where: { runnerId: req.runnerId, status: 'minted' }, data: { status: 'slashed', slashedAt: new Date() } });
          return { skip: `${req.runnerId}'s token is not on chain any more: recorded as slashed` };
        }
        const cheat = await db.runnerAudit.findFirst({ where: { runnerId: req.runnerId, ...CONFIRMED_CHEAT, createdAt: { gte: row.mintedAt } }, orderBy: { createdAt: 'asc' } });
        // The evidence on chain names the failed audit; its record (GET the runner's audits) says what was found.
        const evidence = keccak256(toHex(cheat?.id ?? `slash:${req.runnerId}`));
        const payload: SlashPayload = { runnerId: req.runnerId, tokenId: tokenId.toString(), evidence };
        return { to: token, data: encodeFunctionData({ abi: REPUTATION_TOKEN_ABI, functionName: 'slash', args: [tokenId, evidence] }), gas: GAS.slash, record: { purpose: TOKEN_TX.slash, payload } };
      });
      return step(signed, req.key);
    },

    async broadcastChainTransaction(req: { key: string }): Promise<{ txHash: string }> {
      return txs.broadcast(store, req.key);
    },

    /** Final (confirmed, reverted or dropped); a confirmed one's writes reach the token rows here, once. */
    async confirmChainTransaction(req: { key: string }): Promise<FinalTransaction> {
      const final = await txs.confirm(store, req.key, 'reputation token transaction');
      if (final.ok) await applyConfirmed(req.key);
      return final;
    },
  };
}

export type ReputationTokenActivities = ReturnType<typeof createReputationTokenActivities>;
