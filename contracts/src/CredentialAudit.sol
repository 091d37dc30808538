// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import "./SidecarRegistry.sol";

/// @title CredentialAudit
/// @notice Per-operator Merkle roots of audit-record batches, and inclusion checks against them.
///         Roots are appended by an audit relay the owner has authorized, or by an active
///         MASTER device of the operator in the SidecarRegistry. Agents are never allowed: they
///         are the party being audited, and must not be able to vouch for their own record.
/// @dev Tree shape (shared with the Rust builder in contracts/src/merkle.rs):
///      leaf = keccak256(0x00 ‖ recordHash), node = keccak256(0x01 ‖ min(a, b) ‖ max(a, b)),
///      an odd node is promoted unchanged. The 0x00/0x01 prefixes keep a node from ever being
///      passed off as a leaf; sorting the pair means a proof needs no left/right flags.
contract CredentialAudit {
    struct AnchoredRoot {
        bytes32 root;
        uint64 count;
        uint64 anchoredAt;
    }

    error NotOwner();
    error ZeroAddress();
    error RegistryWithoutCode(address registry);
    error NotAuthorizedToAppend(bytes32 operatorOmni, address sender);
    error ZeroRoot();
    error EmptyBatch();
    error RootIndexOutOfRange(bytes32 operatorOmni, uint256 index, uint256 rootCount);

    event AuditRelaySet(address indexed relay, bool authorized);
    event RootAppended(bytes32 indexed operatorOmni, uint256 indexed index, bytes32 root, uint64 count);

    /// @notice May authorize and deauthorize audit relays.
    address public immutable owner;

    /// @notice The device registry whose active master devices may anchor their operator's roots.
    SidecarRegistry public immutable registry;

    /// @notice Relays allowed to anchor roots for any operator.
    mapping(address => bool) public isAuditRelay;

    mapping(bytes32 => AnchoredRoot[]) private _roots;

    constructor(address owner_, SidecarRegistry registry_) {
        // A zero owner could never authorize a relay, leaving the contract unusable.
        if (owner_ == address(0)) revert ZeroAddress();
        // Calls to an address without code succeed with no data and would then fail to decode;
        // refusing it here makes a misconfigured deployment fail loudly, once.
        if (address(registry_).code.length == 0) revert RegistryWithoutCode(address(registry_));
        owner = owner_;
        registry = registry_;
    }

    function setAuditRelay(address relay, bool authorized) external {
        if (msg.sender != owner) revert NotOwner();
        if (relay == address(0)) revert ZeroAddress();
        isAuditRelay[relay] = authorized;
        emit AuditRelaySet(relay, authorized);
    }

    /// @notice Anchors the root of a batch of `count` audit records for `operatorOmni`.
    /// @return index The position of the new root in the operator's list.
    function appendRoot(bytes32 operatorOmni, bytes32 root, uint64 count) external returns (uint256 index) {
        if (!_mayAppend(operatorOmni, msg.sender)) revert NotAuthorizedToAppend(operatorOmni, msg.sender);
        // A zero root or an empty batch can only come from a broken relay; refusing them keeps
        // "anchored" meaning that real records are behind the root.
        if (root == bytes32(0)) revert ZeroRoot();
        if (count == 0) revert EmptyBatch();
        AnchoredRoot[] storage list = _roots[operatorOmni];
        index = list.length;
        list.push(AnchoredRoot({root: root, count: count, anchoredAt: uint64(block.timestamp)}));
        emit RootAppended(operatorOmni, index, root, count);
    }

    function rootCount(bytes32 operatorOmni) external view returns (uint256) {
        return _roots[operatorOmni].length;
    }

    function getRoot(bytes32 operatorOmni, uint256 index)
        external
        view
        returns (bytes32 root, uint64 count, uint64 anchoredAt)
    {
        AnchoredRoot storage entry = _rootAt(operatorOmni, index);
        return (entry.root, entry.count, entry.anchoredAt);
    }

    /// @notice True when `recordHash` is a leaf of the operator's root at `index`.
    /// @dev Reverts (rather than returning false) for an index not anchored yet, so a caller can
    ///      tell "not anchored yet" apart from "not in this batch".
    function verifyEntryInRoot(bytes32 operatorOmni, uint256 index, bytes32 recordHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = _rootAt(operatorOmni, index).root;
        bytes32 node = _leaf(recordHash);
        for (uint256 i = 0; i < proof.length; ++i) {
            node = _node(node, proof[i]);
        }
        return node == root;
    }

    /// @dev The authorization hook: an authorized relay (for any operator), or an active
    ///      master device of `operatorOmni` in the registry.
    function _mayAppend(bytes32 operatorOmni, address sender) internal view virtual returns (bool) {
        if (isAuditRelay[sender]) return true;
        SidecarRegistry.Device memory d = registry.getDevice(keccak256(abi.encodePacked(sender)));
        return d.tier == SidecarRegistry.Tier.MASTER && !d.revoked && d.operatorOmni == operatorOmni;
    }

    function _rootAt(bytes32 operatorOmni, uint256 index) private view returns (AnchoredRoot storage) {
        AnchoredRoot[] storage list = _roots[operatorOmni];
        if (index >= list.length) revert RootIndexOutOfRange(operatorOmni, index, list.length);
        return list[index];
    }

    function _leaf(bytes32 recordHash) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            // Scratch memory past the free pointer: no allocation, nothing kept.
            let p := mload(0x40)
            mstore8(p, 0x00)
            mstore(add(p, 1), recordHash)
            h := keccak256(p, 33)
        }
    }

    function _node(bytes32 a, bytes32 b) private pure returns (bytes32 h) {
        (bytes32 lo, bytes32 hi) = a < b ? (a, b) : (b, a);
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 0x01)
            mstore(add(p, 1), lo)
            mstore(add(p, 33), hi)
            h := keccak256(p, 65)
        }
    }
}
