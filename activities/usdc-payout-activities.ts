/**
 * USDC payouts on the configured chain, as three named steps that can never
 * pay twice: sign (the transaction is built and signed once, and stored with
 * its hash before anyone broadcasts it), broadcast (the stored bytes, again
 * on every retry), and confirm (mined with the configured confirmations, or
 * found reverted, or dropped because its nonce went to another transaction).
 * While the chain is not ready (no funds, fees above the cap, confirmations
 * still coming) a step fails with a retryable error that says so: Temporal
 * tries again, and the pending activity in the history shows why it waits.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { TransactionNotFoundError, TransactionReceiptNotFoundError, encodeFunctionData, erc20Abi, keccak256, parseTransaction, type Hex, type PublicClient } from 'viem';
import { chainClient, formatUsdc, isContract, readHotWallet } from '../chain/client.js';
import { checksummedAddress, type ChainSettings } from '../chain/settings.js';
import type { Db } from '../platform/db.js';

export interface UsdcPayout {
  payoutId: string;
  ownerId: string;
  credits: number;
  usdcBaseUnits: number;
  usdcAddress: string;
}

export type UsdcSigned = { ok: true; txHash: string; nonce: number; chainId: number } | { ok: false; reason: string };
export type UsdcFinal =
  | { ok: true; txHash: string; blockNumber: number; gasUsed: number; effectiveGasPrice: string; confirmations: number }
  | { ok: false; txHash: string; reason: string };

/** Retryable failure types: the payout waits, and the type and message say what for. */
export const CHAIN_WAIT = {
  notConfigured: 'ChainNotConfigured',
  wrongChain: 'ChainIdMismatch',
  hotWallet: 'HotWalletUnavailable',
  underfunded: 'HotWalletUnderfunded',
  busy: 'HotWalletBusy',
  fees: 'GasPriceAboveCap',
  inclusion: 'AwaitingInclusion',
  confirmations: 'AwaitingConfirmations',
  broadcast: 'BroadcastFailed',
} as const;

const FINAL = ['confirmed', 'reverted', 'dropped'];
const wait = (type: string, message: string) => ApplicationFailure.retryable(message, type);
const fmtEth = (wei: bigint) => `${(Number(wei) / 1e18).toFixed(6)} ETH`;
/** Answers a node gives when it already has the transaction, or already mined it (nonce used). */
const ALREADY = /already known|known transaction|already imported|nonce too low|nonce has already been used|already been mined|Nonce too low/i;

export function createUsdcPayoutActivities(deps: { db: Db; chain: ChainSettings | null }) {
  const { db } = deps;
  const client = deps.chain ? chainClient(deps.chain) : null;

  async function ready(): Promise<{ chain: ChainSettings; client: PublicClient }> {
    if (!deps.chain || !client) throw wait(CHAIN_WAIT.notConfigured, 'no chain is configured on this orchestrator (TRD_CHAIN): the USDC payout waits for one that has it');
    const id = await client.getChainId();
    if (id !== deps.chain.chainId) throw wait(CHAIN_WAIT.wrongChain, `the RPC at ${deps.chain.rpcUrl} serves chain id ${id}, not the configured ${deps.chain.chainId}: nothing is signed`);
    return { chain: deps.chain, client };
  }

  const stored = (payoutId: string) => db.usdcTransfer.findUnique({ where: { payoutId } });

  async function send(client: PublicClient, raw: Hex): Promise<void> {
    try {
      await client.sendRawTransaction({ serializedTransaction: raw });
    } catch (err) {
      const text = errorText(err);
      if (!ALREADY.test(text)) throw wait(CHAIN_WAIT.broadcast, `the node refused the signed transaction ${keccak256(raw)} (it is sent again, the same bytes): ${text}`);
    }
  }

  return {
    /** Builds and signs the payout's one transaction, stored with its hash before it leaves; run again, it returns the stored one. */
    async signUsdcTransfer(req: { payout: UsdcPayout }): Promise<UsdcSigned> {
      const p = req.payout;
      const earlier = await stored(p.payoutId);
      if (earlier) return { ok: true, txHash: earlier.txHash, nonce: earlier.nonce, chainId: earlier.chainId };
      const to = checksummedAddress(p.usdcAddress);
      if (!to.ok) return { ok: false, reason: `the payout address is not valid: ${to.problem}` };
      if (!Number.isSafeInteger(p.usdcBaseUnits) || p.usdcBaseUnits <= 0) return { ok: false, reason: `the payout amount ${p.usdcBaseUnits} is not a positive whole number of USDC base units` };
      const { chain, client } = await ready();
      if (!chain.allowContractAddresses && (await isContract(client, to.address))) {
        return { ok: false, reason: `${to.address} is a contract on chain ${chain.chainId}, and this platform pays USDC to plain addresses only (TRD_USDC_ALLOW_CONTRACT_ADDRESSES)` };
      }
      let wallet;
      try {
        wallet = await readHotWallet(chain);
      } catch (err) {
        throw wait(CHAIN_WAIT.hotWallet, (err as Error).message);
      }
      const amount = BigInt(p.usdcBaseUnits);
      return db.$transaction(
        async (tx) => {
          // One signer per hot wallet at a time, across replicas: two transactions never take the same nonce.
          await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`hot-wallet:${chain.chainId}:${wallet.address}`}))`;
          const raced = await tx.usdcTransfer.findUnique({ where: { payoutId: p.payoutId } });
          if (raced) return { ok: true as const, txHash: raced.txHash, nonce: raced.nonce, chainId: raced.chainId };
          const open = await tx.usdcTransfer.findFirst({ where: { chainId: chain.chainId, fromAddress: wallet.address, status: { in: ['signed', 'broadcast'] } } });
          if (open) throw wait(CHAIN_WAIT.busy, `the hot wallet's transaction ${open.txHash} (payout ${open.payoutId}, nonce ${open.nonce}) is not final yet: this payout is signed after it`);
          const [block, usdcBalance, ethBalance] = await Promise.all([
            client.getBlock({ blockTag: 'latest' }),
            client.readContract({ address: chain.usdcAddress, abi: erc20Abi, functionName: 'balanceOf', args: [wallet.address] }),
            client.getBalance({ address: wallet.address }),
          ]);
          const baseFee = block.baseFeePerGas ?? 0n;
          if (baseFee > chain.maxFeePerGasWei) {
            throw wait(CHAIN_WAIT.fees, `the base fee is ${baseFee} wei, above the cap TRD_CHAIN_MAX_FEE_WEI ${chain.maxFeePerGasWei}: nothing is signed until it falls`);
          }
          const priority = chain.priorityFeeWei < chain.maxFeePerGasWei ? chain.priorityFeeWei : chain.maxFeePerGasWei;
          const wanted = baseFee * 2n + priority;
          const maxFeePerGas = wanted < chain.maxFeePerGasWei ? wanted : chain.maxFeePerGasWei;
          // A USDC transfer costs about 35-60k gas; this bound is what the wallet must hold ETH for.
          const gas = 100_000n;
          if (usdcBalance < amount || ethBalance < gas * maxFeePerGas) {
            throw wait(
              CHAIN_WAIT.underfunded,
              `the hot wallet ${wallet.address} holds ${formatUsdc(usdcBalance)} USDC and ${fmtEth(ethBalance)}; payout ${p.payoutId} needs ${formatUsdc(amount)} USDC and up to ${fmtEth(gas * maxFeePerGas)} for gas: fund it, and the payout is paid`,
            );
          }
          const nonce = await client.getTransactionCount({ address: wallet.address, blockTag: 'pending' });
          const rawTx = await wallet.signTransaction({
            chainId: chain.chainId,
            type: 'eip1559',
            to: chain.usdcAddress,
            data: encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [to.address, amount] }),
            value: 0n,
            nonce,
            gas,
            maxFeePerGas,
            maxPriorityFeePerGas: priority,
          });
          const txHash = keccak256(rawTx);
          await tx.usdcTransfer.create({
            data: { payoutId: p.payoutId, chainId: chain.chainId, fromAddress: wallet.address, toAddress: to.address, amountBaseUnits: amount, nonce, rawTx, txHash },
          });
          return { ok: true as const, txHash, nonce, chainId: chain.chainId };
        },
        { timeout: chain.rpcTimeoutMs * 6, maxWait: chain.rpcTimeoutMs },
      );
    },

    /** Sends the stored bytes; a node that has them, or mined them, is fine. */
    async broadcastUsdcTransfer(req: { payoutId: string }): Promise<{ txHash: string }> {
      const row = await db.usdcTransfer.findUniqueOrThrow({ where: { payoutId: req.payoutId } });
      if (FINAL.includes(row.status)) return { txHash: row.txHash };
      const { client } = await ready();
      await send(client, row.rawTx as Hex);
      await db.usdcTransfer.updateMany({ where: { payoutId: req.payoutId, status: 'signed' }, data: { status: 'broadcast' } });
      return { txHash: row.txHash };
    },

    /** Final once mined under the configured confirmations (paid or reverted), or dropped; until then it says what it waits for. */
    async confirmUsdcTransfer(req: { payoutId: string }): Promise<UsdcFinal> {
      const row = await db.usdcTransfer.findUniqueOrThrow({ where: { payoutId: req.payoutId } });
      if (FINAL.includes(row.status)) return finalOf(row);
      const { chain, client } = await ready();
      const hash = row.txHash as Hex;
      const receipt = await client.getTransactionReceipt({ hash }).catch((err) => (err instanceof TransactionReceiptNotFoundError ? null : Promise.reject(err)));
      if (receipt) {
        const head = await client.getBlockNumber();
        const confirmations = Number(head - receipt.blockNumber + 1n);
        if (confirmations < chain.confirmations) {
          throw wait(CHAIN_WAIT.confirmations, `${hash} is in block ${receipt.blockNumber}: ${confirmations} of ${chain.confirmations} confirmations`);
        }
        const mined = { blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed, effectiveGasPrice: receipt.effectiveGasPrice };
        const done =
          receipt.status === 'success'
            ? { status: 'confirmed', detail: `${confirmations} confirmations` }
            : { status: 'reverted', detail: `the USDC transfer ${hash} reverted in block ${receipt.blockNumber}${await revertReason(client, row, receipt.blockNumber)}` };
        await db.usdcTransfer.updateMany({ where: { payoutId: row.payoutId, status: { in: ['signed', 'broadcast'] } }, data: { ...mined, ...done } });
        return finalOf({ ...row, ...mined, ...done }, confirmations);
      }
      const pending = await client.getTransaction({ hash }).catch((err) => (err instanceof TransactionNotFoundError ? null : Promise.reject(err)));
      if (pending) {
        const block = await client.getBlock({ blockTag: 'latest' });
        const baseFee = block.baseFeePerGas ?? 0n;
        const why = pending.maxFeePerGas !== undefined && baseFee > pending.maxFeePerGas ? `: the base fee ${baseFee} wei is above its max fee ${pending.maxFeePerGas}, it waits for fees to fall` : '';
        throw wait(CHAIN_WAIT.inclusion, `${hash} waits in the node's mempool${why}`);
      }
      const confirmedNonce = await client.getTransactionCount({ address: row.fromAddress as Hex, blockTag: 'latest' });
      if (confirmedNonce > row.nonce) {
        const detail = `the USDC transfer ${hash} was dropped: the hot wallet's nonce ${row.nonce} went to another transaction, so it can never be mined`;
        await db.usdcTransfer.updateMany({ where: { payoutId: row.payoutId, status: { in: ['signed', 'broadcast'] } }, data: { status: 'dropped', detail } });
        return { ok: false, txHash: row.txHash, reason: detail };
      }
      // The node does not know it (its mempool dropped it, or the node restarted): the same bytes again.
      await send(client, row.rawTx as Hex);
      await db.usdcTransfer.updateMany({ where: { payoutId: row.payoutId, status: 'signed' }, data: { status: 'broadcast' } });
      throw wait(CHAIN_WAIT.inclusion, `${hash} was not known to the node (dropped from its mempool, or the node restarted): sent again, the same signed bytes`);
    },
  };
}

function finalOf(
  row: { txHash: string; status: string; detail: string | null; blockNumber: bigint | null; gasUsed: bigint | null; effectiveGasPrice: bigint | null },
  confirmations = 0,
): UsdcFinal {
  if (row.status === 'confirmed') {
    return { ok: true, txHash: row.txHash, blockNumber: Number(row.blockNumber), gasUsed: Number(row.gasUsed), effectiveGasPrice: String(row.effectiveGasPrice ?? 0n), confirmations };
  }
  return { ok: false, txHash: row.txHash, reason: row.detail ?? `the USDC transfer ${row.txHash} was ${row.status}` };
}

/** What the transfer reverted with, replayed as a call at its block (best effort: an RPC may not serve old state). */
async function revertReason(client: PublicClient, row: { fromAddress: string; rawTx: string }, blockNumber: bigint): Promise<string> {
  try {
    const tx = parseTransaction(row.rawTx as Hex);
    await client.call({ account: row.fromAddress as Hex, to: tx.to!, data: tx.data, blockNumber: blockNumber - 1n });
    return '';
  } catch (err) {
    return `: ${errorText(err)}`;
  }
}

function errorText(err: unknown): string {
  const e = err as { shortMessage?: string; details?: string; message?: string };
  return [e.shortMessage, e.details].filter(Boolean).join(' — ') || e.message || String(err);
}

export type UsdcPayoutActivities = ReturnType<typeof createUsdcPayoutActivities>;
