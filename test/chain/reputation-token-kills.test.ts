/**
 * The reputation token's transactions through kills and outages, on a real
 * local EVM (Hardhat's EDR) and the platform with its orchestrator as its
 * own process: the orchestrator SIGKILLed after a mint is signed and stored
 * but before any broadcast reached the node (the restarted one sends the
 * stored bytes), and the node stopped mid-sweep with the mint lost from its
 * mempool (the sweep sends the same signed bytes again). Every case: one
 * mint transaction, one token, the hot wallet's nonce up by one.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readToken, tokenIdOf } from '../../chain/reputation-token.js';
import { createRunnerToken } from '../../gateway/runners.js';
import { REPUTATION_SCHEDULE_ID } from '../../platform/workflow-api.js';
import { startTestChain, type TestChain } from '../support/evm.js';
import { FIXTURE_PAYLOAD_KEYS } from '../support/fixture-keys.js';
import { startRpcGate, type RpcGate } from '../support/rpc-gate.js';
import { runScheduled, waitForPendingFailure } from '../support/schedules.js';
import { startStack, type TestStack } from '../support/stack.js';
import { until } from '../support/until.js';

const DAY = 86_400_000;
// The budget outlasts a kill and restart of the orchestrator (the killed attempt's step timeout included).
const TOKEN_LIMITS = { pollMs: 100, stepTimeoutMs: 3000, budgetMs: 60_000, maxAttempts: 2 };
const SEND = 'eth_sendRawTransaction';
let chain: TestChain & { stop(): Promise<void> };
let gate: RpcGate;
let stack: TestStack;
let token: `0x${string}`;

beforeAll(async () => {
  chain = await startTestChain();
  await chain.evm.setEthBalance(chain.hotWallet.address, 10n ** 18n);
  token = await chain.evm.deploy('TrdReputation', [chain.hotWallet.address]);
  gate = await startRpcGate(chain.evm.rpcUrl);
  stack = await startStack({
    orchestrator: 'process',
    payloadKeys: FIXTURE_PAYLOAD_KEYS,
    payouts: { chain: chain.settings({ rpcUrl: gate.url, reputationToken: token, explorerUrl: null, rpcTimeoutMs: 1000 }), stepTimeoutMs: 5000, retryInitialMs: 100, retryMaxMs: 500 },
    reputation: { policy: { verifiedMinJobs: 0 }, sweepIntervalMs: 24 * 3600_000, token: TOKEN_LIMITS },
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  chain?.evm.process.child.kill('SIGCONT');
  await gate?.stop();
  await chain?.stop();
});

/** A runner joined 8 days ago (a process orchestrator keeps the real clock), so the next sweep makes it Verified. */
async function verifiableRunner(id: string): Promise<void> {
  await createRunnerToken(stack.db, id);
  await stack.db.runner.update({ where: { id }, data: { createdAt: new Date(Date.now() - 8 * DAY) } });
}

const sweep = (during?: () => Promise<void>) => runScheduled<unknown>(stack, REPUTATION_SCHEDULE_ID, 'reputationSweep', during);
const memoOf = async (workflowId: string) => (await stack.client.workflow.getHandle(workflowId).describe()).memo as Record<string, unknown>;
const mintTxs = (runnerId: string) => stack.db.chainTransaction.findMany({ where: { purpose: 'reputation-mint', key: { startsWith: `reputation-mint:${runnerId}:` } } });
const hotNonce = () => chain.evm.publicClient.getTransactionCount({ address: chain.hotWallet.address, blockTag: 'latest' });
const knownToNode = (hash: string) => chain.evm.publicClient.getTransaction({ hash: hash as `0x${string}` }).then(() => true, () => false);

describe('the reputation token through kills and outages', () => {
  test('the orchestrator SIGKILLed after signing a mint, before any broadcast reached the node: the restarted one sends the stored bytes, one token', async () => {
    await verifiableRunner('kill-a');
    const nonceBefore = await hotNonce();
    gate.refuse(SEND);
    let signed = { txHash: '', status: '' };
    try {
      const { workflowId } = await sweep(async () => {
        // Signed and stored, and the broadcast tried (and refused at the gate) at least once.
        signed = await until('the mint signed and its broadcast refused', async () => {
          const [row] = await mintTxs('kill-a');
          return row && gate.refused(SEND) > 0 ? row : null;
        });
        await stack.stopOrchestrator('SIGKILL');
        expect((await mintTxs('kill-a')).map((t) => t.status)).toEqual(['signed']);
        expect(await knownToNode(signed.txHash)).toBe(false);
        expect(await hotNonce()).toBe(nonceBefore);
        gate.allow(SEND);
        await stack.startOrchestrator();
      });
      expect(await memoOf(workflowId)).toMatchObject({ token_minted: 1, token_problems: [] });
    } finally {
      gate.allow(SEND);
    }
    const rows = await mintTxs('kill-a');
    expect(rows.map((t) => [t.status, t.txHash])).toEqual([['confirmed', signed.txHash]]);
    expect(await hotNonce()).toBe(nonceBefore + 1);
    expect(await readToken(chain.evm.publicClient, token, tokenIdOf('kill-a'))).toMatchObject({ tier: 1 });
    expect(await stack.db.reputationToken.findUniqueOrThrow({ where: { runnerId: 'kill-a' } })).toMatchObject({ status: 'minted', mintTxHash: signed.txHash });
  });

  test('the node stopped mid-sweep, the mint gone from its mempool: the sweep sends the same signed bytes again, one token', async () => {
    await verifiableRunner('kill-b');
    const nonceBefore = await hotNonce();
    await chain.evm.rpc('evm_setAutomine', [false]);
    let hash = '';
    try {
      const { workflowId } = await sweep(async () => {
        const row = await until('the mint broadcast', async () => {
          const [r] = await mintTxs('kill-b');
          return r && r.status === 'broadcast' && (await knownToNode(r.txHash)) ? r : null;
        });
        hash = row.txHash;
        // What a restarted node has lost: the transaction in its mempool. And it stops answering for a while.
        await chain.evm.rpc('hardhat_dropTransaction', [hash]);
        chain.evm.process.child.kill('SIGSTOP');
        await new Promise((r) => setTimeout(r, 3000));
        chain.evm.process.child.kill('SIGCONT');
        expect(await waitForPendingFailure(stack, 'reputationSweep', /AwaitingInclusion: .*was not known to the node.*sent again, the same signed bytes/)).toContain(hash);
        await chain.evm.rpc('evm_setAutomine', [true]);
        await chain.evm.rpc('evm_mine');
      });
      expect(await memoOf(workflowId)).toMatchObject({ token_minted: 1, token_problems: [] });
    } finally {
      chain.evm.process.child.kill('SIGCONT');
      await chain.evm.rpc('evm_setAutomine', [true]);
    }
    expect((await mintTxs('kill-b')).map((t) => [t.status, t.txHash])).toEqual([['confirmed', hash]]);
    expect(await hotNonce()).toBe(nonceBefore + 1);
    expect(await readToken(chain.evm.publicClient, token, tokenIdOf('kill-b'))).toMatchObject({ tier: 1 });
    expect(await stack.db.reputationToken.findUniqueOrThrow({ where: { runnerId: 'kill-b' } })).toMatchObject({ status: 'minted', mintTxHash: hash });
  });
});
