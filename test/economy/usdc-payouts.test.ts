/**
 * USDC payouts on a real local EVM (Hardhat's EDR, the test USDC with 6
 * decimals): owners choose the USDC rail (checked address, a change only
 * after the delay), the payout settlement signs each payout's transaction
 * once, stores it before broadcast and pays after the confirmations; the
 * chain's own balances are read back. Faults: a blocklisted address (the
 * transfer reverts, the credits return), the hot wallet out of funds, a gas
 * price spike, the orchestrator SIGKILLed after broadcast before recording,
 * and the node unreachable with the transaction gone from its mempool.
 * Every case: each payout paid exactly once, the ledger balances.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createWalletClient, erc20Abi, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { compileContracts } from '../../chain/compile.js';
import { localChain } from '../../devstack/evm.js';
import { PLATFORM_REVENUE, ownerAccount, postTransaction } from '../../economy/ledger.js';
import { creditsToUsdcBaseUnits } from '../../economy/rates.js';
import { PAYOUT_SCHEDULE_ID, type SettlementSummary } from '../../platform/workflow-api.js';
import { startTestChain, type TestChain } from '../support/evm.js';
import { FIXTURE_PAYLOAD_KEYS } from '../support/fixture-keys.js';
import { runScheduled, waitForPendingFailure } from '../support/schedules.js';
import { api, startStack, type TestStack } from '../support/stack.js';

const HISTORIES = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));
const RAIL_DELAY_MS = 1500;
const CONFIRMATIONS = 2;
let chain: TestChain & { stop(): Promise<void> };
let stack: TestStack;

beforeAll(async () => {
  // A block every 200 ms, so confirmations come (and a spiked base fee falls, 12.5% a block, as on Base).
  chain = await startTestChain({ blockMs: 200 });
  await chain.evm.setEthBalance(chain.hotWallet.address, 10n ** 18n);
  stack = await startStack({
    orchestrator: 'process',
    payloadKeys: FIXTURE_PAYLOAD_KEYS,
    settings: { payoutRailDelayMs: RAIL_DELAY_MS },
    payouts: { chain: chain.settings({ confirmations: CONFIRMATIONS, pollMs: 200, rpcTimeoutMs: 1500 }), stepTimeoutMs: 5000, retryInitialMs: 100, retryMaxMs: 500 },
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await chain?.stop();
});

async function owner(name: string, credits = 20_000): Promise<{ key: string; id: string; address: `0x${string}` }> {
  const key = await stack.newApiKey(name);
  const id = (await api(stack, 'GET', '/v1/org', undefined, key)).json.id;
  await stack.db.$transaction((tx) =>
    postTransaction(tx, { id: `grant-${id}`, kind: 'test_grant', postings: [{ account: PLATFORM_REVENUE, amount: -credits * 1e6 }, { account: ownerAccount(id), amount: credits * 1e6 }] }),
  );
  return { key, id, address: chain.newAddress() };
}

async function onUsdc(o: { key: string; address: string }): Promise<void> {
  const r = await api(stack, 'PUT', '/v1/me/payout-rail', { rail: 'usdc', usdc_address: o.address }, o.key);
  expect(r.status).toBe(202);
}

/** Waits out the rail delay of every change asked so far. */
const afterDelay = () => new Promise((r) => setTimeout(r, RAIL_DELAY_MS + 100));

async function cashOut(key: string, credits: number): Promise<string> {
  const r = await api(stack, 'POST', '/v1/me/redemptions', { credits, to: 'cash' }, key);
  expect(r.status).toBe(201);
  return r.json.id;
}

const runBatch = (during?: () => Promise<void>) => runScheduled<SettlementSummary>(stack, PAYOUT_SCHEDULE_ID, 'payoutSettlement', during);
const hotNonce = () => chain.evm.publicClient.getTransactionCount({ address: chain.hotWallet.address, blockTag: 'latest' });
const balance = async (account: string) => Number((await stack.db.accountBalance.findUnique({ where: { account } }))?.balance ?? 0n);

/** Each payout's one transaction, and the ledger's clearing account empty again. */
async function expectPaidOnce(ids: string[], addresses: string[], credits: number[]): Promise<void> {
  const transfers = await stack.db.usdcTransfer.findMany({ where: { payoutId: { in: ids } } });
  expect(transfers).toHaveLength(ids.length);
  for (const t of transfers) expect(t.status).toBe('confirmed');
  for (const [i, address] of addresses.entries()) expect(await chain.usdcBalance(address as `0x${string}`)).toBe(BigInt(creditsToUsdcBaseUnits(credits[i])));
  const rows = await stack.db.payoutRequest.findMany({ where: { id: { in: ids } } });
  expect(rows.every((r) => r.status === 'paid' && r.rail === 'usdc')).toBe(true);
  expect(await balance('payout:clearing')).toBe(0);
}

describe('the payout rail', () => {
  test('an address is checked (EIP-55, not a contract), and a change applies only after the delay, shown until then', async () => {
    const o = await owner('rail owner');
    const put = (body: unknown) => api(stack, 'PUT', '/v1/me/payout-rail', body, o.key);
    expect((await api(stack, 'GET', '/v1/me/payout-rail', undefined, o.key)).json).toMatchObject({ rail: 'stripe', usdc_address: null, pending: null, change_delay_ms: RAIL_DELAY_MS, chain: { chain_id: 31337, usdc_contract: chain.usdc } });
    const lower = await put({ rail: 'usdc', usdc_address: o.address.toLowerCase() });
    expect(lower.status).toBe(400);
    expect(lower.json.error).toMatchObject({ code: 'invalid_address', message: expect.stringContaining(`give it as ${o.address}`) });
    const contract = await put({ rail: 'usdc', usdc_address: chain.usdc });
    expect(contract.status).toBe(400);
    expect(contract.json.error.code).toBe('contract_address');
    expect((await put({ rail: 'usdc' })).status).toBe(400);
    expect((await stack.db.payoutRail.findUnique({ where: { ownerId: o.id } }))).toBeNull();

    const asked = await put({ rail: 'usdc', usdc_address: o.address });
    expect(asked.status).toBe(202);
    expect(asked.json).toMatchObject({ rail: 'stripe', pending: { rail: 'usdc', usdc_address: o.address } });
    expect(Date.parse(asked.json.pending.effective_at) - Date.now()).toBeGreaterThan(RAIL_DELAY_MS / 2);
    // The owner cancels a change they did not ask for.
    expect((await api(stack, 'DELETE', '/v1/me/payout-rail/pending', undefined, o.key)).json).toMatchObject({ rail: 'stripe', pending: null });
    await afterDelay();
    expect((await api(stack, 'GET', '/v1/me/payout-rail', undefined, o.key)).json).toMatchObject({ rail: 'stripe', pending: null });

    await onUsdc(o);
    await chain.mintUsdc(chain.hotWallet.address, 1_000_000_000n);
    // Before the delay is over, a batch does not pay to the new address (no Stripe here: the payout stays queued).
    // The change's time is moved an hour ahead, so no batch start under load can outlast the test's short delay.
    await stack.db.payoutRail.update({ where: { ownerId: o.id }, data: { pendingEffectiveAt: new Date(Date.now() + 3600_000) } });
    const early = await cashOut(o.key, 5000);
    expect((await runBatch()).result).toMatchObject({ payouts: 0 });
    expect((await stack.db.payoutRequest.findUniqueOrThrow({ where: { id: early } })).status).toBe('queued');
    await stack.db.payoutRail.update({ where: { ownerId: o.id }, data: { pendingEffectiveAt: new Date(Date.now() + RAIL_DELAY_MS) } });
    await afterDelay();
    expect((await api(stack, 'GET', '/v1/me/payout-rail', undefined, o.key)).json).toMatchObject({ rail: 'usdc', usdc_address: o.address, pending: null });
    const { result } = await runBatch();
    expect(result).toMatchObject({ payouts: 1, paid: 1, paidUsdc: 1, paidUsdcBaseUnits: 40_000_000 });
    await expectPaidOnce([early], [o.address], [5000]);
  });
});

describe('USDC payout settlement', () => {
  test('pays each owner once after the confirmations, read back from the chain; a reverted transfer returns the credits with the reason', async () => {
    const [a, b, blocked] = [await owner('a'), await owner('b'), await owner('blocked')];
    for (const o of [a, b, blocked]) await onUsdc(o);
    await chain.evm.write(chain.usdc, (await compileContracts()).TestUsdc.abi, 'setBlocked', [blocked.address, true]);
    await chain.mintUsdc(chain.hotWallet.address, 1_000_000_000n);
    await afterDelay();
    const ids = [await cashOut(a.key, 5000), await cashOut(b.key, 7500)];
    const refused = await cashOut(blocked.key, 6000);
    const nonceBefore = await hotNonce();

    const { result, workflowId } = await runBatch();
    expect(result).toMatchObject({ payouts: 3, paid: 2, returned: 1, paidUsdc: 2, paidUsdcBaseUnits: 100_000_000, paidCredits: 12_500 });
    await expectPaidOnce(ids, [a.address, b.address], [5000, 7500]);
    // Three transactions left the hot wallet, one per payout (the reverted one used its nonce too).
    expect(await hotNonce()).toBe(nonceBefore + 3);
    const reverted = await stack.db.usdcTransfer.findUniqueOrThrow({ where: { payoutId: refused } });
    expect(reverted.status).toBe('reverted');
    expect(await stack.db.payoutRequest.findUniqueOrThrow({ where: { id: refused } })).toMatchObject({ status: 'failed', detail: expect.stringContaining('reverted in block') });
    expect((await api(stack, 'GET', '/v1/me/balance', undefined, blocked.key)).json.earnings.redeemable_credits).toBe(20_000);
    expect(await chain.usdcBalance(blocked.address)).toBe(0n);
    const paid = await stack.db.ledgerTransaction.findUniqueOrThrow({ where: { id: `payout-paid:${ids[0]}` } });
    const t0 = await stack.db.usdcTransfer.findUniqueOrThrow({ where: { payoutId: ids[0] } });
    expect(paid.note).toBe(`USDC transfer ${t0.txHash} on chain 31337 to ${a.address}`);
    const receipt = await chain.evm.publicClient.getTransactionReceipt({ hash: t0.txHash as `0x${string}` });
    expect(receipt.status).toBe('success');
    console.log(`gas per USDC payout (transfer to a fresh address): ${receipt.gasUsed}`);

    // Finance's view: named steps in the batch's history.
    const handle = stack.client.workflow.getHandle(workflowId);
    const history = await handle.fetchHistory();
    const steps = new Set(history.events!.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean));
    expect([...steps].sort()).toEqual(['broadcastUsdcTransfer', 'collectQueuedPayouts', 'confirmUsdcTransfer', 'markPayoutPaid', 'returnCreditsToOwner', 'signUsdcTransfer']);
    expect((await handle.describe()).memo).toMatchObject({ paid: 2, paid_usdc: 2, paid_usdc_base_units: 100_000_000, returned: 1 });
    if (process.env.TRD_RECORD_HISTORIES) writeFileSync(`${HISTORIES}payout-settlement-usdc.json`, `${historyToJSON(history)}\n`);

    // Nothing is left to pay.
    expect((await runBatch()).result.payouts).toBe(0);
    expect(await hotNonce()).toBe(nonceBefore + 3);
  });

  test('the hot wallet out of funds: the payout waits, says why, and is paid once funded', async () => {
    const o = await owner('waits for funds');
    await onUsdc(o);
    await afterDelay();
    // Spend the hot wallet down to nothing (the key is the test's).
    const hot = createWalletClient({ chain: localChain, transport: http(chain.evm.rpcUrl), account: privateKeyToAccount(chain.hotWallet.key) });
    const held = await chain.usdcBalance(chain.hotWallet.address);
    if (held > 0n) await chain.evm.publicClient.waitForTransactionReceipt({ hash: await hot.writeContract({ address: chain.usdc, abi: erc20Abi, functionName: 'transfer', args: [chain.newAddress(), held] }) });
    expect(await chain.usdcBalance(chain.hotWallet.address)).toBe(0n);
    const want = BigInt(creditsToUsdcBaseUnits(10_000));
    const id = await cashOut(o.key, 10_000);
    const { result } = await runBatch(async () => {
      const why = await waitForPendingFailure(stack, 'payoutSettlement', /HotWalletUnderfunded/);
      expect(why).toMatch(/holds .* USDC .* needs 80\.000000 USDC .*fund it/);
      await chain.mintUsdc(chain.hotWallet.address, want);
    });
    expect(result).toMatchObject({ payouts: 1, paid: 1 });
    await expectPaidOnce([id], [o.address], [10_000]);
  });

  test('a gas price spike: nothing is signed above the fee cap; the payout is paid once fees fall', async () => {
    const o = await owner('spike');
    await onUsdc(o);
    await afterDelay();
    await chain.mintUsdc(chain.hotWallet.address, 1_000_000_000n);
    const id = await cashOut(o.key, 5000);
    // 1000× the cap: empty blocks lower it 12.5% each, back under the cap in about 52 blocks (~10 s).
    await chain.evm.rpc('hardhat_setNextBlockBaseFeePerGas', [`0x${(50_000_000_000n * 1000n).toString(16)}`]);
    await chain.evm.rpc('evm_mine');
    const { result } = await runBatch(async () => {
      expect(await waitForPendingFailure(stack, 'payoutSettlement', /GasPriceAboveCap: the base fee is \d+ wei, above the cap/)).toBeTruthy();
      expect(await stack.db.usdcTransfer.findUnique({ where: { payoutId: id } })).toBeNull();
    });
    expect(result).toMatchObject({ payouts: 1, paid: 1 });
    await expectPaidOnce([id], [o.address], [5000]);
  });
});

describe('kills and outages', () => {
  const holdBlocks = async () => {
    await chain.evm.rpc('evm_setAutomine', [false]);
    await chain.evm.rpc('evm_setIntervalMining', [0]);
  };
  const resumeBlocks = async () => {
    await chain.evm.rpc('evm_setAutomine', [true]);
    await chain.evm.rpc('evm_setIntervalMining', [200]);
  };
  const broadcast = async (payoutId: string) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const t = await stack.db.usdcTransfer.findUnique({ where: { payoutId } });
      if (t && (await chain.evm.publicClient.getTransaction({ hash: t.txHash as `0x${string}` }).catch(() => null))) return t;
      if (Date.now() > deadline) throw new Error(`payout ${payoutId} was not broadcast`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  test('the orchestrator SIGKILLed after broadcast, before recording: the restarted one finds the transaction mined and pays once', async () => {
    const o = await owner('killed');
    await onUsdc(o);
    await afterDelay();
    await chain.mintUsdc(chain.hotWallet.address, 1_000_000_000n);
    const id = await cashOut(o.key, 6000);
    const nonceBefore = await hotNonce();
    await holdBlocks();
    try {
      const { result } = await runBatch(async () => {
        await broadcast(id);
        await stack.stopOrchestrator('SIGKILL');
        // Mined while no orchestrator runs.
        for (let i = 0; i < CONFIRMATIONS + 1; i++) await chain.evm.rpc('evm_mine');
        await resumeBlocks();
        await stack.startOrchestrator();
      });
      expect(result).toMatchObject({ payouts: 1, paid: 1 });
    } finally {
      await resumeBlocks();
    }
    expect(await hotNonce()).toBe(nonceBefore + 1);
    await expectPaidOnce([id], [o.address], [6000]);
  });

  test('the node unreachable and its mempool lost mid-payout: the same signed bytes are sent again and paid once', async () => {
    const o = await owner('outage');
    await onUsdc(o);
    await afterDelay();
    await chain.mintUsdc(chain.hotWallet.address, 1_000_000_000n);
    const id = await cashOut(o.key, 5500);
    const nonceBefore = await hotNonce();
    await holdBlocks();
    let hash = '';
    try {
      const { result, workflowId } = await runBatch(async () => {
        const t = await broadcast(id);
        hash = t.txHash;
        // What a restarted node has lost: the transaction in its mempool. Then it stops answering for a while.
        await chain.evm.rpc('hardhat_dropTransaction', [t.txHash]);
        chain.evm.process.child.kill('SIGSTOP');
        await new Promise((r) => setTimeout(r, 3000));
        chain.evm.process.child.kill('SIGCONT');
        await waitForPendingFailure(stack, 'payoutSettlement', /AwaitingInclusion: .*was not known to the node.*sent again/);
        await resumeBlocks();
      });
      expect(result).toMatchObject({ payouts: 1, paid: 1 });
      const transfer = await stack.db.usdcTransfer.findUniqueOrThrow({ where: { payoutId: id } });
      expect(transfer.txHash).toBe(hash);
      expect(workflowId).toBeTruthy();
    } finally {
      chain.evm.process.child.kill('SIGCONT');
      await resumeBlocks();
    }
    expect(await hotNonce()).toBe(nonceBefore + 1);
    await expectPaidOnce([id], [o.address], [5500]);
  });
});
