// The local EVM node (Hardhat 2's EDR) for tests and `npm run dev`, started by devstack/evm.ts.
// CommonJS: Hardhat 2 reads its config with require(). Nothing is compiled by Hardhat itself
// (our contracts are compiled with solc in chain/compile.ts), so its source folder is an empty one.
// devstack/evm.ts always passes the interval (its default is declared in protocol/src/settings.ts).
const blockMs = Number(process.env.TRD_EVM_BLOCK_MS);
if (!Number.isInteger(blockMs) || blockMs < 0) throw new Error('TRD_EVM_BLOCK_MS must be set to a whole number of ms (devstack/evm.ts sets it)');
const dir = process.env.TRD_EVM_DIR || require('node:os').tmpdir();
module.exports = {
  paths: { sources: `${dir}/no-sources`, cache: `${dir}/hardhat-cache`, artifacts: `${dir}/hardhat-artifacts` },
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: 'cancun',
      // Each transaction is mined at once; with TRD_EVM_BLOCK_MS a block also comes every so often, so confirmations grow.
      mining: { auto: true, interval: blockMs },
      loggingEnabled: false,
    },
  },
};
