// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import "./K11Verifier.sol";

/// @title The on-chain device registry: who may act for an operator, and with which roles.
/// @notice Devices are keyed by `deviceKeyHash = keccak256(abi.encodePacked(deviceAddress))`,
/// the address being the device's K10 EVM address. Master devices carry a K11 passkey; agent
/// devices do not. Every change is submitted by an active master device of the operator
/// (msg.sender), except the first registration, which the new master submits itself. The
/// sensitive changes also need K11 assertions (user verification required) over
///
///     challenge = keccak256(abi.encode(opTag, operatorOmni, paramsHash, block.chainid, nonce))
///
/// where `nonce` is `operatorNonce(operatorOmni)`, advanced after every K11-gated change, and
/// `paramsHash` is keccak256 of the ABI encoding of the operation's parameters:
///
/// - registerFirstMasterDevice:      abi.encode(device, roles, k11X, k11Y, rpIdHash)
/// - registerAdditionalMasterDevice: abi.encode(newDevice, roles, k11X, k11Y, rpIdHash)
/// - revokeMasterDevice:             abi.encode(targetDeviceKeyHash)
/// - setRecoveryThreshold:           abi.encode(newThreshold)
///
/// The WebAuthn challenge is exactly those 32 bytes (`challengeFor` computes it).
///
/// Adding a master, revoking a master and changing the threshold each need assertions from at
/// least `recoveryThreshold` (min 1) distinct active RECOVERY masters over the same challenge,
/// so one compromised passkey can never lower the quorum or add a device on its own. Adding a
/// master also needs an assertion by the new device's passkey over that challenge.
///
/// A passkey public key belongs to at most one master device, ever (revoked ones included),
/// so one person cannot count one passkey twice toward a quorum.
contract SidecarRegistry {
    enum Tier {
        NONE,
        MASTER,
        AGENT
    }

    /// One device. The first slot packs the address with the small fields.
    struct Device {
        address device;
        Tier tier;
        uint8 roles;
        uint32 lastSignCount;
        bool revoked;
        uint40 registeredAt;
        bytes32 operatorOmni;
        bytes32 actorOmni;
        uint256 k11X;
        uint256 k11Y;
        bytes32 rpIdHash;
    }

    /// Per-operator state in one slot. `recoveryThreshold` is never 0 once registered, so it
    /// doubles as the "operator exists" flag.
    struct Operator {
        uint64 nonce;
        uint32 recoveryThreshold;
        uint32 activeRecoveryMasters;
    }

    uint8 public constant CAP_MINT = 1;
    uint8 public constant RECOVERY = 2;
    uint8 public constant SCOPE_MGMT = 4;
    uint8 internal constant ALL_ROLES = CAP_MINT | RECOVERY | SCOPE_MGMT;

    bytes32 public constant OP_REGISTER_FIRST_MASTER = keccak256("agentkeys.registerFirstMaster.v1");
    bytes32 public constant OP_REGISTER_ADDITIONAL_MASTER = keccak256("agentkeys.registerAdditionalMaster.v1");
    bytes32 public constant OP_REVOKE_MASTER = keccak256("agentkeys.revokeMaster.v1");
    bytes32 public constant OP_SET_RECOVERY_THRESHOLD = keccak256("agentkeys.setRecoveryThreshold.v1");
    bytes32 public constant OP_ATTACH_PASSKEY = keccak256("agentkeys.attachPasskey.v1");

    K11Verifier public immutable k11;

    mapping(bytes32 => Device) internal _devices;
    mapping(bytes32 => Operator) internal _operators;
    mapping(bytes32 => bytes32[]) internal _operatorDevices;
    /// keccak256(abi.encode(k11X, k11Y)) => the deviceKeyHash of the master that registered it.
    mapping(bytes32 => bytes32) internal _passkeyDevices;

    error OperatorAlreadyRegistered(bytes32 operatorOmni);
    error DeviceAlreadyRegistered(bytes32 deviceKeyHash);
    error NotActiveMaster(address submitter);
    error NotRecoveryApprover(bytes32 deviceKeyHash);
    error DuplicateApprover(bytes32 deviceKeyHash);
    error NotEnoughApprovals(uint256 given, uint256 required);
    error LengthMismatch(uint256 approvers, uint256 assertions);
    error NotActiveAgentOfOperator(bytes32 deviceKeyHash);
    error NotActiveMasterOfOperator(bytes32 deviceKeyHash);
    error WouldStrandOperator(uint256 remainingRecoveryMasters, uint256 required);
    error InvalidThreshold(uint256 threshold, uint256 activeRecoveryMasters);
    error InvalidRoles(uint8 roles);
    error InvalidPasskey();
    error InvalidActorOmni();
    error ZeroAddress();
    error PasskeyAlreadyRegistered(bytes32 existingDeviceKeyHash);
    error OperatorHasPasskey(bytes32 operatorOmni);

    event OperatorRegistered(bytes32 indexed operatorOmni, address indexed firstMaster);
    event MasterDeviceRegistered(
        bytes32 indexed operatorOmni,
        bytes32 indexed deviceKeyHash,
        address device,
        uint8 roles,
        bytes32[] approverDeviceKeyHashes
    );
    event AgentDeviceRegistered(
        bytes32 indexed operatorOmni,
        bytes32 indexed deviceKeyHash,
        address device,
        bytes32 actorOmni,
        bytes32 submitterDeviceKeyHash
    );
    event AgentDeviceRevoked(
        bytes32 indexed operatorOmni, bytes32 indexed deviceKeyHash, bytes32 submitterDeviceKeyHash
    );
    event MasterDeviceRevoked(
        bytes32 indexed operatorOmni, bytes32 indexed deviceKeyHash, bytes32[] approverDeviceKeyHashes
    );
    event PasskeyAttached(bytes32 indexed operatorOmni, bytes32 indexed deviceKeyHash, uint8 roles);
    event RecoveryThresholdChanged(
        bytes32 indexed operatorOmni, uint256 oldThreshold, uint256 newThreshold, bytes32[] approverDeviceKeyHashes
    );

    constructor(K11Verifier k11_) {
        require(address(k11_).code.length > 0, "SidecarRegistry: no K11Verifier code");
        k11 = k11_;
    }

    // ---------------------------------------------------------------- changes

    /// @notice Registers msg.sender as the first master device of the operator derived from
    /// its own address. `assertion` is by the new passkey over the OP_REGISTER_FIRST_MASTER
    /// challenge, which binds msg.sender: nobody else can submit it first.
    function registerFirstMasterDevice(
        uint8 roles,
        uint256 k11X,
        uint256 k11Y,
        bytes32 rpIdHash,
        WebAuthnAssertion calldata assertion
    ) external {
        bytes32 op = operatorOmniOf(msg.sender);
        Operator storage o = _operators[op];
        if (o.recoveryThreshold != 0) revert OperatorAlreadyRegistered(op);
        bytes32 hash = deviceKeyHashOf(msg.sender);
        if (_devices[hash].tier != Tier.NONE) revert DeviceAlreadyRegistered(hash);
        _checkRoles(roles);
        // A first master without RECOVERY would leave the operator unable to approve anything.
        if (roles & RECOVERY == 0) revert WouldStrandOperator(0, 1);
        _checkNewPasskey(k11X, k11Y);

        bytes32 challenge = _challenge(
            OP_REGISTER_FIRST_MASTER, op, keccak256(abi.encode(msg.sender, roles, k11X, k11Y, rpIdHash)), o.nonce
        );
        uint32 signCount = k11.verifyOrRevert(assertion, challenge, k11X, k11Y, rpIdHash, true, 0);

        _store(hash, msg.sender, op, op, Tier.MASTER, roles, k11X, k11Y, rpIdHash, signCount);
        o.nonce = 1;
        o.recoveryThreshold = 1;
        o.activeRecoveryMasters = 1;
        bytes32[] memory self = new bytes32[](1);
        self[0] = hash;
        emit OperatorRegistered(op, msg.sender);
        emit MasterDeviceRegistered(op, hash, msg.sender, roles, self);
    }

    /// @notice Registers msg.sender as the first master device of its operator without a
    /// passkey, with CAP_MINT only: the device may use the operator's own secrets, and nothing
    /// that needs a K11 assertion (further masters, revocations, the threshold, agents' scopes)
    /// is possible until `attachPasskey`. The operator is derived from msg.sender, so only the
    /// holder of the device key can claim it; there is nothing to front-run.
    function registerFirstMasterDeviceWithoutPasskey() external {
        bytes32 op = operatorOmniOf(msg.sender);
        Operator storage o = _operators[op];
        if (o.recoveryThreshold != 0) revert OperatorAlreadyRegistered(op);
        bytes32 hash = deviceKeyHashOf(msg.sender);
        if (_devices[hash].tier != Tier.NONE) revert DeviceAlreadyRegistered(hash);

        _store(hash, msg.sender, op, op, Tier.MASTER, CAP_MINT, 0, 0, bytes32(0), 0);
        o.nonce = 1;
        o.recoveryThreshold = 1;
        // No RECOVERY master yet: every quorum fails until a passkey is attached.
        o.activeRecoveryMasters = 0;
        bytes32[] memory none = new bytes32[](0);
        emit OperatorRegistered(op, msg.sender);
        emit MasterDeviceRegistered(op, hash, msg.sender, CAP_MINT, none);
    }

    /// @notice Gives a passkey, and with it every role, to the submitting master of an operator
    /// that has no RECOVERY master (one registered without a passkey). `assertion` is by the new
    /// passkey (UV required) over the OP_ATTACH_PASSKEY challenge with paramsHash
    /// keccak256(abi.encode(msg.sender, k11X, k11Y, rpIdHash)).
    function attachPasskey(uint256 k11X, uint256 k11Y, bytes32 rpIdHash, WebAuthnAssertion calldata assertion)
        external
    {
        bytes32 op = _submitterOperator();
        Operator storage o = _operators[op];
        if (o.activeRecoveryMasters != 0) revert OperatorHasPasskey(op);
        _checkNewPasskey(k11X, k11Y);
        bytes32 challenge =
            _challenge(OP_ATTACH_PASSKEY, op, keccak256(abi.encode(msg.sender, k11X, k11Y, rpIdHash)), o.nonce);
        uint32 signCount = _verifyNew(assertion, challenge, k11X, k11Y, rpIdHash);

        bytes32 hash = deviceKeyHashOf(msg.sender);
        Device storage d = _devices[hash];
        d.roles = ALL_ROLES;
        d.k11X = k11X;
        d.k11Y = k11Y;
        d.rpIdHash = rpIdHash;
        d.lastSignCount = signCount;
        _passkeyDevices[_passkeyId(k11X, k11Y)] = hash;
        o.nonce += 1;
        o.activeRecoveryMasters = 1;
        emit PasskeyAttached(op, hash, ALL_ROLES);
    }

    /// @notice Adds a master device to the submitter's operator, approved by the K11 assertions
    /// of at least `recoveryThreshold` distinct active RECOVERY masters of that operator, and
    /// proven by an assertion of the new device's own passkey (UV required) over the same
    /// challenge, whose sign count is stored.
    function registerAdditionalMasterDevice(
        address newDevice,
        uint8 roles,
        uint256 k11X,
        uint256 k11Y,
        bytes32 rpIdHash,
        bytes32[] calldata approverDeviceKeyHashes,
        WebAuthnAssertion[] calldata assertions,
        WebAuthnAssertion calldata newDeviceAssertion
    ) external {
        bytes32 op = _submitterOperator();
        uint32 signCount;
        {
            bytes32 challenge = _additionalMasterChallenge(op, newDevice, roles, k11X, k11Y, rpIdHash);
            _checkQuorum(_operators[op], approverDeviceKeyHashes.length, assertions.length);
            _approveAll(op, approverDeviceKeyHashes, assertions, challenge);
            // Proof of possession of the passkey being registered, over the same challenge.
            signCount = _verifyNew(newDeviceAssertion, challenge, k11X, k11Y, rpIdHash);
        }
        bytes32 hash = _storeAdditionalMaster(op, newDevice, roles, k11X, k11Y, rpIdHash, signCount);
        emit MasterDeviceRegistered(op, hash, newDevice, roles, approverDeviceKeyHashes);
    }

    /// @notice Registers an agent device (role CAP_MINT) for the submitter's operator.
    function registerAgentDevice(address agentAddress, bytes32 actorOmni) external {
        bytes32 op = _submitterOperator();
        if (agentAddress == address(0)) revert ZeroAddress();
        if (actorOmni == bytes32(0)) revert InvalidActorOmni();
        bytes32 hash = deviceKeyHashOf(agentAddress);
        if (_devices[hash].tier != Tier.NONE) revert DeviceAlreadyRegistered(hash);
        _store(hash, agentAddress, op, actorOmni, Tier.AGENT, CAP_MINT, 0, 0, bytes32(0), 0);
        emit AgentDeviceRegistered(op, hash, agentAddress, actorOmni, deviceKeyHashOf(msg.sender));
    }

    /// @notice Revokes an active agent device of the submitter's operator.
    function revokeAgentDevice(bytes32 deviceKeyHash) external {
        bytes32 op = _submitterOperator();
        Device storage d = _devices[deviceKeyHash];
        if (d.tier != Tier.AGENT || d.revoked || d.operatorOmni != op) {
            revert NotActiveAgentOfOperator(deviceKeyHash);
        }
        d.revoked = true;
        emit AgentDeviceRevoked(op, deviceKeyHash, deviceKeyHashOf(msg.sender));
    }

    /// @notice Revokes a master device of the submitter's operator with the K11 assertions of
    /// at least `recoveryThreshold` distinct active RECOVERY masters, all over the same
    /// challenge. Refused when fewer than max(1, threshold) active RECOVERY masters would remain.
    function revokeMasterDevice(
        bytes32 targetDeviceKeyHash,
        bytes32[] calldata approverDeviceKeyHashes,
        WebAuthnAssertion[] calldata assertions
    ) external {
        bytes32 op = _submitterOperator();
        Device storage target = _devices[targetDeviceKeyHash];
        if (target.tier != Tier.MASTER || target.revoked || target.operatorOmni != op) {
            revert NotActiveMasterOfOperator(targetDeviceKeyHash);
        }
        Operator storage o = _operators[op];
        uint256 threshold = _checkQuorum(o, approverDeviceKeyHashes.length, assertions.length);

        uint32 remaining = o.activeRecoveryMasters;
        bool targetIsRecovery = target.roles & RECOVERY != 0;
        if (targetIsRecovery) remaining -= 1;
        if (remaining < threshold) revert WouldStrandOperator(remaining, threshold);

        bytes32 challenge =
            _challenge(OP_REVOKE_MASTER, op, keccak256(abi.encode(targetDeviceKeyHash)), o.nonce);
        _approveAll(op, approverDeviceKeyHashes, assertions, challenge);

        target.revoked = true;
        o.nonce += 1;
        o.activeRecoveryMasters = remaining;
        emit MasterDeviceRevoked(op, targetDeviceKeyHash, approverDeviceKeyHashes);
    }

    /// @notice Sets how many distinct RECOVERY masters must approve adding or revoking a master
    /// and changing the threshold, between 1 and the number of active RECOVERY masters. Needs
    /// the K11 assertions of at least the CURRENT threshold of distinct active RECOVERY masters.
    function setRecoveryThreshold(
        uint256 newThreshold,
        bytes32[] calldata approverDeviceKeyHashes,
        WebAuthnAssertion[] calldata assertions
    ) external {
        bytes32 op = _submitterOperator();
        Operator storage o = _operators[op];
        if (newThreshold == 0 || newThreshold > o.activeRecoveryMasters) {
            revert InvalidThreshold(newThreshold, o.activeRecoveryMasters);
        }
        uint256 old = _checkQuorum(o, approverDeviceKeyHashes.length, assertions.length);
        bytes32 challenge =
            _challenge(OP_SET_RECOVERY_THRESHOLD, op, keccak256(abi.encode(newThreshold)), o.nonce);
        _approveAll(op, approverDeviceKeyHashes, assertions, challenge);

        o.recoveryThreshold = uint32(newThreshold);
        o.nonce += 1;
        emit RecoveryThresholdChanged(op, old, newThreshold, approverDeviceKeyHashes);
    }

    // ---------------------------------------------------------------- views

    /// @notice The WebAuthn challenge for an operation at the operator's current nonce.
    function challengeFor(bytes32 opTag, bytes32 operatorOmni, bytes32 paramsHash) external view returns (bytes32) {
        return _challenge(opTag, operatorOmni, paramsHash, _operators[operatorOmni].nonce);
    }

    function isActive(bytes32 deviceKeyHash) external view returns (bool) {
        Device storage d = _devices[deviceKeyHash];
        return d.tier != Tier.NONE && !d.revoked;
    }

    function getDevice(bytes32 deviceKeyHash) external view returns (Device memory) {
        return _devices[deviceKeyHash];
    }

    /// @notice Every device ever registered for the operator, revoked ones included, in
    /// registration order.
    function getOperatorDevices(bytes32 operatorOmni) external view returns (bytes32[] memory) {
        return _operatorDevices[operatorOmni];
    }

    /// @notice The deviceKeyHash of the master registered with this passkey; 0 if none.
    function passkeyDevice(uint256 k11X, uint256 k11Y) external view returns (bytes32) {
        return _passkeyDevices[_passkeyId(k11X, k11Y)];
    }

    function operatorNonce(bytes32 operatorOmni) external view returns (uint256) {
        return _operators[operatorOmni].nonce;
    }

    /// @notice The revocation quorum; 0 for an operator that is not registered.
    function recoveryThreshold(bytes32 operatorOmni) external view returns (uint256) {
        return _operators[operatorOmni].recoveryThreshold;
    }

    function activeRecoveryMasters(bytes32 operatorOmni) external view returns (uint256) {
        return _operators[operatorOmni].activeRecoveryMasters;
    }

    /// @notice sha256("agentkeys" ‖ "evm" ‖ lowercase "0x…" hex of `firstMaster`).
    function operatorOmniOf(address firstMaster) public pure returns (bytes32) {
        return sha256(abi.encodePacked("agentkeysevm", _lowerHex(firstMaster)));
    }

    function deviceKeyHashOf(address device) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(device));
    }

    // ---------------------------------------------------------------- internals

    function _challenge(bytes32 opTag, bytes32 op, bytes32 paramsHash, uint256 nonce) internal view returns (bytes32) {
        return keccak256(abi.encode(opTag, op, paramsHash, block.chainid, nonce));
    }

    /// The operator of msg.sender, which must be an active master device.
    function _submitterOperator() internal view returns (bytes32) {
        Device storage d = _devices[deviceKeyHashOf(msg.sender)];
        if (d.tier != Tier.MASTER || d.revoked) revert NotActiveMaster(msg.sender);
        return d.operatorOmni;
    }

    /// The input checks of registerAdditionalMasterDevice, then its challenge.
    function _additionalMasterChallenge(
        bytes32 op,
        address newDevice,
        uint8 roles,
        uint256 k11X,
        uint256 k11Y,
        bytes32 rpIdHash
    ) internal view returns (bytes32) {
        if (newDevice == address(0)) revert ZeroAddress();
        bytes32 hash = deviceKeyHashOf(newDevice);
        if (_devices[hash].tier != Tier.NONE) revert DeviceAlreadyRegistered(hash);
        _checkRoles(roles);
        _checkNewPasskey(k11X, k11Y);
        return _challenge(
            OP_REGISTER_ADDITIONAL_MASTER,
            op,
            keccak256(abi.encode(newDevice, roles, k11X, k11Y, rpIdHash)),
            _operators[op].nonce
        );
    }

    /// Stores an approved additional master and advances the operator's state; its key hash.
    function _storeAdditionalMaster(
        bytes32 op,
        address newDevice,
        uint8 roles,
        uint256 k11X,
        uint256 k11Y,
        bytes32 rpIdHash,
        uint32 signCount
    ) internal returns (bytes32 hash) {
        hash = deviceKeyHashOf(newDevice);
        _store(hash, newDevice, op, op, Tier.MASTER, roles, k11X, k11Y, rpIdHash, signCount);
        Operator storage o = _operators[op];
        o.nonce += 1;
        if (roles & RECOVERY != 0) o.activeRecoveryMasters += 1;
    }

    /// Verifies the assertion of a passkey being registered (UV required); its sign count.
    function _verifyNew(WebAuthnAssertion calldata a, bytes32 challenge, uint256 x, uint256 y, bytes32 rpIdHash)
        internal
        view
        returns (uint32)
    {
        return k11.verifyOrRevert(a, challenge, x, y, rpIdHash, true, 0);
    }

    /// Refuses mismatched arrays and fewer approvals than max(1, recoveryThreshold); returns
    /// that quorum.
    function _checkQuorum(Operator storage o, uint256 approvers, uint256 assertionCount)
        internal
        view
        returns (uint256 quorum)
    {
        if (approvers != assertionCount) revert LengthMismatch(approvers, assertionCount);
        quorum = o.recoveryThreshold;
        if (quorum == 0) quorum = 1;
        if (approvers < quorum) revert NotEnoughApprovals(approvers, quorum);
    }

    /// Verifies every approver's assertion over `challenge`; each approver at most once.
    function _approveAll(
        bytes32 op,
        bytes32[] calldata approverHashes,
        WebAuthnAssertion[] calldata assertions,
        bytes32 challenge
    ) internal {
        uint256 n = approverHashes.length;
        for (uint256 i = 0; i < n; ++i) {
            bytes32 approver = approverHashes[i];
            for (uint256 j = 0; j < i; ++j) {
                if (approverHashes[j] == approver) revert DuplicateApprover(approver);
            }
            _approve(op, approver, assertions[i], challenge);
        }
    }

    /// Verifies an approver's assertion (UV required) and stores its new sign count.
    function _approve(bytes32 op, bytes32 approverHash, WebAuthnAssertion calldata a, bytes32 challenge) internal {
        Device storage d = _devices[approverHash];
        if (d.tier != Tier.MASTER || d.revoked || d.roles & RECOVERY == 0 || d.operatorOmni != op) {
            revert NotRecoveryApprover(approverHash);
        }
        d.lastSignCount = k11.verifyOrRevert(a, challenge, d.k11X, d.k11Y, d.rpIdHash, true, d.lastSignCount);
    }

    /// Refuses a zero coordinate and a passkey already registered to any master, even revoked.
    function _checkNewPasskey(uint256 k11X, uint256 k11Y) internal view {
        if (k11X == 0 || k11Y == 0) revert InvalidPasskey();
        bytes32 existing = _passkeyDevices[_passkeyId(k11X, k11Y)];
        if (existing != bytes32(0)) revert PasskeyAlreadyRegistered(existing);
    }

    function _passkeyId(uint256 k11X, uint256 k11Y) internal pure returns (bytes32) {
        return keccak256(abi.encode(k11X, k11Y));
    }

    function _checkRoles(uint8 roles) internal pure {
        if (roles & ~ALL_ROLES != 0) revert InvalidRoles(roles);
    }

    function _store(
        bytes32 hash,
        address device,
        bytes32 op,
        bytes32 actorOmni,
        Tier tier,
        uint8 roles,
        uint256 k11X,
        uint256 k11Y,
        bytes32 rpIdHash,
        uint32 signCount
    ) internal {
        _devices[hash] = Device({
            device: device,
            tier: tier,
            roles: roles,
            lastSignCount: signCount,
            revoked: false,
            registeredAt: uint40(block.timestamp),
            operatorOmni: op,
            actorOmni: actorOmni,
            k11X: k11X,
            k11Y: k11Y,
            rpIdHash: rpIdHash
        });
        _operatorDevices[op].push(hash);
        // A master carries a passkey (checked unused by _checkNewPasskey) unless registered
        // without one; agents never do.
        if (tier == Tier.MASTER && k11X != 0) _passkeyDevices[_passkeyId(k11X, k11Y)] = hash;
    }

    /// "0x" followed by the 40 lowercase hex digits of `a`.
    function _lowerHex(address a) internal pure returns (bytes memory s) {
        s = new bytes(42);
        bytes16 digits = "0123456789abcdef";
        uint160 v = uint160(a);
        s[0] = "0";
        s[1] = "x";
        for (uint256 i = 41; i > 1; --i) {
            s[i] = digits[v & 0xf];
            v >>= 4;
        }
    }
}
