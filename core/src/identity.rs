//! Identities (ARCHITECTURE §3): device addresses, operator and actor omnis, device key hashes.

use crate::error::ErrorCode;
use crate::names::validate_agent_label;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sha3::Keccak256;
use std::fmt;
use std::str::FromStr;

/// An EVM address (20 bytes). Shown and compared as lowercase `0x…` hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address(pub [u8; 20]);

impl Address {
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    /// keccak256 of the 20 address bytes: the device's key on chain.
    pub fn device_key_hash(&self) -> [u8; 32] {
        keccak256(&self.0)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for Address {
    type Err = ErrorCode;
    /// Accepts `0x` + 40 hex digits in any case (EIP-55 checksums are not enforced here because
    /// the address is only ever compared after lowercasing).
    fn from_str(s: &str) -> Result<Self, ErrorCode> {
        let digits = s.strip_prefix("0x").ok_or(ErrorCode::BadRequest)?;
        if digits.len() != 40 {
            return Err(ErrorCode::BadRequest);
        }
        let mut out = [0u8; 20];
        hex::decode_to_slice(digits, &mut out).map_err(|_| ErrorCode::BadRequest)?;
        Ok(Address(out))
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom("invalid address"))
    }
}

/// A 32-byte omni identifier (operator or actor), shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Omni(pub [u8; 32]);

impl Omni {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// operator_omni = SHA256("agentkeys" ‖ "evm" ‖ lowercase `0x…` address of the first
    /// master device).
    pub fn operator(first_master: &Address) -> Omni {
        let mut h = Sha256::new();
        h.update(b"agentkeys");
        h.update(b"evm");
        h.update(first_master.to_hex().as_bytes());
        Omni(h.finalize().into())
    }

    /// actor_omni = SHA256("agentkeys-hdkd-v1" ‖ operator_omni ‖ "//" ‖ label ‖ "/" ‖ generation).
    pub fn agent(operator: &Omni, label: &str, generation: u32) -> Result<Omni, ErrorCode> {
        validate_agent_label(label)?;
        let mut h = Sha256::new();
        h.update(b"agentkeys-hdkd-v1");
        h.update(operator.0);
        h.update(b"//");
        h.update(label.as_bytes());
        h.update(b"/");
        h.update(generation.to_string().as_bytes());
        Ok(Omni(h.finalize().into()))
    }
}

impl fmt::Debug for Omni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for Omni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for Omni {
    type Err = ErrorCode;
    fn from_str(s: &str) -> Result<Self, ErrorCode> {
        if s.len() != 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ErrorCode::BadRequest);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| ErrorCode::BadRequest)?;
        Ok(Omni(out))
    }
}

impl Serialize for Omni {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Omni {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom("invalid omni (64 lowercase hex digits)"))
    }
}

pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_parse_and_show() {
        let a: Address = "0x6Da01670d8fc844e736095918bbE11fE8D564163"
            .parse()
            .unwrap();
        assert_eq!(a.to_hex(), "0x6da01670d8fc844e736095918bbe11fe8d564163");
        assert!("6da01670d8fc844e736095918bbe11fe8d564163"
            .parse::<Address>()
            .is_err());
        assert!("0x6da0".parse::<Address>().is_err());
    }

    #[test]
    fn omni_rejects_uppercase() {
        let o = Omni([0xab; 32]);
        assert_eq!(o.to_hex().parse::<Omni>().unwrap(), o);
        assert!(o.to_hex().to_uppercase().parse::<Omni>().is_err());
    }
}
