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
///     challenge = keccak256(abi.encode(opTag, operatorOmni, paramsHash, block.chainid, address(this), nonce))
///
/// (the contract's own address keeps two deployments on one chain id from accepting each
/// other's assertions) where `nonce` is `operatorNonce(operatorOmni)`, advanced after every K11-gated change, and
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
///
/// A device joins an operator only with its own consent: the K10 key of a new agent or
/// additional master signs (ecrecover, low-s, v 27 or 28)
///
///     keccak256(abi.encode(OP_AGENT_CONSENT, operatorOmni, actorOmni, agent, block.chainid, address(this)))
///     keccak256(abi.encode(OP_MASTER_CONSENT, operatorOmni, newDevice, roles, block.chainid, address(this)))
///
/// so nobody can register another person's device address, under their own operator or
/// first. `agentConsentDigest` and `masterConsentDigest` compute them.
///
/// An agent's actorOmni is derived here from the submitting operator, exactly as the clients
/// derive it:
///
///     actorOmni = sha256("agentkeys-hdkd-v1" ‖ operatorOmni ‖ "//" ‖ label ‖ "/" ‖ decimal generation)
///
/// so an operator can only ever name actors of its own: a foreign actor (another operator's
/// omni or agent) is impossible by construction. Each actor is used once: once revoked it
/// never comes back, and a new generation is a new actor.
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

    enum ActorStatus {
        NONE,
        ACTIVE,
        REVOKED
    }

    /// The owner and life of an agent actorOmni, in one slot with the status.
    struct Actor {
        bytes32 operatorOmni;
        ActorStatus status;
    }

    /// A master device being added: its K10 address, roles and passkey. One calldata
    /// argument, so that registerAdditionalMasterDevice fits the stack.
    struct NewMaster {
        address device;
        uint8 roles;
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
    bytes32 public constant OP_AGENT_CONSENT = keccak256("agentkeys.agentConsent.v1");
    bytes32 public constant OP_MASTER_CONSENT = keccak256("agentkeys.masterConsent.v1");

    /// secp256k1n / 2: a larger s is the malleable twin of a valid signature.
    uint256 internal constant SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    K11Verifier public immutable k11;

    mapping(bytes32 => Device) internal _devices;
    mapping(bytes32 => Operator) internal _operators;
    mapping(bytes32 => bytes32[]) internal _operatorDevices;
    /// keccak256(abi.encode(k11X, k11Y)) => the deviceKeyHash of the master that registered it.
    mapping(bytes32 => bytes32) internal _passkeyDevices;
    /// Every agent actorOmni ever registered.
    mapping(bytes32 => Actor) internal _actors;

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
    error ZeroAddress();
    error PasskeyAlreadyRegistered(bytes32 existingDeviceKeyHash);
    error OperatorHasPasskey(bytes32 operatorOmni);
    error MissingRole(address submitter, uint8 role);
    error InvalidAgentLabel(string label);
    error ActorAlreadyActive(bytes32 actorOmni);
    error ActorRevoked(bytes32 actorOmni);
    error OperatorShapedActor(bytes32 actorOmni);
    error InvalidDeviceConsent(address device);

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
    /// challenge, whose sign count is stored. `deviceSig` is the new device's K10 consent over
    /// `masterConsentDigest(operatorOmni, newDevice, roles)`.
    function registerAdditionalMasterDevice(
        NewMaster calldata m,
        bytes32[] calldata approverDeviceKeyHashes,
        WebAuthnAssertion[] calldata assertions,
        WebAuthnAssertion calldata newDeviceAssertion,
        bytes calldata deviceSig
    ) external {
        bytes32 op = _submitterOperator();
        uint32 signCount;
        {
            bytes32 challenge = _additionalMasterChallenge(op, m);
            _checkConsent(masterConsentDigest(op, m.device, m.roles), m.device, deviceSig);
            _checkQuorum(_operators[op], approverDeviceKeyHashes.length, assertions.length);
            _approveAll(op, approverDeviceKeyHashes, assertions, challenge);
            // Proof of possession of the passkey being registered, over the same challenge.
            signCount = _verifyNew(newDeviceAssertion, challenge, m.k11X, m.k11Y, m.rpIdHash);
        }
        bytes32 hash = _storeAdditionalMaster(op, m, signCount);
        emit MasterDeviceRegistered(op, hash, m.device, m.roles, approverDeviceKeyHashes);
    }

    /// @notice Registers `agent` (role CAP_MINT) as the agent device of the actor
    /// `agentActorOf(operator, label, generation)` of the submitter's operator. The submitter
    /// must be an active master holding SCOPE_MGMT; `agentSig` is the agent key's consent over
    /// `agentConsentDigest(operator, actor, agent)`. The actor is derived from the submitter's
    /// own operator, so it can never be another operator's omni or agent; it must never have
    /// been used (a revoked actor stays revoked: a new generation is a new actor).
    function registerAgentDevice(address agent, string calldata label, uint32 generation, bytes calldata agentSig)
        external
    {
        bytes32 op = _submitterOperator();
        if (_devices[deviceKeyHashOf(msg.sender)].roles & SCOPE_MGMT == 0) revert MissingRole(msg.sender, SCOPE_MGMT);
        if (agent == address(0)) revert ZeroAddress();
        bytes32 actor = agentActorOf(op, label, generation);
        // Unreachable through the derivation (sha256 would have to collide), kept so that the
        // invariant "no agent actor is an operator" does not rest on it alone.
        if (_operators[actor].recoveryThreshold != 0) revert OperatorShapedActor(actor);
        Actor storage a = _actors[actor];
        if (a.status == ActorStatus.ACTIVE) revert ActorAlreadyActive(actor);
        if (a.status == ActorStatus.REVOKED) revert ActorRevoked(actor);
        bytes32 hash = deviceKeyHashOf(agent);
        if (_devices[hash].tier != Tier.NONE) revert DeviceAlreadyRegistered(hash);
        _checkConsent(agentConsentDigest(op, actor, agent), agent, agentSig);

        a.operatorOmni = op;
        a.status = ActorStatus.ACTIVE;
        _store(hash, agent, op, actor, Tier.AGENT, CAP_MINT, 0, 0, bytes32(0), 0);
        emit AgentDeviceRegistered(op, hash, agent, actor, deviceKeyHashOf(msg.sender));
    }

    /// @notice Revokes an active agent device of the submitter's operator, and its actor for
    /// good: AgentKeysScope stops granting that actor anything.
    function revokeAgentDevice(bytes32 deviceKeyHash) external {
        bytes32 op = _submitterOperator();
        Device storage d = _devices[deviceKeyHash];
        if (d.tier != Tier.AGENT || d.revoked || d.operatorOmni != op) {
            revert NotActiveAgentOfOperator(deviceKeyHash);
        }
        d.revoked = true;
        _actors[d.actorOmni].status = ActorStatus.REVOKED;
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

    /// @notice The operator that registered the agent actor and its status (NONE for an
    /// actor never registered, whose operator is 0).
    function getActor(bytes32 actorOmni) external view returns (Actor memory) {
        return _actors[actorOmni];
    }

    /// @notice True while `actorOmni` is an active agent actor of `operatorOmni`.
    function isActiveAgentActor(bytes32 operatorOmni, bytes32 actorOmni) external view returns (bool) {
        Actor storage a = _actors[actorOmni];
        return a.status == ActorStatus.ACTIVE && a.operatorOmni == operatorOmni;
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

    /// @notice sha256("agentkeys-hdkd-v1" ‖ operatorOmni ‖ "//" ‖ label ‖ "/" ‖ decimal
    /// generation), the client's derivation of an agent actor; `label` is [a-z0-9-]{1,32}.
    function agentActorOf(bytes32 operatorOmni, string calldata label, uint32 generation)
        public
        pure
        returns (bytes32)
    {
        _checkLabel(label);
        return sha256(abi.encodePacked("agentkeys-hdkd-v1", operatorOmni, "//", label, "/", _decimal(generation)));
    }

    /// @notice What a new agent's K10 key signs (no EIP-191 prefix) to consent to its actor.
    function agentConsentDigest(bytes32 operatorOmni, bytes32 actorOmni, address agent)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(OP_AGENT_CONSENT, operatorOmni, actorOmni, agent, block.chainid, address(this)));
    }

    /// @notice What a new master's K10 key signs (no EIP-191 prefix) to consent to joining
    /// the operator with these roles.
    function masterConsentDigest(bytes32 operatorOmni, address newDevice, uint8 roles) public view returns (bytes32) {
        return keccak256(abi.encode(OP_MASTER_CONSENT, operatorOmni, newDevice, roles, block.chainid, address(this)));
    }

    // ---------------------------------------------------------------- internals

    function _challenge(bytes32 opTag, bytes32 op, bytes32 paramsHash, uint256 nonce) internal view returns (bytes32) {
        return keccak256(abi.encode(opTag, op, paramsHash, block.chainid, address(this), nonce));
    }

    /// Refuses unless `sig` is `device`'s canonical signature (65 bytes, low s, v 27 or 28) of
    /// `digest`: one encoding per signature, and ecrecover's 0 on failure never matches.
    function _checkConsent(bytes32 digest, address device, bytes calldata sig) internal pure {
        if (sig.length != 65) revert InvalidDeviceConsent(device);
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (uint256(s) > SECP256K1_HALF_N || (v != 27 && v != 28)) revert InvalidDeviceConsent(device);
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0) || signer != device) revert InvalidDeviceConsent(device);
    }

    /// Refuses a label outside [a-z0-9-]{1,32}, the clients' agent label.
    function _checkLabel(string calldata label) internal pure {
        bytes calldata b = bytes(label);
        uint256 n = b.length;
        if (n == 0 || n > 32) revert InvalidAgentLabel(label);
        for (uint256 i = 0; i < n; ++i) {
            bytes1 c = b[i];
            if (!((c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c == "-")) revert InvalidAgentLabel(label);
        }
    }

    /// The decimal digits of `v`, as Rust's u32::to_string writes them.
    function _decimal(uint32 v) internal pure returns (bytes memory s) {
        uint256 len = 1;
        for (uint32 t = v; t >= 10; t /= 10) ++len;
        s = new bytes(len);
        for (uint256 i = len; i > 0; --i) {
            s[i - 1] = bytes1(uint8(48 + v % 10));
            v /= 10;
        }
    }

    /// The operator of msg.sender, which must be an active master device.
    function _submitterOperator() internal view returns (bytes32) {
        Device storage d = _devices[deviceKeyHashOf(msg.sender)];
        if (d.tier != Tier.MASTER || d.revoked) revert NotActiveMaster(msg.sender);
        return d.operatorOmni;
    }

    /// The input checks of registerAdditionalMasterDevice, then its challenge.
    function _additionalMasterChallenge(bytes32 op, NewMaster calldata m) internal view returns (bytes32) {
        if (m.device == address(0)) revert ZeroAddress();
        bytes32 hash = deviceKeyHashOf(m.device);
        if (_devices[hash].tier != Tier.NONE) revert DeviceAlreadyRegistered(hash);
        _checkRoles(m.roles);
        _checkNewPasskey(m.k11X, m.k11Y);
        return _challenge(
            OP_REGISTER_ADDITIONAL_MASTER,
            op,
            keccak256(abi.encode(m.device, m.roles, m.k11X, m.k11Y, m.rpIdHash)),
            _operators[op].nonce
        );
    }

    /// Stores an approved additional master and advances the operator's state; its key hash.
    function _storeAdditionalMaster(bytes32 op, NewMaster calldata m, uint32 signCount)
        internal
        returns (bytes32 hash)
    {
        hash = deviceKeyHashOf(m.device);
        _store(hash, m.device, op, op, Tier.MASTER, m.roles, m.k11X, m.k11Y, m.rpIdHash, signCount);
        Operator storage o = _operators[op];
        o.nonce += 1;
        if (m.roles & RECOVERY != 0) o.activeRecoveryMasters += 1;
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
