//! Sign-In with Ethereum (EIP-4361) messages, built by the daemon from the broker's challenge
//! and checked by the broker. Parsing and EIP-191 recovery come from the `siwe` crate.

use crate::device_key::{parse_signature_hex, recover_prehash};
use crate::error::ErrorCode;
use crate::identity::Address;
use serde::{Deserialize, Serialize};
use siwe::{Message, TimeStamp, Version};
use std::str::FromStr;
use time::OffsetDateTime;

pub const STATEMENT: &str = "Sign in to AgentKeys with this device key.";
/// Longest message the broker parses; real ones are about 400 bytes.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// How far in the future `Issued At` may be (clock skew).
const ISSUED_AT_SKEW_SECS: i64 = 300;

/// What the broker hands out at `/v1/auth/siwe/start`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiweChallenge {
    pub domain: String,
    pub uri: String,
    pub chain_id: u64,
    pub nonce: String,
    /// RFC 3339
    pub issued_at: String,
    /// RFC 3339
    pub expiration_time: String,
}

pub fn build_message(challenge: &SiweChallenge, address: &Address) -> Result<String, ErrorCode> {
    let bad = |_| ErrorCode::SiweInvalidMessage;
    let message = Message {
        domain: challenge
            .domain
            .parse()
            .map_err(|_| ErrorCode::SiweInvalidMessage)?,
        address: address.0,
        statement: Some(STATEMENT.to_string()),
        uri: challenge
            .uri
            .parse()
            .map_err(|_| ErrorCode::SiweInvalidMessage)?,
        version: Version::V1,
        chain_id: challenge.chain_id,
        nonce: challenge.nonce.clone(),
        issued_at: TimeStamp::from_str(&challenge.issued_at).map_err(bad)?,
        expiration_time: Some(TimeStamp::from_str(&challenge.expiration_time).map_err(bad)?),
        not_before: None,
        request_id: None,
        resources: vec![],
    };
    Ok(message.to_string())
}

/// What the broker requires of a signed message.
pub struct SiweExpectation<'a> {
    pub domain: &'a str,
    pub chain_id: u64,
    pub now: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSiwe {
    pub address: Address,
    pub nonce: String,
}

/// Checks the message against the broker's domain, chain and clock and recovers its signer.
/// The caller still has to consume the nonce (single use).
pub fn verify(
    message: &str,
    signature_hex: &str,
    expect: &SiweExpectation<'_>,
) -> Result<VerifiedSiwe, ErrorCode> {
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(ErrorCode::SiweInvalidMessage);
    }
    let parsed: Message = message.parse().map_err(|_| ErrorCode::SiweInvalidMessage)?;
    if parsed.domain.as_str() != expect.domain {
        return Err(ErrorCode::SiweDomainMismatch);
    }
    if parsed.chain_id != expect.chain_id {
        return Err(ErrorCode::SiweChainMismatch);
    }
    let Some(expiration) = &parsed.expiration_time else {
        // A sign-in without expiry would stay replayable for as long as the nonce lives.
        return Err(ErrorCode::SiweInvalidMessage);
    };
    if *expiration.as_ref() <= expect.now {
        return Err(ErrorCode::SiweExpired);
    }
    if let Some(nbf) = &parsed.not_before {
        if *nbf.as_ref() > expect.now {
            return Err(ErrorCode::SiweExpired);
        }
    }
    if (*parsed.issued_at.as_ref() - expect.now).whole_seconds() > ISSUED_AT_SKEW_SECS {
        return Err(ErrorCode::SiweExpired);
    }
    // Recovered here rather than by the siwe crate, which reads v modulo 27 and accepts a high
    // s: only the canonical encoding (v 27/28, low s) signs in, as for every other signature.
    let sig = parse_signature_hex(signature_hex).ok_or(ErrorCode::SiweBadSignature)?;
    let digest = parsed
        .eip191_hash()
        .map_err(|_| ErrorCode::SiweInvalidMessage)?;
    if recover_prehash(&digest, &sig).map(|a| a.0) != Some(parsed.address) {
        return Err(ErrorCode::SiweBadSignature);
    }
    Ok(VerifiedSiwe {
        address: Address(parsed.address),
        nonce: parsed.nonce,
    })
}

/// The EIP-4361 domain of a relay's URL: its authority (host and port), which the broker puts
/// in every challenge and a device checks against the relay it meant to reach.
pub fn domain_of(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    rest.split('/').next().unwrap_or(rest)
}

/// Refuses a challenge that is not for the relay at `relay_url` (its domain and URI), so a
/// device signs in only where it meant to: a process answering on another address cannot
/// collect a sign-in it could replay to the real relay.
pub fn check_challenge_for(challenge: &SiweChallenge, relay_url: &str) -> Result<(), ErrorCode> {
    let url = relay_url.trim_end_matches('/');
    if challenge.domain == domain_of(url) && challenge.uri.trim_end_matches('/') == url {
        Ok(())
    } else {
        Err(ErrorCode::SiweInvalidMessage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device_key::tests::high_s_twin;
    use crate::device_key::DeviceKey;
    use time::macros::datetime;

    /// The siwe crate alone would accept v as 0/1 (it reads v modulo 27) and a high s; the
    /// broker accepts the one canonical spelling.
    #[test]
    fn only_the_canonical_signature_signs_in() {
        let key = DeviceKey::from_bytes(&[0x22; 32]).unwrap();
        let challenge = SiweChallenge {
            domain: "127.0.0.1:8787".into(),
            uri: "http://127.0.0.1:8787".into(),
            chain_id: 31337,
            nonce: "abcdefgh12345678".into(),
            issued_at: "2025-10-09T08:00:00Z".into(),
            expiration_time: "2025-10-09T08:05:00Z".into(),
        };
        let msg = build_message(&challenge, &key.address()).unwrap();
        let sig = key.sign_personal(msg.as_bytes());
        let expect = SiweExpectation {
            domain: "127.0.0.1:8787",
            chain_id: 31337,
            now: datetime!(2025-10-09 08:01:00 UTC),
        };
        let hex_of = |s: &[u8; 65]| format!("0x{}", hex::encode(s));
        assert!(verify(&msg, &hex_of(&sig), &expect).is_ok());
        let mut v01 = sig;
        v01[64] -= 27;
        let mut v54 = sig;
        v54[64] += 27;
        for other in [v01, v54, high_s_twin(&sig)] {
            assert_eq!(
                verify(&msg, &hex_of(&other), &expect),
                Err(ErrorCode::SiweBadSignature)
            );
        }
    }
}
