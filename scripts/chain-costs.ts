/**
 * What USDC payouts and the reputation token cost in gas, measured on the
 * local EVM node (Hardhat's EDR) with the test USDC and TrdReputation, and
 * the cost of a daily batch at a stated gas price: a payout, a token mint, a
 * slash, and one updateBatch of 1, 10 and 100 changed runners (the sweep's
 * one transaction). Run: node --import tsx scripts/chain-costs.ts
 *   TRD_COST_GAS_PRICE_GWEI  the L2 gas price (base + priority) to price at (default 0.01 gwei, Base's usual range)
 *   TRD_COST_ETH_USD         the ETH price in USD (default 3000)
 *   TRD_COST_BATCH           payouts per daily batch (default 100)
 * On Base each transaction also pays an L1 data fee for its bytes, which this
 * node does not charge: the signed size is printed so it can be priced apart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWalletClient, encodeFunctionData, erc20Abi, http, keccak256, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { compileContracts } from '../chain/compile.js';
import { REPUTATION_TOKEN_ABI, tokenIdOf } from '../chain/reputation-token.js';
import { localChain, startLocalEvm } from '../devstack/evm.js';
import { freePort } from '../devstack/ports.js';
import { envString } from '../platform/env.js';

const gwei = Number(envString(process.env, 'TRD_COST_GAS_PRICE_GWEI'));
const ethUsd = Number(envString(process.env, 'TRD_COST_ETH_USD'));
const batch = Number(envString(process.env, 'TRD_COST_BATCH'));
const dir = await mkdtemp(join(tmpdir(), 'trd-costs-'));
const evm = await startLocalEvm({ port: await freePort(), dir });
try {
  const usdc = await evm.deploy('TestUsdc');
  const { abi } = (await compileContracts()).TestUsdc;
  const hot = privateKeyToAccount(generatePrivateKey());
  await evm.setEthBalance(hot.address, 10n ** 18n);
  await evm.write(usdc, abi, 'mint', [hot.address, 10n ** 12n]);
  const wallet = createWalletClient({ chain: { ...localChain, rpcUrls: { default: { http: [evm.rpcUrl] } } }, transport: http(evm.rpcUrl), account: hot });
  const sendAs = async (to: `0x${string}`, data: `0x${string}`, gas: bigint) => {
    const request = await wallet.prepareTransactionRequest({ to, data, gas });
    const raw = await wallet.signTransaction(request as never);
    const hash = await evm.publicClient.sendRawTransaction({ serializedTransaction: raw });
    const receipt = await evm.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success') throw new Error(`a measured transaction reverted (${hash})`);
    return { gas: receipt.gasUsed, bytes: (raw.length - 2) / 2 };
  };
  const pay = (to: `0x${string}`) => sendAs(usdc, encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [to, 40_000_000n] }), 100_000n);
  const owners = Array.from({ length: batch }, () => privateKeyToAccount(generatePrivateKey()).address);
  const fresh = [];
  for (const to of owners) fresh.push(await pay(to));
  // An owner paid before already holds USDC: the transfer writes a non-zero balance slot, which costs less.
  const holder = await pay(owners[0]);
  const sum = fresh.reduce((n, r) => n + r.gas, 0n);
  const perPayout = Number(sum) / batch;
  const eth = (gas: number) => (gas * gwei) / 1e9;
  console.log(`USDC payout (ERC-20 transfer to a fresh address): ${fresh[0].gas} gas, ${fresh[0].bytes} signed bytes`);
  console.log(`USDC payout to an address that already holds USDC: ${holder.gas} gas`);
  console.log(`a daily batch of ${batch} payouts: ${sum} gas (${perPayout.toFixed(0)} per payout)`);
  console.log(`at ${gwei} gwei and ${ethUsd} USD/ETH: ${eth(Number(sum)).toFixed(9)} ETH = ${(eth(Number(sum)) * ethUsd).toFixed(4)} USD per batch (L2 execution only; Base's L1 data fee for ${fresh[0].bytes} bytes each is extra)`);

  // The reputation token, signed by the same hot wallet (its PLATFORM_ROLE), encoded as the sweep's activities encode it.
  const token = await evm.deploy('TrdReputation', [hot.address]);
  const head = (n: number) => keccak256(toHex(`receipt-head-${n}`));
  const runners = Array.from({ length: 100 }, (_, i) => `cost-runner-${i}`);
  const mints = [];
  for (const r of runners) mints.push(await sendAs(token, encodeFunctionData({ abi: REPUTATION_TOKEN_ABI, functionName: 'mint', args: [hot.address, tokenIdOf(r), 8000, 1, head(0)] }), 250_000n));
  console.log(`reputation token mint: ${mints[0].gas} gas, ${mints[0].bytes} signed bytes`);
  let round = 0;
  const usd = (gas: bigint) => (eth(Number(gas)) * ethUsd).toFixed(6);
  for (const n of [1, 10, 100]) {
    round++;
    const updates = runners.slice(0, n).map((r) => ({ tokenId: tokenIdOf(r), score: 8000 + round, tier: 1, receiptHead: head(round) }));
    const r = await sendAs(token, encodeFunctionData({ abi: REPUTATION_TOKEN_ABI, functionName: 'updateBatch', args: [updates] }), 60_000n + 45_000n * BigInt(n));
    console.log(`reputation updateBatch of ${n} changed runner${n === 1 ? '' : 's'}: ${r.gas} gas (${(Number(r.gas) / n).toFixed(0)} per runner), ${r.bytes} signed bytes, ${usd(r.gas)} USD at ${gwei} gwei`);
  }
  const unchanged = runners.slice(0, 10).map((r) => ({ tokenId: tokenIdOf(r), score: 8000 + round, tier: 1, receiptHead: head(round) }));
  console.log(`reputation updateBatch of 10 unchanged runners (read only): ${(await sendAs(token, encodeFunctionData({ abi: REPUTATION_TOKEN_ABI, functionName: 'updateBatch', args: [unchanged] }), 600_000n)).gas} gas`);
  const slash = await sendAs(token, encodeFunctionData({ abi: REPUTATION_TOKEN_ABI, functionName: 'slash', args: [tokenIdOf(runners[0]), head(99)] }), 120_000n);
  console.log(`reputation token slash: ${slash.gas} gas`);
} finally {
  await evm.stop();
  await rm(dir, { recursive: true, force: true });
}
