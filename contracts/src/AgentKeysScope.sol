// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import "./SidecarRegistry.sol";

/// @title Which services each agent of an operator may use.
/// @notice Per (operatorOmni, agent actorOmni) a set of services. A service is named on chain
/// by `keccak256(bytes(lowercase service name))`, e.g. keccak256("openrouter"), so the contract
/// never handles strings; clients lowercase the name before hashing.
///
/// A change is submitted by an active master device of the operator (msg.sender) and approved
/// by the K11 assertion (user verification required) of an active MASTER device of the same
/// operator holding SCOPE_MGMT, over
///
///     challenge = keccak256(abi.encode(opTag, operatorOmni, actorOmni, paramsHash, block.chainid, address(this), nonce))
///
/// where `nonce` is `scopeNonce(operatorOmni, actorOmni)`, advanced by every change, and
/// `paramsHash` is `keccak256(abi.encode(services))` for setScope (the bytes32[] exactly as
/// submitted, order included) and `bytes32(0)` for revokeScope. `scopeChallenge` computes it.
///
/// Sign counts: SidecarRegistry has no function through which another contract could store an
/// approver's new sign count, so this contract keeps the last count it accepted per approver
/// and gives K11Verifier max(that, the registry's `lastSignCount`). An assertion replayed here
/// is refused by both the nonce (challenge mismatch) and, for counting authenticators, the
/// sign count. The registry's own count does not see the counts used here; that is harmless,
/// since an authenticator's counter only moves forward and every challenge is bound to its
/// operation and nonce.
///
/// The actor must be an active agent actor of the operator in the registry
/// (`isActiveAgentActor`): an operator cannot set a scope for another operator's agent, for
/// an operator omni, or for an actor never registered. Once the registry revokes the actor,
/// `isServiceInScope` is false and `getScope` empty for good, since a revoked actor never
/// comes back.
contract AgentKeysScope {
    bytes32 public constant OP_SET_SCOPE = keccak256("agentkeys.setScope.v1");
    bytes32 public constant OP_REVOKE_SCOPE = keccak256("agentkeys.revokeScope.v1");
    /// SidecarRegistry.SCOPE_MGMT, copied: Solidity cannot read another contract's constant.
    uint8 public constant SCOPE_MGMT = 4;

    SidecarRegistry public immutable registry;
    K11Verifier public immutable k11;

    /// Advanced by every setScope and revokeScope of the pair; the next challenge uses it.
    mapping(bytes32 => mapping(bytes32 => uint256)) public scopeNonce;
    /// The last sign count accepted here for each approver device.
    mapping(bytes32 => uint32) public approverSignCount;

    /// The current set, in the order it was submitted.
    mapping(bytes32 => mapping(bytes32 => bytes32[])) internal _services;
    /// The scope nonce at which a service was last put in the set; it is a member exactly when
    /// that equals the current nonce, so replacing or revoking a set never has to clear this.
    mapping(bytes32 => mapping(bytes32 => mapping(bytes32 => uint256))) internal _memberAt;

    error SubmitterNotMaster(address submitter, bytes32 operatorOmni);
    error NotScopeApprover(bytes32 deviceKeyHash);
    error DuplicateService(bytes32 service);
    error NotActiveAgentActor(bytes32 operatorOmni, bytes32 actorOmni);

    event ScopeSet(bytes32 indexed operatorOmni, bytes32 indexed actorOmni, bytes32[] services, uint256 nonce);
    event ScopeRevoked(bytes32 indexed operatorOmni, bytes32 indexed actorOmni, uint256 nonce);

    constructor(SidecarRegistry registry_) {
        require(address(registry_).code.length > 0, "AgentKeysScope: no SidecarRegistry code");
        registry = registry_;
        k11 = registry_.k11();
    }

    // ---------------------------------------------------------------- changes

    /// @notice Replaces the agent's service set with `services` (no duplicates; may be empty)
    /// and advances the scope nonce. `nonce` in ScopeSet is the new scope nonce.
    function setScope(
        bytes32 operatorOmni,
        bytes32 actorOmni,
        bytes32[] calldata services,
        bytes32 approverDeviceKeyHash,
        WebAuthnAssertion calldata assertion
    ) external {
        uint256 nonce = scopeNonce[operatorOmni][actorOmni];
        bytes32 challenge =
            _challenge(OP_SET_SCOPE, operatorOmni, actorOmni, keccak256(abi.encode(services)), nonce);
        _authorize(operatorOmni, actorOmni, approverDeviceKeyHash, assertion, challenge);

        uint256 next = nonce + 1;
        scopeNonce[operatorOmni][actorOmni] = next;
        mapping(bytes32 => uint256) storage memberAt = _memberAt[operatorOmni][actorOmni];
        uint256 n = services.length;
        for (uint256 i = 0; i < n; ++i) {
            bytes32 s = services[i];
            if (memberAt[s] == next) revert DuplicateService(s);
            memberAt[s] = next;
        }
        _services[operatorOmni][actorOmni] = services;
        emit ScopeSet(operatorOmni, actorOmni, services, next);
    }

    /// @notice Empties the agent's service set and advances the scope nonce. `nonce` in
    /// ScopeRevoked is the new scope nonce.
    function revokeScope(
        bytes32 operatorOmni,
        bytes32 actorOmni,
        bytes32 approverDeviceKeyHash,
        WebAuthnAssertion calldata assertion
    ) external {
        uint256 nonce = scopeNonce[operatorOmni][actorOmni];
        bytes32 challenge = _challenge(OP_REVOKE_SCOPE, operatorOmni, actorOmni, bytes32(0), nonce);
        _authorize(operatorOmni, actorOmni, approverDeviceKeyHash, assertion, challenge);

        uint256 next = nonce + 1;
        scopeNonce[operatorOmni][actorOmni] = next;
        delete _services[operatorOmni][actorOmni];
        emit ScopeRevoked(operatorOmni, actorOmni, next);
    }

    // ---------------------------------------------------------------- views

    /// @notice The WebAuthn challenge for a scope change at the pair's current nonce:
    /// paramsHash is keccak256(abi.encode(services)) for OP_SET_SCOPE, bytes32(0) for
    /// OP_REVOKE_SCOPE.
    function scopeChallenge(bytes32 opTag, bytes32 operatorOmni, bytes32 actorOmni, bytes32 paramsHash)
        external
        view
        returns (bytes32)
    {
        return _challenge(opTag, operatorOmni, actorOmni, paramsHash, scopeNonce[operatorOmni][actorOmni]);
    }

    /// @notice False once the actor is no longer an active agent actor of the operator.
    function isServiceInScope(bytes32 operatorOmni, bytes32 actorOmni, bytes32 service) external view returns (bool) {
        uint256 nonce = scopeNonce[operatorOmni][actorOmni];
        return nonce != 0 && _memberAt[operatorOmni][actorOmni][service] == nonce
            && registry.isActiveAgentActor(operatorOmni, actorOmni);
    }

    /// @notice Empty once the actor is no longer an active agent actor of the operator.
    function getScope(bytes32 operatorOmni, bytes32 actorOmni) external view returns (bytes32[] memory) {
        if (!registry.isActiveAgentActor(operatorOmni, actorOmni)) return new bytes32[](0);
        return _services[operatorOmni][actorOmni];
    }

    // ---------------------------------------------------------------- internals

    function _challenge(bytes32 opTag, bytes32 op, bytes32 actor, bytes32 paramsHash, uint256 nonce)
        internal
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(opTag, op, actor, paramsHash, block.chainid, address(this), nonce));
    }

    /// Refuses unless the actor is an active agent actor of the operator, msg.sender is an
    /// active master of the operator and the approver, an active SCOPE_MGMT master of it,
    /// signed `challenge` (UV required); stores its sign count.
    function _authorize(
        bytes32 op,
        bytes32 actor,
        bytes32 approverHash,
        WebAuthnAssertion calldata a,
        bytes32 challenge
    ) internal {
        if (!registry.isActiveAgentActor(op, actor)) revert NotActiveAgentActor(op, actor);

        SidecarRegistry.Device memory submitter = registry.getDevice(keccak256(abi.encodePacked(msg.sender)));
        if (submitter.tier != SidecarRegistry.Tier.MASTER || submitter.revoked || submitter.operatorOmni != op) {
            revert SubmitterNotMaster(msg.sender, op);
        }

        SidecarRegistry.Device memory d = registry.getDevice(approverHash);
        if (
            d.tier != SidecarRegistry.Tier.MASTER || d.revoked || d.roles & SCOPE_MGMT == 0
                || d.operatorOmni != op
        ) {
            revert NotScopeApprover(approverHash);
        }

        uint32 stored = approverSignCount[approverHash];
        if (d.lastSignCount > stored) stored = d.lastSignCount;
        approverSignCount[approverHash] = k11.verifyOrRevert(a, challenge, d.k11X, d.k11Y, d.rpIdHash, true, stored);
    }
}
