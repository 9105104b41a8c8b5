/**
 * The chain as configuration, and the local node it runs on in tests and
 * `npm run dev`: Hardhat 2.28's EDR, our contracts compiled with solc's
 * JavaScript build, the test USDC (6 decimals) deployed and read back.
 */
import { describe, expect, test } from '@jest/globals';
import { BaseError, ContractFunctionRevertedError } from 'viem';
import { compileContracts } from '../../chain/compile.js';
import { KNOWN_CHAINS, chainSettings, checksummedAddress } from '../../chain/settings.js';
import { useTestChain } from '../support/evm.js';

describe('chain settings', () => {
  test('Base mainnet and Sepolia come with their chain id, USDC contract and confirmations; local needs its RPC URL and USDC', () => {
    expect(chainSettings({})).toBeNull();
    expect(chainSettings({ TRD_CHAIN: 'base', TRD_CHAIN_RPC_URL: 'https://base.example/rpc', TRD_HOT_WALLET_KEY_FILE: '/run/secrets/hot' })).toMatchObject({
      name: 'base',
      chainId: 8453,
      rpcUrl: 'https://base.example/rpc',
      usdcAddress: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
      confirmations: KNOWN_CHAINS.base.confirmations,
      hotWalletKeyFile: '/run/secrets/hot',
    });
    expect(chainSettings({ TRD_CHAIN: 'base-sepolia' })).toMatchObject({ chainId: 84532, usdcAddress: '0x036CbD53842c5426634e7929541eC2318f3dCF7e', rpcUrl: 'https://sepolia.base.org' });
    expect(chainSettings({ TRD_CHAIN: 'local', TRD_CHAIN_RPC_URL: 'http://127.0.0.1:8545', TRD_USDC_ADDRESS: '0x5FbDB2315678afecb367f032d93F642f64180aa3', TRD_CHAIN_CONFIRMATIONS: '3' })).toMatchObject({
      chainId: 31337,
      confirmations: 3,
      usdcAddress: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
      hotWalletKeyFile: null,
    });
  });

  test('bad settings are refused with the variable named', () => {
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ TRD_CHAIN: 'ethereum' }, /TRD_CHAIN must be base, base-sepolia or local/],
      [{ TRD_CHAIN: 'base', TRD_CHAIN_ID: '1' }, /TRD_CHAIN_ID 1 is not base's chain id \(8453\)/],
      [{ TRD_CHAIN: 'local' }, /TRD_CHAIN_RPC_URL is not set/],
      [{ TRD_CHAIN: 'local', TRD_CHAIN_RPC_URL: 'ws://x' }, /TRD_CHAIN_RPC_URL must be an http\(s\) URL/],
      [{ TRD_CHAIN: 'local', TRD_CHAIN_RPC_URL: 'http://127.0.0.1:8545' }, /TRD_USDC_ADDRESS is not set/],
      [{ TRD_CHAIN: 'local', TRD_CHAIN_RPC_URL: 'http://127.0.0.1:8545', TRD_USDC_ADDRESS: '0x5fbdb2315678afecb367f032d93f642f64180aa3' }, /TRD_USDC_ADDRESS: .*no EIP-55 checksum/],
      [{ TRD_CHAIN: 'base', TRD_CHAIN_CONFIRMATIONS: '0' }, /TRD_CHAIN_CONFIRMATIONS must be between 1 and 1000/],
      [{ TRD_CHAIN: 'base', TRD_CHAIN_MAX_FEE_WEI: '1.5' }, /TRD_CHAIN_MAX_FEE_WEI must be a whole number of wei/],
    ];
    for (const [env, message] of bad) expect(() => chainSettings(env)).toThrow(message);
  });

  test('addresses must carry their EIP-55 checksum', () => {
    expect(checksummedAddress('0x5FbDB2315678afecb367f032d93F642f64180aa3')).toEqual({ ok: true, address: '0x5FbDB2315678afecb367f032d93F642f64180aa3' });
    expect(checksummedAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3')).toMatchObject({ ok: false, problem: expect.stringContaining('give it as 0x5FbDB2315678afecb367f032d93F642f64180aa3') });
    expect(checksummedAddress('0x5FbDB2315678afecb367f032d93F642f64180aA3')).toMatchObject({ ok: false, problem: expect.stringContaining('fails its EIP-55 checksum') });
    expect(checksummedAddress('0x5FbDB2315678afecb367f032d93F642f64180a')).toMatchObject({ ok: false, problem: expect.stringContaining('is not an address') });
    expect(checksummedAddress('vitalik.eth')).toMatchObject({ ok: false });
    expect(checksummedAddress('0x0000000000000000000000000000000000000000')).toMatchObject({ ok: false });
  });
});

describe('the local node', () => {
  const chain = useTestChain();

  test('the test USDC has 6 decimals; minted and transferred amounts are read back from the chain', async () => {
    const { abi } = (await compileContracts()).TestUsdc;
    const read = (functionName: string, args: unknown[] = []) => chain.evm.publicClient.readContract({ address: chain.usdc, abi, functionName, args } as never);
    expect(await read('decimals')).toBe(6);
    expect(await read('symbol')).toBe('USDC');
    expect(await chain.evm.publicClient.getChainId()).toBe(31337);
    expect(chainSettings({ TRD_CHAIN: 'local', TRD_CHAIN_RPC_URL: chain.evm.rpcUrl, TRD_USDC_ADDRESS: chain.usdc })?.usdcAddress).toBe(chain.usdc);
    const alice = chain.newAddress();
    await chain.mintUsdc(chain.evm.deployer.account!.address, 10_000_000n);
    expect((await chain.evm.write(chain.usdc, abi, 'transfer', [alice, 8_000_000n])).status).toBe('success');
    expect(await chain.usdcBalance(alice)).toBe(8_000_000n);
    expect(await chain.usdcBalance(chain.evm.deployer.account!.address)).toBe(2_000_000n);
  });

  test('a transfer to a blocked address reverts, as Circle\'s blocklist makes it on Base', async () => {
    const { abi } = (await compileContracts()).TestUsdc;
    const blocked = chain.newAddress();
    await chain.evm.write(chain.usdc, abi, 'setBlocked', [blocked, true]);
    const attempt = chain.evm.publicClient.simulateContract({ address: chain.usdc, abi, functionName: 'transfer', args: [blocked, 1n], account: chain.evm.deployer.account! });
    const err = await attempt.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BaseError);
    const revert = (err as BaseError).walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError;
    expect(revert.data?.errorName).toBe('Blocked');
    expect(await chain.usdcBalance(blocked)).toBe(0n);
  });
});
