/**
 * The reputation token's workflow on a real local EVM (Hardhat's EDR) and the
 * real platform: the reputation sweep, run through its Temporal Schedule,
 * mints a runner's soulbound token when it first reaches Verified, writes the
 * scores, tiers and receipt heads that changed in one updateBatch, and burns
 * the token of a runner an audit caught cheating. Faults: the base fee above
 * the cap (the mint waits, says why, then goes out), mints that revert (the
 * workflow signs fresh ones, and the next sweep mints), two sweeps at once
 * and a lost database record (one token, one mint transaction). The worker
 * card and badge show the token and the score the chain holds.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BaseError, ContractFunctionRevertedError, createWalletClient, http, keccak256, toHex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { ORCHESTRATOR_QUEUE } from '@trd/protocol';
import { cidOfBytes } from '@trd/protocol';
import { compileContracts } from '../../chain/compile.js';
import { REPUTATION_TOKEN_ABI, cidOfHead, readToken, tokenIdOf } from '../../chain/reputation-token.js';
import { localChain } from '../../devstack/evm.js';
import { createRunnerToken } from '../../gateway/runners.js';
import { createReputationTokenActivities } from '../../activities/reputation-token-activities.js';
import { REPUTATION_SCHEDULE_ID, type SweepInput } from '../../platform/workflow-api.js';
import { startTestChain, type TestChain } from '../support/evm.js';
import { FIXTURE_PAYLOAD_KEYS } from '../support/fixture-keys.js';
import { runScheduled, waitForPendingFailure } from '../support/schedules.js';
import { api, startStack, type TestStack } from '../support/stack.js';

const HISTORIES = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));
const DAY = 86_400_000;
const TOKEN_LIMITS = { pollMs: 100, stepTimeoutMs: 5000, budgetMs: 20_000, maxAttempts: 2 };
let chain: TestChain & { stop(): Promise<void> };
let stack: TestStack;
let token: `0x${string}`;
// Runners join "now"; the platform's clock is 8 days on, so they are old enough for Verified.
const offsetMs = 8 * DAY;

beforeAll(async () => {
  chain = await startTestChain();
  await chain.evm.setEthBalance(chain.hotWallet.address, 10n ** 18n);
  // The hot wallet is the token's platform (its PLATFORM_ROLE and admin), as a deployment would give it.
  token = await chain.evm.deploy('TrdReputation', [chain.hotWallet.address]);
  stack = await startStack({
    payloadKeys: FIXTURE_PAYLOAD_KEYS,
    payouts: { chain: chain.settings({ reputationToken: token, explorerUrl: null, rpcTimeoutMs: 1500 }), stepTimeoutMs: 5000, retryInitialMs: 100, retryMaxMs: 500 },
    reputation: { policy: { verifiedMinJobs: 0 }, sweepIntervalMs: 24 * 3600_000, token: TOKEN_LIMITS },
    clock: () => new Date(Date.now() + offsetMs),
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await chain?.stop();
});

const sweep = (during?: () => Promise<void>) => runScheduled<unknown>(stack, REPUTATION_SCHEDULE_ID, 'reputationSweep', during);
const memoOf = async (workflowId: string) => (await stack.client.workflow.getHandle(workflowId).describe()).memo as Record<string, unknown>;
const onChain = (runnerId: string) => readToken(chain.evm.publicClient, token, tokenIdOf(runnerId));
const mintTxs = (runnerId: string) => stack.db.chainTransaction.findMany({ where: { purpose: 'reputation-mint', key: { startsWith: `reputation-mint:${runnerId}:` } }, orderBy: { createdAt: 'asc' } });
const hotWallet = () => createWalletClient({ chain: { ...localChain, rpcUrls: { default: { http: [chain.evm.rpcUrl] } } }, transport: http(chain.evm.rpcUrl), account: privateKeyToAccount(chain.hotWallet.key) });

async function revertOf(functionName: 'transferFrom' | 'approve', args: readonly unknown[], from: `0x${string}`): Promise<string | undefined> {
  const err = await chain.evm.publicClient.simulateContract({ address: token, abi: (await compileContracts()).TrdReputation.abi, functionName, args, account: from } as never).then(() => null, (e: unknown) => e);
  return ((err as BaseError | null)?.walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null)?.data?.errorName;
}

/** A succeeded job of the runner with a receipt: its CID becomes the runner's receipt head. */
async function receiptFor(runnerId: string, n: number): Promise<string> {
  const customerId = (await api(stack, 'GET', '/v1/org')).json.id;
  const jobId = `job_sbt_${runnerId.replace(/-/g, '')}_${n}`;
  const cid = await cidOfBytes(new TextEncoder().encode(`receipt ${jobId}`));
  await stack.db.job.create({ data: { id: jobId, customerId, model: 'trd-tiny', promptSha256: 'a'.repeat(64), maxTokens: 4, temperature: 0, status: 'succeeded', workerId: runnerId, acceptedAt: new Date(), finishedAt: new Date() } });
  await stack.db.receipt.create({ data: { jobId, kid: 'k', document: {}, cid } });
  return cid;
}

describe('the reputation token, from the sweep', () => {
  test('minted when a runner first reaches Verified; the card and badge link it, the chain holds the API score, transfers revert', async () => {
    await createRunnerToken(stack.db, 'sbt-a');
    await createRunnerToken(stack.db, 'sbt-b');
    const { workflowId } = await sweep();
    expect(await memoOf(workflowId)).toMatchObject({ promoted: 2, token_minted: 2, token_updated: 0, token_problems: [] });
    for (const id of ['sbt-a', 'sbt-b']) {
      const runner = await stack.db.runner.findUniqueOrThrow({ where: { id } });
      expect(runner.tier).toBe('verified');
      // No USDC address given: the platform's wallet holds it; the token id names the runner.
      expect(await onChain(id)).toMatchObject({ holder: chain.hotWallet.address, scoreBps: runner.reputationScore! * 100, tier: 1 });
      expect((await mintTxs(id)).map((t) => t.status)).toEqual(['confirmed']);
    }
    const card = (await api(stack, 'GET', '/v1/workers/sbt-a/card', undefined, null)).json;
    expect(card.reputation_token).toMatchObject({ chain_id: 31337, contract: token, token_id: tokenIdOf('sbt-a').toString(), status: 'minted', explorer_url: null, on_chain: { holder: chain.hotWallet.address, tier: 'verified', receipt_head_cid: null } });
    expect(card.reputation_token.on_chain.reputation_score).toBe(card.reputation_score);
    expect(card.reputation_token.mint_tx).toMatch(/^0x[0-9a-f]{64}$/);
    const html = await (await fetch(`${stack.baseUrl}/v1/workers/sbt-a/card.html`)).text();
    expect(html).toContain(`data-contract="${token}" data-token-id="${tokenIdOf('sbt-a')}"`);
    const badge = await fetch(`${stack.baseUrl}/v1/workers/sbt-a/badge.svg`);
    expect(badge.headers.get('link')).toContain(`reputation token ${token} #${tokenIdOf('sbt-a')} on chain 31337`);
    expect(await badge.text()).toContain('on-chain');
    // Soulbound: its holder can neither move nor approve it.
    expect(await revertOf('transferFrom', [chain.hotWallet.address, chain.newAddress(), tokenIdOf('sbt-a')], chain.hotWallet.address)).toBe('Soulbound');
    expect(await revertOf('approve', [chain.newAddress(), tokenIdOf('sbt-a')], chain.hotWallet.address)).toBe('Soulbound');
    if (process.env.TRD_RECORD_HISTORIES) writeFileSync(`${HISTORIES}reputation-sweep-token.json`, `${historyToJSON(await stack.client.workflow.getHandle(workflowId).fetchHistory())}\n`);
  });

  test('after a sweep, one updateBatch writes only the runners whose score or receipt head changed', async () => {
    const cid = await receiptFor('sbt-a', 1);
    const { workflowId } = await sweep();
    expect(await memoOf(workflowId)).toMatchObject({ token_minted: 0, token_updated: 1, token_problems: [] });
    const a = await onChain('sbt-a');
    expect(cidOfHead(a!.receiptHead)).toBe(cid);
    const card = (await api(stack, 'GET', '/v1/workers/sbt-a/card', undefined, null)).json;
    expect(card.reputation_token.on_chain).toMatchObject({ receipt_head_cid: cid, reputation_score: card.reputation_score });
    expect(await stack.db.reputationToken.findUniqueOrThrow({ where: { runnerId: 'sbt-a' } })).toMatchObject({ receiptHead: a!.receiptHead });
    const updates = await stack.db.chainTransaction.findMany({ where: { purpose: 'reputation-update' } });
    expect(updates).toHaveLength(1);
    expect((updates[0].payload as { updates: Array<{ runnerId: string }> }).updates.map((u) => u.runnerId)).toEqual(['sbt-a']);
    console.log(`gas: updateBatch of 1 changed runner from the sweep ${updates[0].gasUsed}`);
    // Nothing changed since: the next sweep sends nothing.
    expect(await memoOf((await sweep()).workflowId)).toMatchObject({ token_updated: 0 });
    expect(await stack.db.chainTransaction.count({ where: { purpose: 'reputation-update' } })).toBe(1);
  });

  test('a confirmed cheat (a failed audit) burns the token at the next sweep', async () => {
    await stack.db.runnerAudit.create({ data: { id: 'audit:job_sbt_cheat', runnerId: 'sbt-b', jobId: 'job_sbt_cheat', passed: false, detail: 'token 3 of 8 differs', evidence: { method: 'reexecute' } } });
    const { workflowId } = await sweep();
    expect(await memoOf(workflowId)).toMatchObject({ token_slashed: 1, token_problems: [] });
    expect(await onChain('sbt-b')).toBeNull();
    const row = await stack.db.reputationToken.findUniqueOrThrow({ where: { runnerId: 'sbt-b' } });
    expect(row).toMatchObject({ status: 'slashed', slashTxHash: expect.stringMatching(/^0x/) });
    const slash = await chain.evm.publicClient.getTransactionReceipt({ hash: row.slashTxHash as `0x${string}` });
    const slashed = await chain.evm.publicClient.getContractEvents({ address: token, abi: (await compileContracts()).TrdReputation.abi, eventName: 'Slashed', fromBlock: slash.blockNumber, toBlock: slash.blockNumber } as never);
    expect((slashed[0] as any).args).toMatchObject({ tokenId: tokenIdOf('sbt-b'), evidence: keccak256(toHex('audit:job_sbt_cheat')) });
    expect((await api(stack, 'GET', '/v1/workers/sbt-b/card', undefined, null)).json.reputation_token).toMatchObject({ status: 'slashed', on_chain: null });
    // Burned once; it is not minted again, nor slashed again.
    expect(await memoOf((await sweep()).workflowId)).toMatchObject({ token_minted: 0, token_slashed: 0 });
  });
});

describe('a failed mint, and no second token', () => {
  test('the base fee above the cap: the mint waits, says why, and goes out once the fee falls', async () => {
    await createRunnerToken(stack.db, 'sbt-c');
    await chain.evm.rpc('hardhat_setNextBlockBaseFeePerGas', [`0x${(100n * 10n ** 9n).toString(16)}`]);
    await chain.evm.rpc('evm_mine');
    const { workflowId } = await sweep(async () => {
      expect(await waitForPendingFailure(stack, 'reputationSweep', /GasPriceAboveCap/)).toMatch(/above the cap TRD_CHAIN_MAX_FEE_WEI/);
      await chain.evm.rpc('hardhat_setNextBlockBaseFeePerGas', ['0x3b9aca00']);
      await chain.evm.rpc('evm_mine');
    });
    expect(await memoOf(workflowId)).toMatchObject({ token_minted: 1 });
    expect((await mintTxs('sbt-c')).map((t) => t.status)).toEqual(['confirmed']);
    expect(await onChain('sbt-c')).toMatchObject({ tier: 1 });
  });

  test('mints that revert: the workflow signs a fresh one per attempt, and the next sweep mints it once', async () => {
    await createRunnerToken(stack.db, 'sbt-d');
    const { abi } = (await compileContracts()).TrdReputation;
    const role = keccak256(toHex('PLATFORM_ROLE'));
    const wallet = hotWallet();
    const send = async (functionName: 'revokeRole' | 'grantRole') =>
      chain.evm.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract({ address: token, abi, functionName, args: [role, chain.hotWallet.address] } as never) });
    await send('revokeRole');
    const failed = await sweep();
    const memo = await memoOf(failed.workflowId);
    expect(memo).toMatchObject({ token_minted: 0 });
    expect(memo.token_problems).toEqual([expect.stringMatching(/^reputation-mint:sbt-d attempt 1: .*reverted/), expect.stringMatching(/^reputation-mint:sbt-d attempt 2: .*reverted/)]);
    expect((await mintTxs('sbt-d')).map((t) => t.status)).toEqual(['reverted', 'reverted']);
    await send('grantRole');
    expect(await memoOf((await sweep()).workflowId)).toMatchObject({ token_minted: 1 });
    expect((await mintTxs('sbt-d')).map((t) => t.status)).toEqual(['reverted', 'reverted', 'confirmed']);
    expect(await onChain('sbt-d')).not.toBeNull();
  });

  test('two sweeps at once, a retried step and a lost record: one token, one mint transaction', async () => {
    await createRunnerToken(stack.db, 'sbt-e');
    const { args } = (await stack.client.schedule.getHandle(REPUTATION_SCHEDULE_ID).describe()).action as unknown as { args: [SweepInput] };
    const runs = await Promise.all(
      ['x', 'y'].map((n) => stack.client.workflow.start('reputationSweep', { taskQueue: ORCHESTRATOR_QUEUE, workflowId: `sbt-sweep-${n}-${Date.now()}`, args })),
    );
    const memos = await Promise.all(runs.map(async (r) => (await r.result(), memoOf(r.workflowId))));
    expect(memos.map((m) => m.token_minted).sort()).toEqual([0, 1]);
    expect((await mintTxs('sbt-e')).map((t) => t.status)).toEqual(['confirmed']);

    // The database loses the token's record: the chain's own state says it is there, so nothing is minted.
    await stack.db.reputationToken.delete({ where: { runnerId: 'sbt-e' } });
    const nonce = await chain.evm.publicClient.getTransactionCount({ address: chain.hotWallet.address });
    const { workflowId } = await sweep();
    expect(await memoOf(workflowId)).toMatchObject({ token_minted: 0 });
    expect(await chain.evm.publicClient.getTransactionCount({ address: chain.hotWallet.address })).toBe(nonce);
    expect(await stack.db.reputationToken.findUniqueOrThrow({ where: { runnerId: 'sbt-e' } })).toMatchObject({ status: 'minted', holder: chain.hotWallet.address });
    expect(await mintTxs('sbt-e')).toHaveLength(1);

    // A step run again (Temporal retries an activity whose answer was lost) returns the stored transaction.
    const steps = createReputationTokenActivities({ db: stack.db, chain: chain.settings({ reputationToken: token }), batchMax: 10 });
    await createRunnerToken(stack.db, 'sbt-f', 'verified');
    const first = await steps.signTokenMint({ runnerId: 'sbt-f', key: 'reputation-mint:sbt-f:test:1' });
    const again = await steps.signTokenMint({ runnerId: 'sbt-f', key: 'reputation-mint:sbt-f:test:1' });
    expect(again).toEqual(first);
    await steps.broadcastChainTransaction({ key: first.key! });
    await steps.broadcastChainTransaction({ key: first.key! });
    expect(await steps.confirmChainTransaction({ key: first.key! })).toMatchObject({ ok: true });
    expect(await mintTxs('sbt-f')).toHaveLength(1);

    expect(await chain.evm.publicClient.readContract({ address: token, abi: (await compileContracts()).TrdReputation.abi, functionName: 'balanceOf', args: [chain.hotWallet.address] } as never)).toBe(5n);
  });

  test('the hand-written ABI matches what solc compiled', async () => {
    const compiled = (await compileContracts()).TrdReputation.abi as Array<{ type: string; name?: string; inputs?: unknown[]; outputs?: unknown[] }>;
    for (const item of REPUTATION_TOKEN_ABI) {
      const mine = item as unknown as { type: string; name: string; inputs: Array<{ type: string }>; outputs?: Array<{ type: string }> };
      const theirs = compiled.find((c) => c.type === mine.type && c.name === mine.name) as typeof mine | undefined;
      expect(theirs?.inputs.map((i) => i.type)).toEqual(mine.inputs.map((i) => i.type));
      if (mine.outputs) expect(theirs?.outputs?.map((o) => o.type)).toEqual(mine.outputs.map((o) => o.type));
    }
  });
});
