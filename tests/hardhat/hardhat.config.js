// A bare Hardhat 2 network for the rpc chain adapter tests: no Solidity sources (the relay
// deploys the committed artifacts itself), the default funded accounts, chain id 31337 and
// one block per transaction.
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      mining: { auto: true },
      // Like a real node: a reverting transaction is mined (status 0), not refused; a
      // reverting call is an error carrying the revert data.
      throwOnTransactionFailures: false,
      throwOnCallFailures: true,
    },
  },
  paths: {
    sources: "./no-sources",
    cache: "./node_modules/.cache/hardhat",
    artifacts: "./node_modules/.cache/hardhat-artifacts",
  },
};
