//! Key encryption keys (ARCHITECTURE §4). Only the signer calls these; the KEK never leaves its
//! process.
//!
//! Version 2 (envelope version 2, every new object):
//!
//! ```text
//! KEK  = HKDF-SHA256(ikm = K3[epoch], salt = "agentkeys/kek/v2",
//!                    info = lp(data_class) ‖ operator_omni ‖ actor_omni)
//! aad  = "agentkeys/dek-wrap/v2" ‖ epoch (u32 BE) ‖ lp(operator_omni) ‖ lp(actor_omni) ‖
//!        lp(data_class) ‖ lp(name)
//! ```
//!
//! so a wrapped key opens only for the operator, actor, class, object name and epoch it was
//! made for: a capability for one service cannot unwrap another service's key, and no actor
//! or operator can unwrap another's.
//!
//! Version 1 (read-only, objects stored before version 2): KEK = HKDF-SHA256(K3[epoch],
//! salt "agentkeys/kek/v1", info = data_class ‖ actor_omni), aad = "agentkeys/dek-wrap/v1" ‖
//! epoch. It binds neither the operator nor the object name, so it is only ever unwrapped
//! by the vault, which opens the envelope (whose associated data binds both) itself.
//!
//! Either way the wrapped data key is nonce (12) ‖ AES-256-GCM(KEK, DEK) ‖ tag (16), 60 bytes.

use crate::envelope::{lp, Dek, ObjectContext};
use crate::identity::Omni;
use crate::names::DataClass;
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

pub const WRAPPED_DEK_LEN: usize = 12 + 32 + 16;
const KEK_SALT: &[u8] = b"agentkeys/kek/v2";
const WRAP_AAD_TAG: &[u8] = b"agentkeys/dek-wrap/v2";
const KEK_SALT_V1: &[u8] = b"agentkeys/kek/v1";
const WRAP_AAD_TAG_V1: &[u8] = b"agentkeys/dek-wrap/v1";

fn hkdf32(k3: &[u8; 32], salt: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(Some(salt), k3);
    let mut kek = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
    let _ = hk.expand(info, kek.as_mut());
    kek
}

/// The version 2 KEK of (operator, actor, class); the object name is bound by the wrap's AAD.
pub fn derive_kek(k3: &[u8; 32], ctx: &ObjectContext<'_>) -> Zeroizing<[u8; 32]> {
    let mut info = Vec::with_capacity(4 + 16 + 64);
    lp(&mut info, ctx.data_class.as_str().as_bytes());
    info.extend_from_slice(&ctx.operator.0);
    info.extend_from_slice(&ctx.actor.0);
    hkdf32(k3, KEK_SALT, &info)
}

fn wrap_aad(epoch: u32, ctx: &ObjectContext<'_>) -> Vec<u8> {
    let mut aad = WRAP_AAD_TAG.to_vec();
    aad.extend_from_slice(&epoch.to_be_bytes());
    lp(&mut aad, &ctx.operator.0);
    lp(&mut aad, &ctx.actor.0);
    lp(&mut aad, ctx.data_class.as_str().as_bytes());
    lp(&mut aad, ctx.name.as_bytes());
    aad
}

/// Wraps `dek` for the object `ctx` under K3 of `epoch` (version 2).
pub fn wrap_dek(k3: &[u8; 32], epoch: u32, ctx: &ObjectContext<'_>, dek: &Dek) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    wrap_dek_with_nonce(k3, epoch, ctx, dek, &nonce)
}

/// Deterministic form for known-answer tests; production callers use [`wrap_dek`].
pub fn wrap_dek_with_nonce(
    k3: &[u8; 32],
    epoch: u32,
    ctx: &ObjectContext<'_>,
    dek: &Dek,
    nonce: &[u8; 12],
) -> Vec<u8> {
    seal_key(&derive_kek(k3, ctx), &wrap_aad(epoch, ctx), dek, nonce)
}

/// The data key of the object `ctx`, or None when `wrapped` was made for any other operator,
/// actor, class, name or epoch (or is not a wrapped key at all).
pub fn unwrap_dek(
    k3: &[u8; 32],
    epoch: u32,
    ctx: &ObjectContext<'_>,
    wrapped: &[u8],
) -> Option<Dek> {
    open_key(&derive_kek(k3, ctx), &wrap_aad(epoch, ctx), wrapped)
}

/// The version 1 KEK of (actor, class).
pub fn derive_kek_v1(k3: &[u8; 32], data_class: DataClass, actor: &Omni) -> Zeroizing<[u8; 32]> {
    let mut info = Vec::with_capacity(16 + 32);
    info.extend_from_slice(data_class.as_str().as_bytes());
    info.extend_from_slice(&actor.0);
    hkdf32(k3, KEK_SALT_V1, &info)
}

fn wrap_aad_v1(epoch: u32) -> Vec<u8> {
    let mut aad = WRAP_AAD_TAG_V1.to_vec();
    aad.extend_from_slice(&epoch.to_be_bytes());
    aad
}

/// Version 1 wrapping, kept only to build fixtures of objects stored before version 2;
/// nothing in production writes it.
pub fn wrap_dek_v1_with_nonce(
    k3: &[u8; 32],
    epoch: u32,
    data_class: DataClass,
    actor: &Omni,
    dek: &Dek,
    nonce: &[u8; 12],
) -> Vec<u8> {
    seal_key(
        &derive_kek_v1(k3, data_class, actor),
        &wrap_aad_v1(epoch),
        dek,
        nonce,
    )
}

/// Unwraps a version 1 key (bound to actor, class and epoch only). Only for the vault, which
/// then opens the whole envelope itself; never to hand a key to a caller.
pub fn unwrap_dek_v1(
    k3: &[u8; 32],
    epoch: u32,
    data_class: DataClass,
    actor: &Omni,
    wrapped: &[u8],
) -> Option<Dek> {
    open_key(
        &derive_kek_v1(k3, data_class, actor),
        &wrap_aad_v1(epoch),
        wrapped,
    )
}

fn seal_key(kek: &[u8; 32], aad: &[u8], dek: &Dek, nonce: &[u8; 12]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(kek.into());
    let ct = cipher
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: dek.as_bytes(),
                aad,
            },
        )
        .unwrap_or_default();
    let mut out = Vec::with_capacity(WRAPPED_DEK_LEN);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ct);
    out
}

fn open_key(kek: &[u8; 32], aad: &[u8], wrapped: &[u8]) -> Option<Dek> {
    if wrapped.len() != WRAPPED_DEK_LEN {
        return None;
    }
    let cipher = Aes256Gcm::new(kek.into());
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                Nonce::from_slice(&wrapped[..12]),
                Payload {
                    msg: &wrapped[12..],
                    aad,
                },
            )
            .ok()?,
    );
    Dek::from_slice(&plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(op: &'a Omni, actor: &'a Omni, dc: DataClass, name: &'a str) -> ObjectContext<'a> {
        ObjectContext {
            data_class: dc,
            operator: op,
            actor,
            name,
        }
    }

    #[test]
    fn a_wrapped_key_opens_only_for_its_own_object() {
        let k3 = [7u8; 32];
        let (op, other_op) = (Omni([1; 32]), Omni([2; 32]));
        let (actor, other_actor) = (Omni([3; 32]), Omni([4; 32]));
        let dek = Dek::from_bytes([9; 32]);
        let own = ctx(&op, &actor, DataClass::Credentials, "openrouter");
        let wrapped = wrap_dek(&k3, 5, &own, &dek);
        assert_eq!(wrapped.len(), WRAPPED_DEK_LEN);
        let back = unwrap_dek(&k3, 5, &own, &wrapped).unwrap();
        assert_eq!(back.as_bytes(), dek.as_bytes());

        for (why, c) in [
            (
                "name",
                ctx(&op, &actor, DataClass::Credentials, "anthropic"),
            ),
            (
                "actor",
                ctx(&op, &other_actor, DataClass::Credentials, "openrouter"),
            ),
            (
                "operator",
                ctx(&other_op, &actor, DataClass::Credentials, "openrouter"),
            ),
            ("class", ctx(&op, &actor, DataClass::Memory, "openrouter")),
        ] {
            assert!(unwrap_dek(&k3, 5, &c, &wrapped).is_none(), "{why}");
        }
        assert!(unwrap_dek(&k3, 6, &own, &wrapped).is_none(), "epoch");
        assert!(unwrap_dek(&[8; 32], 5, &own, &wrapped).is_none(), "K3");
        // A version 1 key of the same actor and class is not a version 2 key, nor the reverse.
        let v1 = wrap_dek_v1_with_nonce(&k3, 5, DataClass::Credentials, &actor, &dek, &[0; 12]);
        assert!(unwrap_dek(&k3, 5, &own, &v1).is_none());
        assert!(unwrap_dek_v1(&k3, 5, DataClass::Credentials, &actor, &wrapped).is_none());
        assert!(unwrap_dek_v1(&k3, 5, DataClass::Credentials, &actor, &v1).is_some());
    }

    #[test]
    fn the_kek_binds_operator_actor_and_class_injectively() {
        let k3 = [7u8; 32];
        let (a, b) = (Omni([1; 32]), Omni([2; 32]));
        let kek = |op, actor, dc| derive_kek(&k3, &ctx(op, actor, dc, "x"));
        assert_ne!(
            *kek(&a, &b, DataClass::Credentials),
            *kek(&b, &a, DataClass::Credentials)
        );
        assert_ne!(
            *kek(&a, &b, DataClass::Credentials),
            *kek(&a, &b, DataClass::Memory)
        );
        // The name is not in the KEK (it is in the wrap's AAD), so one KEK serves an actor.
        assert_eq!(
            *derive_kek(&k3, &ctx(&a, &b, DataClass::Memory, "x")),
            *derive_kek(&k3, &ctx(&a, &b, DataClass::Memory, "y"))
        );
        // Length prefixes: moving bytes between operator/actor and name changes the AAD.
        assert_ne!(
            wrap_aad(1, &ctx(&a, &b, DataClass::Memory, "ab")),
            wrap_aad(1, &ctx(&a, &b, DataClass::Memory, "a"))
        );
    }
}
