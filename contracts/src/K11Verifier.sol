// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import "./P256Verifier.sol";

/// A WebAuthn assertion (navigator.credentials.get) as the browser returned it, plus where to
/// find the two clientDataJSON fields that matter. The locations are supplied rather than
/// searched for because scanning JSON on chain is costly; a wrong location can only make the
/// assertion fail, never pass, since the bytes found there are checked exactly.
struct WebAuthnAssertion {
    bytes authenticatorData;
    bytes clientDataJSON;
    uint256 challengeLocation;
    uint256 typeLocation;
    uint256 r;
    uint256 s;
}

/// @title K11: WebAuthn assertion verification for the on-chain registry.
/// @notice Checks, in this order: clientDataJSON type and challenge, authenticatorData length
/// and rpIdHash, the UP and UV flags, the P-256 signature, and the sign count. `verify` answers
/// with a boolean and never reverts; `verifyOrRevert` reverts with the first check that failed,
/// so a caller learns exactly why an operation was refused.
contract K11Verifier {
    error WrongType();
    error ChallengeMismatch();
    error AuthenticatorDataTooShort();
    error RpIdHashMismatch();
    error UserNotPresent();
    error UserNotVerified();
    error BadSignature();
    error SignCountNotIncreasing(uint32 stored, uint32 presented);

    /// The first check that failed; `None` when the assertion is valid.
    enum Failure {
        None,
        WrongType,
        ChallengeMismatch,
        AuthenticatorDataTooShort,
        RpIdHashMismatch,
        UserNotPresent,
        UserNotVerified,
        BadSignature,
        SignCountNotIncreasing
    }

    // Including the closing quote pins the whole value, so "webauthn.get" cannot be a prefix
    // of something longer. A browser escapes quotes inside string values, so this exact byte
    // sequence cannot be smuggled in through another field such as the origin.
    bytes32 internal constant TYPE_GET_HASH = keccak256('"type":"webauthn.get"');
    uint256 internal constant TYPE_GET_LENGTH = 21;
    bytes internal constant CHALLENGE_PREFIX = '"challenge":"';
    // 13 bytes of prefix, 43 characters of unpadded base64url for 32 bytes, the closing quote.
    uint256 internal constant CHALLENGE_FIELD_LENGTH = 57;
    bytes internal constant BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    // rpIdHash (32) + flags (1) + signCount (4); attested credential data and extensions may
    // follow and are covered by the signature but not interpreted.
    uint256 internal constant AUTH_DATA_MIN_LENGTH = 37;
    uint8 internal constant FLAG_UP = 0x01;
    uint8 internal constant FLAG_UV = 0x04;

    P256Verifier public immutable p256;

    constructor(P256Verifier p256_) {
        // A call to an address without code succeeds with empty output, which `verify` would
        // read as a bad signature on every assertion; refuse the misconfiguration up front.
        require(address(p256_).code.length > 0, "K11Verifier: no P256Verifier code");
        p256 = p256_;
    }

    /// @notice True with the sign count to store when the assertion is valid; (false, 0)
    /// otherwise. Never reverts, whatever the input.
    function verify(
        WebAuthnAssertion calldata assertion,
        bytes32 challenge,
        uint256 x,
        uint256 y,
        bytes32 rpIdHash,
        bool requireUV,
        uint32 storedSignCount
    ) external view returns (bool ok, uint32 newSignCount) {
        (Failure failure, uint32 presented) = _check(assertion, challenge, x, y, rpIdHash, requireUV, storedSignCount);
        if (failure != Failure.None) return (false, 0);
        return (true, presented);
    }

    /// @notice The sign count to store when the assertion is valid; otherwise reverts with the
    /// custom error of the first check that failed.
    function verifyOrRevert(
        WebAuthnAssertion calldata assertion,
        bytes32 challenge,
        uint256 x,
        uint256 y,
        bytes32 rpIdHash,
        bool requireUV,
        uint32 storedSignCount
    ) external view returns (uint32 newSignCount) {
        (Failure failure, uint32 presented) = _check(assertion, challenge, x, y, rpIdHash, requireUV, storedSignCount);
        if (failure == Failure.None) return presented;
        if (failure == Failure.WrongType) revert WrongType();
        if (failure == Failure.ChallengeMismatch) revert ChallengeMismatch();
        if (failure == Failure.AuthenticatorDataTooShort) revert AuthenticatorDataTooShort();
        if (failure == Failure.RpIdHashMismatch) revert RpIdHashMismatch();
        if (failure == Failure.UserNotPresent) revert UserNotPresent();
        if (failure == Failure.UserNotVerified) revert UserNotVerified();
        if (failure == Failure.BadSignature) revert BadSignature();
        revert SignCountNotIncreasing(storedSignCount, presented);
    }

    /// @notice Unpadded base64url of 32 bytes (43 characters), as WebAuthn encodes challenges.
    function base64url(bytes32 data) public pure returns (bytes memory out) {
        out = new bytes(43);
        bytes memory table = BASE64URL;
        assembly ("memory-safe") {
            // mload at table + 1 + i ends exactly on table character i, so its low byte is it.
            let t := add(table, 1)
            let o := add(out, 32)
            // Three bytes make four characters, so ten rounds cover the first 30 bytes.
            for { let i := 0 } lt(i, 10) { i := add(i, 1) } {
                let v := shr(sub(232, mul(24, i)), data)
                mstore8(o, mload(add(t, and(shr(18, v), 63))))
                mstore8(add(o, 1), mload(add(t, and(shr(12, v), 63))))
                mstore8(add(o, 2), mload(add(t, and(shr(6, v), 63))))
                mstore8(add(o, 3), mload(add(t, and(v, 63))))
                o := add(o, 4)
            }
            // The last two bytes make three characters, the third padded with two zero bits.
            mstore8(o, mload(add(t, and(shr(10, data), 63))))
            mstore8(add(o, 1), mload(add(t, and(shr(4, data), 63))))
            mstore8(add(o, 2), mload(add(t, and(shl(2, data), 63))))
        }
    }

    /// One ordered pass over every check, shared by both entry points so they cannot disagree.
    /// Also returns the presented sign count, which the reverting entry point reports.
    function _check(
        WebAuthnAssertion calldata a,
        bytes32 challenge,
        uint256 x,
        uint256 y,
        bytes32 rpIdHash,
        bool requireUV,
        uint32 storedSignCount
    ) internal view returns (Failure, uint32) {
        if (!_hasType(a.clientDataJSON, a.typeLocation)) return (Failure.WrongType, 0);
        if (!_hasChallenge(a.clientDataJSON, a.challengeLocation, challenge)) return (Failure.ChallengeMismatch, 0);

        bytes calldata authData = a.authenticatorData;
        if (authData.length < AUTH_DATA_MIN_LENGTH) return (Failure.AuthenticatorDataTooShort, 0);
        if (bytes32(authData[:32]) != rpIdHash) return (Failure.RpIdHashMismatch, 0);
        uint8 flags = uint8(authData[32]);
        if (flags & FLAG_UP == 0) return (Failure.UserNotPresent, 0);
        if (requireUV && flags & FLAG_UV == 0) return (Failure.UserNotVerified, 0);

        if (!_signatureValid(a, x, y)) return (Failure.BadSignature, 0);

        // Checked after the signature so that a count is only ever reported, and stored, when
        // the authenticator really produced it.
        uint32 presented = uint32(bytes4(authData[33:37]));
        // Synced passkeys report 0 on every assertion; a count, once started, must move on.
        if (!(presented > storedSignCount || (presented == 0 && storedSignCount == 0))) {
            return (Failure.SignCountNotIncreasing, presented);
        }
        return (Failure.None, presented);
    }

    function _hasType(bytes calldata json, uint256 loc) internal pure returns (bool) {
        // Written as a subtraction so that a huge location cannot overflow into range.
        if (loc > json.length || json.length - loc < TYPE_GET_LENGTH) return false;
        return keccak256(json[loc:loc + TYPE_GET_LENGTH]) == TYPE_GET_HASH;
    }

    function _hasChallenge(bytes calldata json, uint256 loc, bytes32 challenge) internal pure returns (bool) {
        if (loc > json.length || json.length - loc < CHALLENGE_FIELD_LENGTH) return false;
        // The closing quote is part of the comparison: a padded or longer challenge then fails
        // on its 44th character instead of matching on a prefix.
        bytes memory expected = abi.encodePacked(CHALLENGE_PREFIX, base64url(challenge), '"');
        return keccak256(json[loc:loc + CHALLENGE_FIELD_LENGTH]) == keccak256(expected);
    }

    function _signatureValid(WebAuthnAssertion calldata a, uint256 x, uint256 y) internal view returns (bool) {
        bytes32 h = sha256(abi.encodePacked(a.authenticatorData, sha256(a.clientDataJSON)));
        // Low-level call so that `verify` keeps its promise not to revert even if the verifier
        // misbehaves (reverts, or returns something other than one ABI bool).
        (bool ok, bytes memory out) = address(p256).staticcall(abi.encodeCall(P256Verifier.verify, (h, a.r, a.s, x, y)));
        return ok && out.length == 32 && abi.decode(out, (uint256)) == 1;
    }
}
