//! The envelope every stored object is written in (ARCHITECTURE §4):
//!
//! ```text
//! magic "AKE" | version u8 = 2 | k3_epoch u32 BE | wrapped_dek_len u16 BE | wrapped_dek |
//! nonce (12) | ciphertext ‖ tag (16)
//! ```
//!
//! The version names how the data key is wrapped ([`crate::kek`]): version 2 binds the wrapped
//! key to the object's operator, actor, class and name; version 1 (actor and class only) is
//! still read, never written.
//!
//! The AEAD (AES-256-GCM under the per-object DEK) authenticates, as associated data,
//! `lp(header) ‖ lp(data_class) ‖ lp(operator_omni) ‖ lp(actor_omni) ‖ lp(name)` where
//! `lp(x) = u32 BE length of x ‖ x` and `header` is every byte before the nonce. Length
//! prefixes make the encoding injective, so no two contexts share associated data: moving an
//! object to another actor, service or class, or flipping any byte, fails to open.

use crate::identity::Omni;
use crate::names::DataClass;
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand::RngCore;
use std::fmt;
use zeroize::Zeroizing;

pub const MAGIC: &[u8; 3] = b"AKE";
/// The version every new object is written in.
pub const VERSION: u8 = 2;
/// Objects written before data keys were bound to their object; read-only.
pub const VERSION_V1: u8 = 1;
/// Refuse absurd wrapped-key lengths before allocating anything.
pub const MAX_WRAPPED_DEK_LEN: usize = 1024;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A per-object data key. Zeroized on drop; never printed.
pub struct Dek(Zeroizing<[u8; 32]>);

impl Dek {
    pub fn generate() -> Dek {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(k.as_mut());
        Dek(k)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Dek {
        Dek(Zeroizing::new(bytes))
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Dek> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(Dek::from_bytes(arr))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Dek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dek(redacted)")
    }
}

/// Where an object belongs; bound into its associated data.
#[derive(Clone, Copy, Debug)]
pub struct ObjectContext<'a> {
    pub data_class: DataClass,
    pub operator: &'a Omni,
    pub actor: &'a Omni,
    pub name: &'a str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeHeader {
    /// [`VERSION`] or [`VERSION_V1`].
    pub version: u8,
    pub epoch: u32,
    pub wrapped_dek: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Not an AgentKeys envelope, or truncated.
    Malformed,
    UnsupportedVersion(u8),
    /// Authentication failed: tampered, moved to another context, or the wrong key.
    Integrity,
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::Malformed => f.write_str("not a valid AgentKeys envelope"),
            EnvelopeError::UnsupportedVersion(v) => write!(f, "unsupported envelope version {v}"),
            EnvelopeError::Integrity => f.write_str(
                "envelope failed authentication (tampered, moved to another context, or wrong key)",
            ),
        }
    }
}

impl EnvelopeHeader {
    /// A header in the current version, for a data key wrapped by [`crate::kek::wrap_dek`].
    pub fn new(epoch: u32, wrapped_dek: Vec<u8>) -> EnvelopeHeader {
        EnvelopeHeader {
            version: VERSION,
            epoch,
            wrapped_dek,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10 + self.wrapped_dek.len());
        out.extend_from_slice(MAGIC);
        out.push(self.version);
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&(self.wrapped_dek.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.wrapped_dek);
        out
    }

    /// Parses the header; returns it and its length in bytes.
    pub fn parse(bytes: &[u8]) -> Result<(EnvelopeHeader, usize), EnvelopeError> {
        if bytes.len() < 10 || &bytes[..3] != MAGIC {
            return Err(EnvelopeError::Malformed);
        }
        let version = bytes[3];
        if version != VERSION && version != VERSION_V1 {
            return Err(EnvelopeError::UnsupportedVersion(version));
        }
        let epoch = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let len = u16::from_be_bytes([bytes[8], bytes[9]]) as usize;
        if len == 0 || len > MAX_WRAPPED_DEK_LEN {
            return Err(EnvelopeError::Malformed);
        }
        let end = 10 + len;
        if bytes.len() < end + NONCE_LEN + TAG_LEN {
            return Err(EnvelopeError::Malformed);
        }
        Ok((
            EnvelopeHeader {
                version,
                epoch,
                wrapped_dek: bytes[10..end].to_vec(),
            },
            end,
        ))
    }
}

/// `u32 BE length ‖ field`: concatenations of these are injective.
pub(crate) fn lp(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u32).to_be_bytes());
    out.extend_from_slice(field);
}

pub fn associated_data(header_bytes: &[u8], ctx: &ObjectContext<'_>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header_bytes.len() + 128);
    lp(&mut aad, header_bytes);
    lp(&mut aad, ctx.data_class.as_str().as_bytes());
    lp(&mut aad, &ctx.operator.0);
    lp(&mut aad, &ctx.actor.0);
    lp(&mut aad, ctx.name.as_bytes());
    aad
}

pub fn seal(
    dek: &Dek,
    header: &EnvelopeHeader,
    ctx: &ObjectContext<'_>,
    plaintext: &[u8],
) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    seal_with_nonce(dek, header, ctx, plaintext, &nonce)
}

/// Deterministic form for known-answer tests; production callers use [`seal`].
pub fn seal_with_nonce(
    dek: &Dek,
    header: &EnvelopeHeader,
    ctx: &ObjectContext<'_>,
    plaintext: &[u8],
    nonce: &[u8; NONCE_LEN],
) -> Vec<u8> {
    let header_bytes = header.encode();
    let aad = associated_data(&header_bytes, ctx);
    let cipher = Aes256Gcm::new(dek.as_bytes().into());
    let ct = cipher
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .unwrap_or_default();
    let mut out = header_bytes;
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ct);
    out
}

pub fn open(
    dek: &Dek,
    envelope: &[u8],
    ctx: &ObjectContext<'_>,
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let (_, header_len) = EnvelopeHeader::parse(envelope)?;
    let aad = associated_data(&envelope[..header_len], ctx);
    let nonce = &envelope[header_len..header_len + NONCE_LEN];
    let cipher = Aes256Gcm::new(dek.as_bytes().into());
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: &envelope[header_len + NONCE_LEN..],
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| EnvelopeError::Integrity)
}

/// `bots/<actor_hex>/<data class>/<name>.enc` (ARCHITECTURE §4); the bucket names the class too.
pub fn object_key(data_class: DataClass, actor: &Omni, name: &str) -> String {
    format!(
        "bots/{}/{}/{}.enc",
        actor.to_hex(),
        data_class.as_str(),
        name
    )
}

/// The prefix under which every object of one actor and class lives.
pub fn object_prefix(data_class: DataClass, actor: &Omni) -> String {
    format!("bots/{}/{}/", actor.to_hex(), data_class.as_str())
}
