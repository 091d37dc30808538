//! Key encryption keys (ARCHITECTURE §4): KEK(actor, data class, epoch) =
//! HKDF-SHA256(ikm = K3[epoch], salt = "agentkeys/kek/v1", info = data_class ‖ actor_omni).
//! Only the signer calls these; the KEK never leaves its process.
//!
//! Wrapped data key = nonce (12) ‖ AES-256-GCM(KEK, DEK) ‖ tag (16), 60 bytes, with associated
//! data "agentkeys/dek-wrap/v1" ‖ epoch (u32 BE), so a wrapped key cannot be presented under
//! another epoch.

use crate::envelope::Dek;
use crate::identity::Omni;
use crate::names::DataClass;
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

pub const WRAPPED_DEK_LEN: usize = 12 + 32 + 16;
const KEK_SALT: &[u8] = b"agentkeys/kek/v1";
const WRAP_AAD_TAG: &[u8] = b"agentkeys/dek-wrap/v1";

pub fn derive_kek(k3: &[u8; 32], data_class: DataClass, actor: &Omni) -> Zeroizing<[u8; 32]> {
    let mut info = Vec::with_capacity(16 + 32);
    info.extend_from_slice(data_class.as_str().as_bytes());
    info.extend_from_slice(&actor.0);
    let hk = Hkdf::<Sha256>::new(Some(KEK_SALT), k3);
    let mut kek = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
    let _ = hk.expand(&info, kek.as_mut());
    kek
}

fn wrap_aad(epoch: u32) -> Vec<u8> {
    let mut aad = WRAP_AAD_TAG.to_vec();
    aad.extend_from_slice(&epoch.to_be_bytes());
    aad
}

pub fn wrap_dek(
    k3: &[u8; 32],
    epoch: u32,
    data_class: DataClass,
    actor: &Omni,
    dek: &Dek,
) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    wrap_dek_with_nonce(k3, epoch, data_class, actor, dek, &nonce)
}

/// Deterministic form for known-answer tests; production callers use [`wrap_dek`].
pub fn wrap_dek_with_nonce(
    k3: &[u8; 32],
    epoch: u32,
    data_class: DataClass,
    actor: &Omni,
    dek: &Dek,
    nonce: &[u8; 12],
) -> Vec<u8> {
    let kek = derive_kek(k3, data_class, actor);
    let cipher = Aes256Gcm::new_from_slice(kek.as_ref()).unwrap_or_else(|_| unreachable_key());
    let aad = wrap_aad(epoch);
    let ct = cipher
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: dek.as_bytes(),
                aad: &aad,
            },
        )
        .unwrap_or_default();
    let mut out = Vec::with_capacity(WRAPPED_DEK_LEN);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ct);
    out
}

pub fn unwrap_dek(
    k3: &[u8; 32],
    epoch: u32,
    data_class: DataClass,
    actor: &Omni,
    wrapped: &[u8],
) -> Option<Dek> {
    if wrapped.len() != WRAPPED_DEK_LEN {
        return None;
    }
    let kek = derive_kek(k3, data_class, actor);
    let cipher = Aes256Gcm::new_from_slice(kek.as_ref()).ok()?;
    let aad = wrap_aad(epoch);
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                Nonce::from_slice(&wrapped[..12]),
                Payload {
                    msg: &wrapped[12..],
                    aad: &aad,
                },
            )
            .ok()?,
    );
    Dek::from_slice(&plain)
}

fn unreachable_key() -> Aes256Gcm {
    // A 32-byte slice always makes an AES-256 key; this keeps the signature panic-free.
    Aes256Gcm::new(&[0u8; 32].into())
}
