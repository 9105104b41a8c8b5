/**
 * The platform's transactions on the configured chain, signed by the hot
 * wallet, in three steps that can never send two where one was meant: sign
 * (built and signed once, stored with its hash before anyone broadcasts it),
 * broadcast (the stored bytes, again on every retry), and confirm (mined
 * with the configured confirmations, or found reverted, or dropped because
 * its nonce went to another transaction). USDC payouts keep theirs in
 * usdc_transfers, the reputation token's in chain_transactions: both go
 * through here, under one lock per hot wallet, so the wallet's nonces are
 * one sequence whatever signs. While the chain is not ready (no funds, fees
 * above the cap, confirmations still coming) a step fails with a retryable
 * error that says so: Temporal tries again, and the pending activity in the
 * history shows why it waits.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { TransactionNotFoundError, TransactionReceiptNotFoundError, keccak256, parseTransaction, type Hex, type PublicClient } from 'viem';
import type { PrivateKeyAccount } from 'viem/accounts';
import { chainClient, readHotWallet } from '../chain/client.js';
import type { ChainSettings } from '../chain/settings.js';
import type { Db } from '../platform/db.js';
import { ChainWaits } from '../platform/workflow-api.js';

export const CHAIN_WAIT = ChainWaits;

/** A stored transaction, as both tables hold it. */
export interface StoredTransaction {
  txHash: string;
  nonce: number;
  chainId: number;
  fromAddress: string;
  rawTx: string;
  status: string;
  detail: string | null;
  blockNumber: bigint | null;
  gasUsed: bigint | null;
  effectiveGasPrice: bigint | null;
}

type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

/** Where one kind of transaction is kept, by its business key (a payout id, a token step's key). */
export interface TransactionStore {
  find(db: Db | Tx, key: string): Promise<StoredTransaction | null>;
  /** `record`: what the builder gave to keep beside the bytes (the payee and amount, what a token step writes). */
  create(tx: Tx, key: string, signed: { chainId: number; fromAddress: string; toAddress: string; nonce: number; rawTx: string; txHash: string }, record: unknown): Promise<void>;
  /** Writes `data` while the row's status is one of `from` (so a final state is written once). */
  update(key: string, from: string[], data: Partial<Pick<StoredTransaction, 'status' | 'detail' | 'blockNumber' | 'gasUsed' | 'effectiveGasPrice'>>): Promise<void>;
}

export type SignedTransaction = { ok: true; txHash: string; nonce: number; chainId: number };
export type FinalTransaction =
  | { ok: true; txHash: string; blockNumber: number; gasUsed: number; effectiveGasPrice: string; confirmations: number }
  | { ok: false; txHash: string; reason: string };

/** What to sign, decided inside the wallet's lock with its fees known; or why nothing is signed. */
export type Built = { to: `0x${string}`; data: Hex; gas: bigint; record?: unknown } | { skip: string };

export const FINAL = ['confirmed', 'reverted', 'dropped'];
const OPEN = ['signed', 'broadcast'];
export const chainWait = (type: string, message: string) => ApplicationFailure.retryable(message, type);
export const fmtEth = (wei: bigint) => `${(Number(wei) / 1e18).toFixed(6)} ETH`;
/** Answers a node gives when it already has the transaction, or already mined it (nonce used). */
const ALREADY = /already known|known transaction|already imported|nonce too low|nonce has already been used|already been mined|Nonce too low/i;

export function createChainTransactions(deps: { db: Db; chain: ChainSettings | null }) {
  const { db } = deps;
  const client = deps.chain ? chainClient(deps.chain) : null;

  async function ready(): Promise<{ chain: ChainSettings; client: PublicClient }> {
    if (!deps.chain || !client) throw chainWait(CHAIN_WAIT.notConfigured, 'no chain is configured on this orchestrator (TRD_CHAIN): the transaction waits for one that has it');
    const id = await client.getChainId();
    if (id !== deps.chain.chainId) throw chainWait(CHAIN_WAIT.wrongChain, `the RPC at ${deps.chain.rpcUrl} serves chain id ${id}, not the configured ${deps.chain.chainId}: nothing is signed`);
    return { chain: deps.chain, client };
  }

  async function wallet(chain: ChainSettings): Promise<PrivateKeyAccount> {
    try {
      return await readHotWallet(chain);
    } catch (err) {
      throw chainWait(CHAIN_WAIT.hotWallet, (err as Error).message);
    }
  }

  async function send(client: PublicClient, raw: Hex): Promise<void> {
    try {
      await client.sendRawTransaction({ serializedTransaction: raw });
    } catch (err) {
      const text = errorText(err);
      if (!ALREADY.test(text)) throw chainWait(CHAIN_WAIT.broadcast, `the node refused the signed transaction ${keccak256(raw)} (it is sent again, the same bytes): ${text}`);
    }
  }

  /** The hot wallet's transaction not final yet, of any kind: the next one is signed after it. */
  async function openTransaction(tx: Tx, chainId: number, fromAddress: string): Promise<{ key: string; txHash: string; nonce: number } | null> {
    const where = { chainId, fromAddress, status: { in: OPEN } };
    const usdc = await tx.usdcTransfer.findFirst({ where });
    if (usdc) return { key: `payout ${usdc.payoutId}`, txHash: usdc.txHash, nonce: usdc.nonce };
    const other = await tx.chainTransaction.findFirst({ where });
    return other ? { key: other.key, txHash: other.txHash, nonce: other.nonce } : null;
  }

  return {
    ready,
    /**
     * Signs the one transaction of `key`, stored with its hash before it leaves; run again, it returns the
     * stored one. `build` runs inside the wallet's lock (so it sees the chain as no other signer changes it)
     * and may decline to sign (or wait, by throwing), knowing the fee it will be signed at.
     */
    async signOnce(
      store: TransactionStore,
      key: string,
      build: (ctx: { chain: ChainSettings; client: PublicClient; wallet: PrivateKeyAccount; maxFeePerGas: bigint; ethBalance: bigint }) => Promise<Built>,
    ): Promise<SignedTransaction | { ok: false; skipped: string }> {
      const earlier = await store.find(db, key);
      if (earlier) return { ok: true, txHash: earlier.txHash, nonce: earlier.nonce, chainId: earlier.chainId };
      const { chain, client } = await ready();
      const signer = await wallet(chain);
      return db.$transaction(
        async (tx) => {
          // One signer per hot wallet at a time, across replicas: two transactions never take the same nonce.
          await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`hot-wallet:${chain.chainId}:${signer.address}`}))`;
          const raced = await store.find(tx, key);
          if (raced) return { ok: true as const, txHash: raced.txHash, nonce: raced.nonce, chainId: raced.chainId };
          const open = await openTransaction(tx, chain.chainId, signer.address);
          if (open) throw chainWait(CHAIN_WAIT.busy, `the hot wallet's transaction ${open.txHash} (${open.key}, nonce ${open.nonce}) is not final yet: ${key} is signed after it`);
          const [block, ethBalance] = await Promise.all([client.getBlock({ blockTag: 'latest' }), client.getBalance({ address: signer.address })]);
          const baseFee = block.baseFeePerGas ?? 0n;
          if (baseFee > chain.maxFeePerGasWei) {
            throw chainWait(CHAIN_WAIT.fees, `the base fee is ${baseFee} wei, above the cap TRD_CHAIN_MAX_FEE_WEI ${chain.maxFeePerGasWei}: nothing is signed until it falls`);
          }
          const priority = chain.priorityFeeWei < chain.maxFeePerGasWei ? chain.priorityFeeWei : chain.maxFeePerGasWei;
          const wanted = baseFee * 2n + priority;
          const maxFeePerGas = wanted < chain.maxFeePerGasWei ? wanted : chain.maxFeePerGasWei;
          const built = await build({ chain, client, wallet: signer, maxFeePerGas, ethBalance });
          if ('skip' in built) return { ok: false as const, skipped: built.skip };
          if (ethBalance < built.gas * maxFeePerGas) {
            throw chainWait(CHAIN_WAIT.underfunded, `the hot wallet ${signer.address} holds ${fmtEth(ethBalance)}; ${key} needs up to ${fmtEth(built.gas * maxFeePerGas)} for gas: fund it, and it is sent`);
          }
          const nonce = await client.getTransactionCount({ address: signer.address, blockTag: 'pending' });
          const rawTx = await signer.signTransaction({ chainId: chain.chainId, type: 'eip1559', to: built.to, data: built.data, value: 0n, nonce, gas: built.gas, maxFeePerGas, maxPriorityFeePerGas: priority });
          const txHash = keccak256(rawTx);
          await store.create(tx, key, { chainId: chain.chainId, fromAddress: signer.address, toAddress: built.to, nonce, rawTx, txHash }, built.record);
          return { ok: true as const, txHash, nonce, chainId: chain.chainId };
        },
        { timeout: chain.rpcTimeoutMs * 6, maxWait: chain.rpcTimeoutMs },
      );
    },

    /** Sends the stored bytes; a node that has them, or mined them, is fine. */
    async broadcast(store: TransactionStore, key: string): Promise<{ txHash: string }> {
      const row = await store.find(db, key);
      if (!row) throw ApplicationFailure.nonRetryable(`no signed transaction ${key}`, CHAIN_WAIT.unknownTransaction);
      if (FINAL.includes(row.status)) return { txHash: row.txHash };
      const { client } = await ready();
      await send(client, row.rawTx as Hex);
      await store.update(key, ['signed'], { status: 'broadcast' });
      return { txHash: row.txHash };
    },

    /** Final once mined under the configured confirmations (confirmed or reverted), or dropped; until then it says what it waits for. */
    async confirm(store: TransactionStore, key: string, what: string): Promise<FinalTransaction> {
      const row = await store.find(db, key);
      if (!row) throw ApplicationFailure.nonRetryable(`no signed transaction ${key}`, CHAIN_WAIT.unknownTransaction);
      if (FINAL.includes(row.status)) return finalOf(row);
      const { chain, client } = await ready();
      const hash = row.txHash as Hex;
      const receipt = await client.getTransactionReceipt({ hash }).catch((err) => (err instanceof TransactionReceiptNotFoundError ? null : Promise.reject(err)));
      if (receipt) {
        const head = await client.getBlockNumber();
        const confirmations = Number(head - receipt.blockNumber + 1n);
        if (confirmations < chain.confirmations) {
          throw chainWait(CHAIN_WAIT.confirmations, `${hash} is in block ${receipt.blockNumber}: ${confirmations} of ${chain.confirmations} confirmations`);
        }
        const mined = { blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed, effectiveGasPrice: receipt.effectiveGasPrice };
        const done =
          receipt.status === 'success'
            ? { status: 'confirmed', detail: `${confirmations} confirmations` }
            : { status: 'reverted', detail: `the ${what} ${hash} reverted in block ${receipt.blockNumber}${await revertReason(client, row, receipt.blockNumber)}` };
        await store.update(key, OPEN, { ...mined, ...done });
        return finalOf({ ...row, ...mined, ...done }, confirmations);
      }
      const pending = await client.getTransaction({ hash }).catch((err) => (err instanceof TransactionNotFoundError ? null : Promise.reject(err)));
      if (pending) {
        const block = await client.getBlock({ blockTag: 'latest' });
        const baseFee = block.baseFeePerGas ?? 0n;
        const why = pending.maxFeePerGas !== undefined && baseFee > pending.maxFeePerGas ? `: the base fee ${baseFee} wei is above its max fee ${pending.maxFeePerGas}, it waits for fees to fall` : '';
        throw chainWait(CHAIN_WAIT.inclusion, `${hash} waits in the node's mempool${why}`);
      }
      const confirmedNonce = await client.getTransactionCount({ address: row.fromAddress as Hex, blockTag: 'latest' });
      if (confirmedNonce > row.nonce) {
        const detail = `the ${what} ${hash} was dropped: the hot wallet's nonce ${row.nonce} went to another transaction, so it can never be mined`;
        await store.update(key, OPEN, { status: 'dropped', detail });
        return { ok: false, txHash: row.txHash, reason: detail };
      }
      // The node does not know it (its mempool dropped it, or the node restarted): the same bytes again.
      await send(client, row.rawTx as Hex);
      await store.update(key, ['signed'], { status: 'broadcast' });
      throw chainWait(CHAIN_WAIT.inclusion, `${hash} was not known to the node (dropped from its mempool, or the node restarted): sent again, the same signed bytes`);
    },
  };
}

export type ChainTransactions = ReturnType<typeof createChainTransactions>;

function finalOf(row: StoredTransaction, confirmations = 0): FinalTransaction {
  if (row.status === 'confirmed') {
    return { ok: true, txHash: row.txHash, blockNumber: Number(row.blockNumber), gasUsed: Number(row.gasUsed), effectiveGasPrice: String(row.effectiveGasPrice ?? 0n), confirmations };
  }
  return { ok: false, txHash: row.txHash, reason: row.detail ?? `the transaction ${row.txHash} was ${row.status}` };
}

/** What the transaction reverted with, replayed as a call at its block (best effort: an RPC may not serve old state). */
async function revertReason(client: PublicClient, row: { fromAddress: string; rawTx: string }, blockNumber: bigint): Promise<string> {
  try {
    const tx = parseTransaction(row.rawTx as Hex);
    await client.call({ account: row.fromAddress as Hex, to: tx.to!, data: tx.data, blockNumber: blockNumber - 1n });
    return '';
  } catch (err) {
    return `: ${errorText(err)}`;
  }
}

export function errorText(err: unknown): string {
  const e = err as { shortMessage?: string; details?: string; message?: string };
  return [e.shortMessage, e.details].filter(Boolean).join(' — ') || e.message || String(err);
}
