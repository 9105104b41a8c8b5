/**
 * USDC payouts on the configured chain, as three named steps that can never
 * pay twice: sign, broadcast and confirm, through the hot wallet's one
 * signed-once machinery (activities/chain-transactions.ts), each payout's
 * transaction kept in usdc_transfers. What is the payout's own: the address
 * and amount checks, the USDC balance the wallet must hold, and the words.
 */
import { encodeFunctionData, erc20Abi } from 'viem';
import { formatUsdc, isContract } from '../chain/client.js';
import { checksummedAddress, type ChainSettings } from '../chain/settings.js';
import type { Db } from '../platform/db.js';
import { CHAIN_WAIT, chainWait, createChainTransactions, fmtEth, type FinalTransaction, type TransactionStore } from './chain-transactions.js';

export interface UsdcPayout {
  payoutId: string;
  ownerId: string;
  credits: number;
  usdcBaseUnits: number;
  usdcAddress: string;
}

export type UsdcSigned = { ok: true; txHash: string; nonce: number; chainId: number } | { ok: false; reason: string };
export type UsdcFinal = FinalTransaction;

export { CHAIN_WAIT };

/** A USDC transfer costs about 35-60k gas; this bound is what the wallet must hold ETH for. */
const USDC_TRANSFER_GAS = 100_000n;

/** usdc_transfers, keyed by payout id. */
export function usdcTransferStore(db: Db): TransactionStore {
  return {
    find: (client, payoutId) => client.usdcTransfer.findUnique({ where: { payoutId } }),
    async create(tx, payoutId, t, extra) {
      const payee = extra as { toAddress: string; amountBaseUnits: bigint };
      await tx.usdcTransfer.create({ data: { payoutId, ...t, toAddress: payee.toAddress, amountBaseUnits: payee.amountBaseUnits } });
    },
    async update(payoutId, from, data) {
      await db.usdcTransfer.updateMany({ where: { payoutId, status: { in: from } }, data });
    },
  };
}

export function createUsdcPayoutActivities(deps: { db: Db; chain: ChainSettings | null }) {
  const txs = createChainTransactions(deps);
  const store = usdcTransferStore(deps.db);

  return {
    /** Builds and signs the payout's one transaction, stored with its hash before it leaves; run again, it returns the stored one. */
    async signUsdcTransfer(req: { payout: UsdcPayout }): Promise<UsdcSigned> {
      const p = req.payout;
      const earlier = await store.find(deps.db, p.payoutId);
      if (earlier) return { ok: true, txHash: earlier.txHash, nonce: earlier.nonce, chainId: earlier.chainId };
      const to = checksummedAddress(p.usdcAddress);
      if (!to.ok) return { ok: false, reason: `the payout address is not valid: ${to.problem}` };
      if (!Number.isSafeInteger(p.usdcBaseUnits) || p.usdcBaseUnits <= 0) return { ok: false, reason: `the payout amount ${p.usdcBaseUnits} is not a positive whole number of USDC base units` };
      const { chain, client } = await txs.ready();
      if (!chain.allowContractAddresses && (await isContract(client, to.address))) {
        return { ok: false, reason: `${to.address} is a contract on chain ${chain.chainId}, and this platform pays USDC to plain addresses only (TRD_USDC_ALLOW_CONTRACT_ADDRESSES)` };
      }
      const amount = BigInt(p.usdcBaseUnits);
      const signed = await txs.signOnce(store, p.payoutId, async ({ wallet, maxFeePerGas, ethBalance }) => {
        const usdcBalance = await client.readContract({ address: chain.usdcAddress, abi: erc20Abi, functionName: 'balanceOf', args: [wallet.address] });
        if (usdcBalance < amount || ethBalance < USDC_TRANSFER_GAS * maxFeePerGas) {
          throw chainWait(
            CHAIN_WAIT.underfunded,
            `the hot wallet ${wallet.address} holds ${formatUsdc(usdcBalance)} USDC and ${fmtEth(ethBalance)}; payout ${p.payoutId} needs ${formatUsdc(amount)} USDC and up to ${fmtEth(USDC_TRANSFER_GAS * maxFeePerGas)} for gas: fund it, and the payout is paid`,
          );
        }
        return {
          to: chain.usdcAddress,
          data: encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [to.address, amount] }),
          gas: USDC_TRANSFER_GAS,
          record: { toAddress: to.address, amountBaseUnits: amount },
        };
      });
      if (!signed.ok) throw new Error(`a USDC transfer is never skipped (${signed.skipped})`);
      return signed;
    },

    /** Sends the stored bytes; a node that has them, or mined them, is fine. */
    async broadcastUsdcTransfer(req: { payoutId: string }): Promise<{ txHash: string }> {
      return txs.broadcast(store, req.payoutId);
    },

    /** Final once mined under the configured confirmations (paid or reverted), or dropped; until then it says what it waits for. */
    async confirmUsdcTransfer(req: { payoutId: string }): Promise<UsdcFinal> {
      return txs.confirm(store, req.payoutId, 'USDC transfer');
    },
  };
}

export type UsdcPayoutActivities = ReturnType<typeof createUsdcPayoutActivities>;
