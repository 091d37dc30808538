// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title K3EpochCounter
/// @notice The signer epoch that capability tokens are minted against. Moving it forward
///         invalidates every token of an earlier epoch at once, so it can never move back:
///         a rollback would revive tokens that were meant to be dead.
contract K3EpochCounter {
    error NotGovernance();
    error EpochNotForward(uint32 current, uint32 requested);
    error ZeroGovernance();

    event EpochAdvanced(uint32 previous, uint32 current);

    /// @notice The only address allowed to advance the epoch (the signer governance).
    address public immutable signerGovernance;

    /// @notice Starts at 1 so that 0 can mean "no epoch" off chain.
    uint32 public currentEpoch = 1;

    constructor(address governance) {
        // A zero governance would freeze the epoch forever, which is never what a deployer meant.
        if (governance == address(0)) revert ZeroGovernance();
        signerGovernance = governance;
    }

    /// @notice Moves the epoch to `newEpoch`; jumps are allowed so governance can skip
    ///         epochs it burned off chain, but never sideways or back.
    function advanceEpoch(uint32 newEpoch) external {
        if (msg.sender != signerGovernance) revert NotGovernance();
        uint32 previous = currentEpoch;
        if (newEpoch <= previous) revert EpochNotForward(previous, newEpoch);
        currentEpoch = newEpoch;
        emit EpochAdvanced(previous, newEpoch);
    }
}
