// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title K3EpochCounter
/// @notice The signer epoch that capability tokens are minted against. Moving it forward
///         invalidates every token of an earlier epoch at once, so it can never move back:
///         a rollback would revive tokens that were meant to be dead.
///
///         The epoch moves one step at a time. A jump would let one mistaken or hostile call
///         (`advanceEpoch(type(uint32).max)`) end rotation for good; naming the next epoch
///         explicitly also makes a governance transaction sent twice fail the second time
///         instead of burning an extra epoch.
///
///         Governance changes hands in two steps: the current governance proposes an address,
///         and only that address can accept. A typo or an address nobody controls therefore
///         never takes governance away.
contract K3EpochCounter {
    error NotGovernance();
    error EpochNotNext(uint32 current, uint32 requested);
    error ZeroGovernance();
    error NotPendingGovernance(address sender);

    event EpochAdvanced(uint32 previous, uint32 current);
    /// @notice `proposed` is zero when a pending proposal is withdrawn.
    event GovernanceProposed(address indexed governance, address indexed proposed);
    event GovernanceTransferred(address indexed previous, address indexed current);

    /// @notice The only address allowed to advance the epoch (the signer governance).
    address public signerGovernance;

    /// @notice The address that may accept governance; zero when no hand-over is under way.
    address public pendingGovernance;

    /// @notice Starts at 1 so that 0 can mean "no epoch" off chain.
    uint32 public currentEpoch = 1;

    constructor(address governance) {
        // A zero governance would freeze the epoch forever, which is never what a deployer meant.
        if (governance == address(0)) revert ZeroGovernance();
        signerGovernance = governance;
        emit GovernanceTransferred(address(0), governance);
    }

    /// @notice Moves the epoch to `newEpoch`, which must be exactly the current epoch + 1.
    function advanceEpoch(uint32 newEpoch) external {
        if (msg.sender != signerGovernance) revert NotGovernance();
        uint32 previous = currentEpoch;
        // Widened so that at the last epoch no request matches, rather than the sum overflowing.
        if (uint256(newEpoch) != uint256(previous) + 1) revert EpochNotNext(previous, newEpoch);
        currentEpoch = newEpoch;
        emit EpochAdvanced(previous, newEpoch);
    }

    /// @notice Offers governance to `proposed`, replacing any earlier offer; zero withdraws it.
    ///         Governance stays with the caller until `proposed` accepts.
    function proposeGovernance(address proposed) external {
        if (msg.sender != signerGovernance) revert NotGovernance();
        pendingGovernance = proposed;
        emit GovernanceProposed(msg.sender, proposed);
    }

    /// @notice Takes governance; only the pending address may, and the offer is then spent.
    function acceptGovernance() external {
        // The zero check matters only for address(0) as sender, which no signed call has, but
        // keeps "no proposal" from ever being accepted by anyone.
        address pending = pendingGovernance;
        if (pending == address(0) || msg.sender != pending) revert NotPendingGovernance(msg.sender);
        address previous = signerGovernance;
        signerGovernance = pending;
        pendingGovernance = address(0);
        emit GovernanceTransferred(previous, pending);
    }
}
