/**
 * What USDC payouts cost in gas, measured on the local EVM node (Hardhat's
 * EDR) with the test USDC, and the cost of a daily batch at a stated gas
 * price. Run: node --import tsx scripts/chain-costs.ts
 *   TRD_COST_GAS_PRICE_GWEI  the L2 gas price (base + priority) to price at (default 0.01 gwei, Base's usual range)
 *   TRD_COST_ETH_USD         the ETH price in USD (default 3000)
 *   TRD_COST_BATCH           payouts per daily batch (default 100)
 * On Base each transaction also pays an L1 data fee for its bytes, which this
 * node does not charge: the signed size is printed so it can be priced apart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWalletClient, encodeFunctionData, erc20Abi, http } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { compileContracts } from '../chain/compile.js';
import { localChain, startLocalEvm } from '../devstack/evm.js';
import { freePort } from '../devstack/ports.js';

const gwei = Number(process.env.TRD_COST_GAS_PRICE_GWEI ?? '0.01');
const ethUsd = Number(process.env.TRD_COST_ETH_USD ?? '3000');
const batch = Number(process.env.TRD_COST_BATCH ?? '100');
const dir = await mkdtemp(join(tmpdir(), 'trd-costs-'));
const evm = await startLocalEvm({ port: await freePort(), dir });
try {
  const usdc = await evm.deploy('TestUsdc');
  const { abi } = (await compileContracts()).TestUsdc;
  const hot = privateKeyToAccount(generatePrivateKey());
  await evm.setEthBalance(hot.address, 10n ** 18n);
  await evm.write(usdc, abi, 'mint', [hot.address, 10n ** 12n]);
  const wallet = createWalletClient({ chain: { ...localChain, rpcUrls: { default: { http: [evm.rpcUrl] } } }, transport: http(evm.rpcUrl), account: hot });
  const pay = async (to: `0x${string}`) => {
    const data = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [to, 40_000_000n] });
    const request = await wallet.prepareTransactionRequest({ to: usdc, data, gas: 100_000n });
    const raw = await wallet.signTransaction(request as never);
    const hash = await evm.publicClient.sendRawTransaction({ serializedTransaction: raw });
    const receipt = await evm.publicClient.waitForTransactionReceipt({ hash });
    return { gas: receipt.gasUsed, bytes: (raw.length - 2) / 2 };
  };
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
} finally {
  await evm.stop();
  await rm(dir, { recursive: true, force: true });
}
