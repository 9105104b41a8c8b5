/**
 * The reputation soulbound token (chain/contracts/TrdReputation.sol: ERC-721
 * with ERC-5192's locked interface, on OpenZeppelin 5) on the local node:
 * one token per runner (its id is the hash of the runner id), minted by the
 * platform's key, updated in batches (only changed runners are written),
 * never transferred or approved, burned on a confirmed cheat. Every revert
 * reason is checked. The contract only: the workflow that mints at
 * promotion and updates after sweeps is not written yet.
 */
import { describe, expect, test } from '@jest/globals';
import { BaseError, ContractFunctionRevertedError, keccak256, toHex, type Abi } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { compileContracts } from '../../chain/compile.js';
import { useTestChain } from '../support/evm.js';

const chain = useTestChain();
/** Hardhat's second well-known account: someone who is not the platform. */
const STRANGER = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
const tokenOf = (runnerId: string) => BigInt(keccak256(toHex(runnerId)));
const head = (n: number) => keccak256(toHex(`receipt-head-${n}`));

let token: `0x${string}`;
let abi: Abi;

async function revertOf(functionName: string, args: unknown[], account = chain.evm.deployer.account!): Promise<string | undefined> {
  const err = await chain.evm.publicClient.simulateContract({ address: token, abi, functionName, args, account } as never).then(() => null, (e: unknown) => e);
  if (!err) return undefined;
  const revert = (err as BaseError).walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null;
  return revert?.data?.errorName;
}
const read = (functionName: string, args: unknown[] = []) => chain.evm.publicClient.readContract({ address: token, abi, functionName, args } as never) as Promise<any>;

describe('the reputation token', () => {
  test('minted by the platform only, once per runner, locked (ERC-5192)', async () => {
    abi = (await compileContracts()).TrdReputation.abi;
    token = await chain.evm.deploy('TrdReputation', [chain.evm.deployer.account!.address]);
    const owner = chain.newAddress();
    const id = tokenOf('runner-a');
    const mint = await chain.evm.write(token, abi, 'mint', [owner, id, 9_500, 1, head(1)]);
    expect(mint.status).toBe('success');
    console.log(`gas: mint ${mint.gasUsed}`);
    expect(await read('ownerOf', [id])).toBe(owner);
    expect(await read('locked', [id])).toBe(true);
    expect(await read('supportsInterface', ['0xb45a3c0e'])).toBe(true);
    expect(await read('reputationOf', [id])).toMatchObject({ score: 9_500, tier: 1, receiptHead: head(1) });
    expect(await revertOf('mint', [owner, id, 9_500, 1, head(1)])).toBe('AlreadyMinted');
    expect(await revertOf('mint', [owner, tokenOf('runner-b'), 1, 1, head(1)], STRANGER)).toBe('AccessControlUnauthorizedAccount');
    expect(await revertOf('mint', [owner, tokenOf('runner-b'), 10_001, 1, head(1)])).toBe('ScoreOutOfRange');
  });

  test('transfers and approvals revert', async () => {
    const id = tokenOf('runner-a');
    const holder = await read('ownerOf', [id]);
    const to = chain.newAddress();
    expect(await revertOf('transferFrom', [holder, to, id], { address: holder } as never)).toBe('Soulbound');
    expect(await revertOf('safeTransferFrom', [holder, to, id], { address: holder } as never)).toBe('Soulbound');
    expect(await revertOf('approve', [to, id], { address: holder } as never)).toBe('Soulbound');
    expect(await revertOf('setApprovalForAll', [to, true], { address: holder } as never)).toBe('Soulbound');
    expect(await read('ownerOf', [id])).toBe(holder);
  });

  test('a batch update writes only the runners whose score, tier or head changed', async () => {
    const ids = ['runner-c', 'runner-d', 'runner-e'].map(tokenOf);
    for (const id of ids) await chain.evm.write(token, abi, 'mint', [chain.newAddress(), id, 5_000, 1, head(0)]);
    const updates = [
      { tokenId: ids[0], score: 5_000, tier: 1, receiptHead: head(0) },
      { tokenId: ids[1], score: 6_000, tier: 1, receiptHead: head(2) },
      { tokenId: ids[2], score: 9_000, tier: 2, receiptHead: head(3) },
    ];
    const before = await chain.evm.publicClient.getBlockNumber();
    const r = await chain.evm.write(token, abi, 'updateBatch', [updates]);
    expect(r.status).toBe('success');
    const events = await chain.evm.publicClient.getContractEvents({ address: token, abi, eventName: 'ReputationUpdated', fromBlock: before + 1n } as never);
    expect(events.map((e: any) => e.args.tokenId)).toEqual([ids[1], ids[2]]);
    expect(await read('reputationOf', [ids[2]])).toMatchObject({ score: 9_000, tier: 2, receiptHead: head(3) });
    const one = await chain.evm.write(token, abi, 'updateBatch', [[{ tokenId: ids[0], score: 5_100, tier: 1, receiptHead: head(4) }]]);
    console.log(`gas: updateBatch of 3 (2 changed) ${r.gasUsed}; of 1 changed ${one.gasUsed}`);
    expect(await revertOf('updateBatch', [[{ tokenId: tokenOf('never-minted'), score: 1, tier: 0, receiptHead: head(0) }]])).toBe('ERC721NonexistentToken');
    expect(await revertOf('updateBatch', [updates], STRANGER)).toBe('AccessControlUnauthorizedAccount');
  });

  test('slashing burns the token', async () => {
    const id = tokenOf('runner-d');
    expect(await revertOf('slash', [id, head(9)], STRANGER)).toBe('AccessControlUnauthorizedAccount');
    expect((await chain.evm.write(token, abi, 'slash', [id, head(9)])).status).toBe('success');
    expect(await revertOf('ownerOf', [id])).toBe('ERC721NonexistentToken');
    expect(await revertOf('locked', [id])).toBe('ERC721NonexistentToken');
    expect(await revertOf('slash', [id, head(9)])).toBe('ERC721NonexistentToken');
  });
});
