// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title P-256 (secp256r1) ECDSA verification for WebAuthn passkeys.
/// @notice Uses the RIP-7212 / EIP-7951 precompile at 0x100 when the chain has it, else a
/// pure-Solidity verification. Signatures must be low-s: of the two encodings of a signature
/// only (r, s <= n/2) is accepted, so a signature cannot be replayed in its other form.
/// @dev Whether the precompile exists is decided once, at deployment, by verifying a known
/// signature through it: a chain without it answers a call to 0x100 with success and empty
/// output, which is indistinguishable from "invalid" at verification time. The probe also
/// needs the precompile to refuse a wrong signature: code at 0x100 that answers "valid" to
/// everything (a chain that let someone deploy there, or a broken implementation) would
/// otherwise make every passkey assertion pass.
contract P256Verifier {
    address internal constant PRECOMPILE = address(0x100);

    uint256 internal constant P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF;
    uint256 internal constant B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B;
    uint256 internal constant N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551;
    uint256 internal constant HALF_N = 0x7FFFFFFF800000007FFFFFFFFFFFFFFFDE737D56D38BCF4279DCE5617E3192A8;
    uint256 internal constant GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296;
    uint256 internal constant GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5;

    /// True when verification goes through the precompile.
    bool public immutable hasPrecompile;

    constructor() {
        // With d = 1 and k = 1: Q = G, r = Gx and s = e + r. For e = 1 this is low-s, and the
        // same (r, s) over e = 2 is wrong.
        hasPrecompile = _precompileVerify(bytes32(uint256(1)), GX, GX + 1, GX, GY)
            && !_precompileVerify(bytes32(uint256(2)), GX, GX + 1, GX, GY);
    }

    /// @notice Verifies an ECDSA P-256 signature (r, s) over the 32-byte digest `h` by the key
    /// (x, y). Returns false (never reverts) for any invalid input: r or s out of [1, n-1],
    /// high s, a key that is not on the curve, or a wrong signature.
    function verify(bytes32 h, uint256 r, uint256 s, uint256 x, uint256 y) public view returns (bool) {
        if (r == 0 || r >= N || s == 0 || s > HALF_N) return false;
        if (!isOnCurve(x, y)) return false;
        if (hasPrecompile) return _precompileVerify(h, r, s, x, y);
        return _verifyPure(uint256(h), r, s, x, y);
    }

    /// @notice y^2 = x^3 - 3x + b over the field, with both coordinates reduced.
    function isOnCurve(uint256 x, uint256 y) public pure returns (bool) {
        if (x >= P || y >= P) return false;
        uint256 lhs = mulmod(y, y, P);
        uint256 rhs = addmod(mulmod(mulmod(x, x, P), x, P), addmod(mulmod(P - 3, x, P), B, P), P);
        return lhs == rhs;
    }

    function _precompileVerify(bytes32 h, uint256 r, uint256 s, uint256 x, uint256 y) internal view returns (bool) {
        (bool ok, bytes memory out) = PRECOMPILE.staticcall(abi.encode(h, r, s, x, y));
        return ok && out.length == 32 && abi.decode(out, (uint256)) == 1;
    }

    /// Verification without the precompile: u1*G + u2*Q, then the x check.
    function _verifyPure(uint256 e, uint256 r, uint256 s, uint256 qx, uint256 qy) internal view returns (bool) {
        uint256 w = _modExp(s, N - 2, N);
        (uint256 tbl, bool hInf) = _table(qx, qy);
        (uint256 X, uint256 ZZ) = _shamir(mulmod(e, w, N), mulmod(r, w, N), tbl, hInf);
        if (ZZ == 0) return false;
        // The affine x is X/ZZ; compare without inverting: x = r, or x = r + n when r < p - n.
        if (X == mulmod(r, ZZ, P)) return true;
        return r < P - N && X == mulmod(r + N, ZZ, P);
    }

    /// u1*G + u2*Q by Shamir's trick over the table {G, Q, G+Q}, in XYZZ coordinates
    /// (x = X/ZZ, y = Y/ZZZ), so the loop needs no inversion. ZZ = 0 is the point at infinity.
    /// The doubling and the addition are written out inside the loop: calls to Yul functions
    /// cost as much stack shuffling as the field arithmetic itself.
    function _shamir(uint256 u1, uint256 u2, uint256 tbl, bool hInf) internal pure returns (uint256 X, uint256 ZZ) {
        assembly {
            // Doubling for the rare case where the addition meets the point it adds.
            function dbl(x1, y1, zz1, zzz1) -> x3, y3, zz3, zzz3 {
                let u := addmod(y1, y1, P)
                zz3 := mulmod(u, u, P)
                zzz3 := mulmod(u, zz3, P)
                u := mulmod(x1, zz3, P)
                let m := mulmod(3, mulmod(addmod(x1, sub(P, zz1), P), addmod(x1, zz1, P), P), P)
                x3 := addmod(mulmod(m, m, P), sub(P, addmod(u, u, P)), P)
                y3 := addmod(mulmod(m, addmod(u, sub(P, x3), P), P), sub(P, mulmod(zzz3, y1, P)), P)
                zz3 := mulmod(zz3, zz1, P)
                zzz3 := mulmod(zzz3, zzz1, P)
            }

            let Y := 0
            let ZZZ := 0
            let i := 255
            for {} iszero(or(and(1, shr(i, u1)), and(1, shr(i, u2)))) { i := sub(i, 1) } {
                if iszero(i) { break }
            }
            for {} 1 {} {
                // Double. With ZZ = 0 (infinity) the result keeps ZZ = 0, so no branch.
                {
                    let u := addmod(Y, Y, P)
                    let v := mulmod(u, u, P)
                    u := mulmod(u, v, P) // W
                    // a = -3: M = 3*(X - ZZ)*(X + ZZ)
                    let m := mulmod(3, mulmod(addmod(X, sub(P, ZZ), P), addmod(X, ZZ, P), P), P)
                    ZZ := mulmod(ZZ, v, P)
                    ZZZ := mulmod(ZZZ, u, P)
                    v := mulmod(X, v, P) // S
                    X := addmod(mulmod(m, m, P), sub(P, addmod(v, v, P)), P)
                    Y := addmod(mulmod(m, addmod(v, sub(P, X), P), P), sub(P, mulmod(u, Y, P)), P)
                }
                let bits := or(and(1, shr(i, u1)), shl(1, and(1, shr(i, u2))))
                if and(eq(bits, 3), hInf) { bits := 0 }
                if bits {
                    bits := add(tbl, shl(6, bits)) // the entry's address
                    switch ZZ
                    case 0 {
                        X := mload(bits)
                        Y := mload(add(bits, 0x20))
                        ZZ := 1
                        ZZZ := 1
                    }
                    default {
                        let pp := addmod(mulmod(mload(bits), ZZ, P), sub(P, X), P) // U2 - X1
                        let rr := addmod(mulmod(mload(add(bits, 0x20)), ZZZ, P), sub(P, Y), P) // S2 - Y1
                        switch pp
                        case 0 {
                            // Same x: the same point (double it) or its negation (infinity).
                            switch rr
                            case 0 { X, Y, ZZ, ZZZ := dbl(X, Y, ZZ, ZZZ) }
                            default {
                                ZZ := 0
                                ZZZ := 0
                            }
                        }
                        default {
                            let ppp := mulmod(pp, pp, P) // PP
                            pp := mulmod(pp, ppp, P) // PPP
                            ZZ := mulmod(ZZ, ppp, P)
                            ZZZ := mulmod(ZZZ, pp, P)
                            ppp := mulmod(X, ppp, P) // Q = X1*PP
                            X := addmod(mulmod(rr, rr, P), sub(P, addmod(pp, addmod(ppp, ppp, P), P)), P)
                            Y := addmod(mulmod(rr, addmod(ppp, sub(P, X), P), P), sub(P, mulmod(Y, pp, P)), P)
                        }
                    }
                }
                if iszero(i) { break }
                i := sub(i, 1)
            }
        }
    }

    /// Writes the table {G, Q, G+Q} to memory: entry k at tbl + 64k, x then y. `hInf` when
    /// G + Q is the point at infinity (Q = -G).
    function _table(uint256 qx, uint256 qy) internal view returns (uint256 tbl, bool hInf) {
        (uint256 hx, uint256 hy, bool inf) = _affineAddToG(qx, qy);
        hInf = inf;
        assembly {
            tbl := mload(0x40)
            mstore(0x40, add(tbl, 0x100))
            mstore(add(tbl, 0x40), GX)
            mstore(add(tbl, 0x60), GY)
            mstore(add(tbl, 0x80), qx)
            mstore(add(tbl, 0xa0), qy)
            mstore(add(tbl, 0xc0), hx)
            mstore(add(tbl, 0xe0), hy)
        }
    }

    /// G + Q in affine coordinates for the Shamir table; `inf` when Q = -G.
    function _affineAddToG(uint256 qx, uint256 qy) internal view returns (uint256 x, uint256 y, bool inf) {
        uint256 lambda;
        if (qx == GX) {
            if (qy != GY) return (0, 0, true);
            // Q = G: tangent slope (3x^2 + a) / 2y with a = -3.
            uint256 num = addmod(mulmod(3, mulmod(GX, GX, P), P), P - 3, P);
            lambda = mulmod(num, _modExp(addmod(GY, GY, P), P - 2, P), P);
        } else {
            uint256 num = addmod(qy, P - GY, P);
            lambda = mulmod(num, _modExp(addmod(qx, P - GX, P), P - 2, P), P);
        }
        x = addmod(mulmod(lambda, lambda, P), P - addmod(GX, qx, P), P);
        y = addmod(mulmod(lambda, addmod(GX, P - x, P), P), P - GY, P);
    }

    /// base^exp mod m through the modexp precompile (0x05).
    function _modExp(uint256 base, uint256 e, uint256 m) internal view returns (uint256 result) {
        assembly {
            let ptr := mload(0x40)
            mstore(ptr, 32)
            mstore(add(ptr, 0x20), 32)
            mstore(add(ptr, 0x40), 32)
            mstore(add(ptr, 0x60), base)
            mstore(add(ptr, 0x80), e)
            mstore(add(ptr, 0xa0), m)
            if iszero(staticcall(gas(), 0x05, ptr, 0xc0, ptr, 0x20)) { revert(0, 0) }
            result := mload(ptr)
        }
    }
}
