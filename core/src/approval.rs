//! Approvals between an operator's devices (ARCHITECTURE §10): a master device's daemon asks a
//! companion device to approve an operation with its passkey. The request travels through the
//! relay's mailbox signed by the requester's K10, so neither the relay nor anyone else can put
//! words in a master's mouth; the approver answers with the WebAuthn assertion over the
//! request's challenge, which the chain (not the relay) finally verifies.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::b64;
use crate::device_key::{parse_signature_hex, recover_prehash, DeviceKey};
use crate::error::{ApiError, ErrorCode};
use crate::identity::{Address, Omni};
use crate::passkey::{challenge_field, ChainAssertion};

/// Domain separation: this digest is never confused with a SIWE message, a proof of
/// possession or a transaction.
pub const SIGNING_PURPOSE: &[u8] = b"agentkeys/approval-request/v1";
/// The longest a request may wait for its answer (the ceremony timeout).
pub const MAX_TTL_SECS: u64 = 300;
pub const MAX_OP_TAG_CHARS: usize = 40;
pub const MAX_OPERATION_CHARS: usize = 500;
pub const MAX_REASON_CHARS: usize = 200;
/// A DNS name's limit.
pub const MAX_RP_ID_CHARS: usize = 253;
pub const REQUEST_ID_BYTES: usize = 16;
/// A request may be stamped this far ahead of the relay's clock.
pub const CLOCK_SKEW_SECS: u64 = 60;
/// Bounds on an approving assertion: real ones are a few hundred bytes.
pub const MAX_CLIENT_DATA_BYTES: usize = 4096;
pub const MAX_AUTH_DATA_BYTES: usize = 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    pub operator: Omni,
    /// The asking master device (K10 address).
    pub requester: Address,
    /// The companion device asked to approve.
    pub approver: Address,
    /// Machine name of the operation, `[a-z_]{1,40}`, e.g. `revoke_master`.
    pub op_tag: String,
    /// The operation in words, shown to the person who approves.
    pub operation: String,
    /// `0x` + 64 lowercase hex: the exact 32-byte WebAuthn challenge.
    pub challenge: String,
    /// The RP ID the approver's passkey must use, e.g. `companion.localhost`.
    pub rp_id: String,
    pub issued_at: u64,
    pub expires_at: u64,
    /// 16 random bytes, base64url without padding.
    pub request_id: String,
    /// What the challenge binds, so the approver can recompute it and show what it verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<ApprovalParams>,
    /// `0x` + 65-byte recoverable K10 signature of the requester over [`Self::signing_digest`].
    pub signature: String,
}

/// The parameters of the operation an approval request is for, one variant per operation an
/// approver may be asked to sign. The approver recomputes the contract's challenge from them
/// (with the chain's current nonce) and refuses a request whose challenge differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ApprovalParams {
    SetScope {
        actor: Omni,
        services: Vec<String>,
    },
    RevokeScope {
        actor: Omni,
    },
    RevokeMaster {
        device: Address,
    },
    SetRecoveryThreshold {
        threshold: u32,
    },
    RegisterAdditionalMaster {
        device: Address,
        roles: u8,
        passkey: crate::passkey::P256PublicKey,
        rp_id: String,
    },
}

/// Services named in one scope request, at most.
const MAX_PARAM_SERVICES: usize = 32;

impl ApprovalParams {
    /// The `op_tag` a request with these parameters must carry.
    pub fn op_tag(&self) -> &'static str {
        match self {
            ApprovalParams::SetScope { .. } => "set_scope",
            ApprovalParams::RevokeScope { .. } => "revoke_scope",
            ApprovalParams::RevokeMaster { .. } => "revoke_master",
            ApprovalParams::SetRecoveryThreshold { .. } => "set_recovery_threshold",
            ApprovalParams::RegisterAdditionalMaster { .. } => "register_additional_master",
        }
    }

    fn check(&self) -> Result<(), ApiError> {
        match self {
            ApprovalParams::SetScope { services, .. } => {
                if services.is_empty() || services.len() > MAX_PARAM_SERVICES {
                    return Err(invalid("a scope names 1 to 32 services"));
                }
                for s in services {
                    crate::names::validate_object_name(s)
                        .map_err(|_| invalid("a service name in params is invalid"))?;
                }
                Ok(())
            }
            ApprovalParams::RegisterAdditionalMaster { rp_id, .. } => check_rp_id(rp_id),
            _ => Ok(()),
        }
    }
}

/// The approver's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ApprovalAnswer {
    Approved {
        assertion: ChainAssertion,
        /// A device approving its own registration as a master also consents with its K10
        /// key: `0x` hex r ‖ s ‖ v over the registry's `masterConsentDigest`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        consent: Option<String>,
    },
    Declined {
        reason: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    Pending,
    Approved,
    Declined,
    Expired,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalStatus {
    pub request_id: String,
    pub state: ApprovalState,
    pub approver: Address,
    #[serde(default)]
    pub assertion: Option<ChainAssertion>,
    #[serde(default)]
    pub reason: Option<String>,
    /// The approver's K10 consent, when it approved its own registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApproval {
    pub request_id: String,
}

fn invalid(why: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::ApprovalInvalid, why)
}

/// Appends `bytes` with a u32 big-endian length, so that field boundaries cannot shift.
fn put(h: &mut Sha256, bytes: &[u8]) {
    // Every field is bounded far below 4 GiB once validated; a longer one (only possible
    // before validation) saturates, which changes the digest and so cannot verify.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    h.update(len.to_be_bytes());
    h.update(bytes);
}

/// Text shown to a person: no control characters and none of the invisible ones that reorder
/// or hide text (bidi overrides, zero-width characters), which could disguise the operation.
fn is_displayable(c: char) -> bool {
    !c.is_control()
        && !matches!(c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

fn check_text(what: &str, text: &str, max_chars: usize) -> Result<(), ApiError> {
    let n = text.chars().count();
    if n == 0 || n > max_chars {
        return Err(invalid(format!(
            "{what} must be 1 to {max_chars} characters"
        )));
    }
    if !text.chars().all(is_displayable) {
        return Err(invalid(format!(
            "{what} contains control or invisible formatting characters"
        )));
    }
    Ok(())
}

fn check_op_tag(tag: &str) -> Result<(), ApiError> {
    let ok = (1..=MAX_OP_TAG_CHARS).contains(&tag.len())
        && tag.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    ok.then_some(())
        .ok_or_else(|| invalid("op_tag must be 1 to 40 characters of a-z and '_'"))
}

/// Lowercase DNS labels of `a-z 0-9 -` joined by dots, as WebAuthn RP IDs are.
fn check_rp_id(rp_id: &str) -> Result<(), ApiError> {
    let ok = (1..=MAX_RP_ID_CHARS).contains(&rp_id.len())
        && rp_id.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    ok.then_some(())
        .ok_or_else(|| invalid("rp_id must be a lowercase host name"))
}

/// `0x` + exactly `2 * N` lowercase hex digits.
fn parse_lower_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.strip_prefix("0x")?;
    if digits.len() != 2 * N
        || !digits
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).ok()?;
    Some(out)
}

fn check_request_id(id: &str) -> Result<(), ApiError> {
    let canonical = b64::decode_url(id)
        .filter(|b| b.len() == REQUEST_ID_BYTES)
        .is_some_and(|b| b64::encode_url(&b) == id);
    canonical
        .then_some(())
        .ok_or_else(|| invalid("request_id must be 16 bytes in unpadded base64url"))
}

/// Whether `id` has the shape of a request id (for paths, before any lookup).
pub fn is_request_id(id: &str) -> bool {
    check_request_id(id).is_ok()
}

impl ApprovalRequest {
    /// SHA-256 over [`SIGNING_PURPOSE`] and then every field but `signature`, in declaration
    /// order, each as a u32 big-endian length and its bytes (strings as UTF-8, the operator
    /// and addresses as raw bytes, numbers as 8 bytes big-endian), so no two requests encode
    /// alike.
    pub fn signing_digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(SIGNING_PURPOSE);
        put(&mut h, &self.operator.0);
        put(&mut h, &self.requester.0);
        put(&mut h, &self.approver.0);
        put(&mut h, self.op_tag.as_bytes());
        put(&mut h, self.operation.as_bytes());
        put(&mut h, self.challenge.as_bytes());
        put(&mut h, self.rp_id.as_bytes());
        put(&mut h, &self.issued_at.to_be_bytes());
        put(&mut h, &self.expires_at.to_be_bytes());
        put(&mut h, self.request_id.as_bytes());
        // serde_json writes a struct's fields in declaration order and every value here in one
        // spelling (lowercase hex), so the bytes are the same on both sides.
        let params = serde_json::to_vec(&self.params).unwrap_or_default();
        put(&mut h, &params);
        h.finalize().into()
    }

    /// A request from `key`'s device, valid for `ttl_secs` (1..=300) from `now`, with a fresh
    /// random id, signed.
    #[allow(clippy::too_many_arguments)]
    pub fn new_signed(
        key: &DeviceKey,
        operator: Omni,
        approver: Address,
        op_tag: &str,
        operation: &str,
        challenge: [u8; 32],
        rp_id: &str,
        ttl_secs: u64,
        now: u64,
    ) -> Result<ApprovalRequest, ErrorCode> {
        Self::new_signed_with(
            key, operator, approver, op_tag, operation, challenge, rp_id, ttl_secs, now, None,
        )
    }

    /// [`Self::new_signed`] with the operation's parameters, which must match `op_tag`.
    #[allow(clippy::too_many_arguments)]
    pub fn new_signed_with(
        key: &DeviceKey,
        operator: Omni,
        approver: Address,
        op_tag: &str,
        operation: &str,
        challenge: [u8; 32],
        rp_id: &str,
        ttl_secs: u64,
        now: u64,
        params: Option<ApprovalParams>,
    ) -> Result<ApprovalRequest, ErrorCode> {
        if !(1..=MAX_TTL_SECS).contains(&ttl_secs) {
            return Err(ErrorCode::ApprovalInvalid);
        }
        let mut id = [0u8; REQUEST_ID_BYTES];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
        let mut req = ApprovalRequest {
            operator,
            requester: key.address(),
            approver,
            op_tag: op_tag.to_string(),
            operation: operation.to_string(),
            challenge: format!("0x{}", hex::encode(challenge)),
            rp_id: rp_id.to_string(),
            issued_at: now,
            expires_at: now.saturating_add(ttl_secs),
            request_id: b64::encode_url(&id),
            params,
            signature: String::new(),
        };
        req.check_fields().map_err(|e| e.code)?;
        req.signature = format!("0x{}", hex::encode(key.sign_prehash(&req.signing_digest())));
        Ok(req)
    }

    /// The 32 challenge bytes, once the request is valid.
    pub fn challenge_bytes(&self) -> Option<[u8; 32]> {
        parse_lower_hex::<32>(&self.challenge)
    }

    /// Field shapes and the lifetime's bounds, independent of the clock and the signature.
    fn check_fields(&self) -> Result<(), ApiError> {
        check_op_tag(&self.op_tag)?;
        check_text("operation", &self.operation, MAX_OPERATION_CHARS)?;
        if self.challenge_bytes().is_none() {
            return Err(invalid("challenge must be 0x and 64 lowercase hex digits"));
        }
        check_rp_id(&self.rp_id)?;
        if let Some(p) = &self.params {
            p.check()?;
            if p.op_tag() != self.op_tag {
                return Err(invalid("params are for another operation than op_tag"));
            }
        }
        if self.expires_at <= self.issued_at || self.expires_at - self.issued_at > MAX_TTL_SECS {
            return Err(invalid(
                "expires_at must be after issued_at, by at most 300 seconds",
            ));
        }
        check_request_id(&self.request_id)
    }

    /// Everything a receiver can check alone: shapes (`approval_invalid`), the requester's
    /// signature (`approval_signature_invalid`), then the clock (`approval_expired`, or
    /// `approval_invalid` for a request stamped in the future).
    pub fn validate(&self, now: u64) -> Result<(), ApiError> {
        self.check_fields()?;
        // Lowercase hex only, so that one signature has one spelling (ids of replays match).
        let sig = parse_lower_hex::<65>(&self.signature)
            .and_then(|_| parse_signature_hex(&self.signature));
        let signer = sig.and_then(|s| recover_prehash(&self.signing_digest(), &s));
        if signer != Some(self.requester) {
            return Err(ErrorCode::ApprovalSignatureInvalid.into());
        }
        if self.issued_at > now.saturating_add(CLOCK_SKEW_SECS) {
            return Err(invalid("issued_at is in the future"));
        }
        if self.expires_at <= now {
            return Err(ErrorCode::ApprovalExpired.into());
        }
        Ok(())
    }
}

impl ApprovalAnswer {
    /// The answer's own checks against the request it answers: a bounded, displayable decline
    /// reason, or an assertion of bounded size whose clientDataJSON carries the request's
    /// challenge. The assertion's signature is the chain's to verify (only it knows the key
    /// and the sign count).
    pub fn check_for(&self, request: &ApprovalRequest) -> Result<(), ApiError> {
        match self {
            ApprovalAnswer::Declined { reason } => {
                if reason.chars().count() > MAX_REASON_CHARS || !reason.chars().all(is_displayable)
                {
                    return Err(invalid(
                        "reason must be at most 200 characters, without control characters",
                    ));
                }
                Ok(())
            }
            ApprovalAnswer::Approved { assertion, consent } => {
                if consent
                    .as_deref()
                    .is_some_and(|c| crate::device_key::parse_signature_hex(c).is_none())
                {
                    return Err(invalid("the consent is not a 65-byte signature in hex"));
                }
                if assertion.client_data_json.len() > MAX_CLIENT_DATA_BYTES
                    || assertion.authenticator_data.len() > MAX_AUTH_DATA_BYTES
                {
                    return Err(invalid("the assertion is larger than a WebAuthn assertion"));
                }
                let challenge = request
                    .challenge_bytes()
                    .ok_or_else(|| invalid("the request's challenge is malformed"))?;
                let field = challenge_field(&challenge);
                let found = assertion
                    .client_data_json
                    .windows(field.len())
                    .any(|w| w == field.as_bytes());
                if !found {
                    return Err(invalid(
                        "the assertion's clientDataJSON does not carry the request's challenge",
                    ));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    type Edit = Box<dyn Fn(&mut ApprovalRequest)>;

    fn key(b: u8) -> DeviceKey {
        DeviceKey::from_bytes(&[b; 32]).unwrap()
    }

    fn request() -> (DeviceKey, ApprovalRequest) {
        let k = key(7);
        let r = ApprovalRequest::new_signed(
            &k,
            Omni::operator(&k.address()),
            key(8).address(),
            "revoke_master",
            "Revoke the master device 0x1234 (laptop)",
            [9u8; 32],
            "companion.localhost",
            120,
            NOW,
        )
        .unwrap();
        (k, r)
    }

    fn resign(k: &DeviceKey, r: &mut ApprovalRequest) {
        r.signature = format!("0x{}", hex::encode(k.sign_prehash(&r.signing_digest())));
    }

    fn code(r: Result<(), ApiError>) -> ErrorCode {
        r.expect_err("refused").code
    }

    #[test]
    fn approval_signed_request_validates_and_roundtrips() {
        let (k, r) = request();
        assert_eq!(r.requester, k.address());
        assert_eq!(r.expires_at, NOW + 120);
        assert_eq!(r.request_id.len(), 22);
        assert!(r.signature.starts_with("0x") && r.signature.len() == 132);
        r.validate(NOW).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        let back: ApprovalRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        back.validate(NOW + 119).unwrap();
    }

    #[test]
    fn approval_digest_changes_with_every_field() {
        let (_, r) = request();
        let base = r.signing_digest();
        let edits: Vec<Edit> = vec![
            Box::new(|r| r.operator.0[0] ^= 1),
            Box::new(|r| r.requester.0[0] ^= 1),
            Box::new(|r| r.approver.0[0] ^= 1),
            Box::new(|r| r.op_tag.push('x')),
            Box::new(|r| r.operation.push('x')),
            Box::new(|r| r.challenge.replace_range(2..3, "f")),
            Box::new(|r| r.rp_id = "localhost".into()),
            Box::new(|r| r.issued_at += 1),
            Box::new(|r| r.expires_at += 1),
            Box::new(|r| r.request_id = "AAAAAAAAAAAAAAAAAAAAAA".into()),
            Box::new(|r| {
                r.params = Some(ApprovalParams::RevokeMaster {
                    device: Address([9; 20]),
                })
            }),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut t = r.clone();
            edit(&mut t);
            assert_ne!(t.signing_digest(), base, "field #{i} is not covered");
        }
        // The signature itself is not covered.
        let mut t = r.clone();
        t.signature = "0x00".into();
        assert_eq!(t.signing_digest(), base);
        // Length prefixes: moving a character between adjacent fields changes the digest.
        let mut a = r.clone();
        a.op_tag = "ab".into();
        a.operation = "c".into();
        let mut b = r.clone();
        b.op_tag = "a".into();
        b.operation = "bc".into();
        assert_ne!(a.signing_digest(), b.signing_digest());
    }

    #[test]
    fn approval_tampered_fields_fail_with_exact_codes() {
        let (_, r) = request();
        // A field changed after signing: the signature no longer recovers to the requester.
        let mut t = r.clone();
        t.operation = "Revoke every device".into();
        assert_eq!(code(t.validate(NOW)), ErrorCode::ApprovalSignatureInvalid);
        let mut t = r.clone();
        t.approver = key(9).address();
        assert_eq!(code(t.validate(NOW)), ErrorCode::ApprovalSignatureInvalid);
        let mut t = r.clone();
        let flipped = if &t.signature[10..11] == "a" {
            "b"
        } else {
            "a"
        };
        t.signature.replace_range(10..11, flipped);
        assert_eq!(code(t.validate(NOW)), ErrorCode::ApprovalSignatureInvalid);
        let mut t = r.clone();
        t.signature = t.signature.to_uppercase().replacen("0X", "0x", 1);
        assert_eq!(code(t.validate(NOW)), ErrorCode::ApprovalSignatureInvalid);
        let mut t = r.clone();
        t.signature = "0x1234".into();
        assert_eq!(code(t.validate(NOW)), ErrorCode::ApprovalSignatureInvalid);

        // Malformed fields (re-signed, so only the shape is wrong).
        let k = key(7);
        let shapes: Vec<Edit> = vec![
            Box::new(|r| r.op_tag = "Revoke".into()),
            Box::new(|r| r.op_tag = String::new()),
            Box::new(|r| r.op_tag = "a".repeat(41)),
            Box::new(|r| r.operation = String::new()),
            Box::new(|r| r.operation = "x".repeat(501)),
            Box::new(|r| r.operation = "line\nbreak".into()),
            Box::new(|r| r.operation = "evil \u{202E}txt.exe".into()),
            Box::new(|r| r.challenge = format!("0x{}", "AB".repeat(32))),
            Box::new(|r| r.challenge = "ab".repeat(32)),
            Box::new(|r| r.challenge = format!("0x{}", "ab".repeat(31))),
            Box::new(|r| r.rp_id = "Companion.localhost".into()),
            Box::new(|r| r.rp_id = "a..b".into()),
            Box::new(|r| r.rp_id = String::new()),
            Box::new(|r| r.request_id = "short".into()),
            Box::new(|r| r.request_id = "AAAAAAAAAAAAAAAAAAAAAA==".into()),
            Box::new(|r| r.request_id = "AAAAAAAAAAAAAAAAAAAAAB".into()),
            Box::new(|r| r.expires_at = r.issued_at),
            Box::new(|r| r.expires_at = r.issued_at + 301),
        ];
        for (i, edit) in shapes.iter().enumerate() {
            let mut t = r.clone();
            edit(&mut t);
            resign(&k, &mut t);
            assert_eq!(
                code(t.validate(NOW)),
                ErrorCode::ApprovalInvalid,
                "shape #{i}"
            );
        }
        let mut t = r.clone();
        t.operation = "x".repeat(500);
        resign(&k, &mut t);
        t.validate(NOW).unwrap();
    }

    #[test]
    fn approval_signature_by_another_key_is_refused() {
        let (_, r) = request();
        let mut t = r.clone();
        resign(&key(8), &mut t);
        assert_eq!(code(t.validate(NOW)), ErrorCode::ApprovalSignatureInvalid);
        // Claiming the other key as requester does not help without re-signing.
        let mut t = r.clone();
        t.requester = key(8).address();
        assert_eq!(code(t.validate(NOW)), ErrorCode::ApprovalSignatureInvalid);
    }

    /// Another spelling of the requester's own signature (v as 0/1, or the high-s twin) is
    /// refused: request ids of replays must match, so one request has one signature.
    #[test]
    fn approval_non_canonical_signature_is_refused() {
        let (_, r) = request();
        let mut sig = [0u8; 65];
        hex::decode_to_slice(&r.signature[2..], &mut sig).unwrap();
        let mut v01 = sig;
        v01[64] -= 27;
        for other in [v01, crate::device_key::tests::high_s_twin(&sig)] {
            let mut t = r.clone();
            t.signature = format!("0x{}", hex::encode(other));
            assert_eq!(code(t.validate(NOW)), ErrorCode::ApprovalSignatureInvalid);
        }
    }

    #[test]
    fn approval_expiry_window() {
        let (_, r) = request();
        r.validate(NOW - CLOCK_SKEW_SECS).unwrap();
        assert_eq!(
            code(r.validate(NOW - CLOCK_SKEW_SECS - 1)),
            ErrorCode::ApprovalInvalid
        );
        r.validate(r.expires_at - 1).unwrap();
        assert_eq!(code(r.validate(r.expires_at)), ErrorCode::ApprovalExpired);
        let k = key(7);
        let op = Omni::operator(&k.address());
        let new = |ttl| {
            ApprovalRequest::new_signed(
                &k,
                op,
                key(8).address(),
                "x",
                "y",
                [0; 32],
                "localhost",
                ttl,
                NOW,
            )
        };
        assert_eq!(new(0).unwrap_err(), ErrorCode::ApprovalInvalid);
        assert_eq!(new(301).unwrap_err(), ErrorCode::ApprovalInvalid);
        assert!(new(300).is_ok());
    }

    fn assertion_with(json: &str) -> ChainAssertion {
        ChainAssertion {
            authenticator_data: vec![0; 37],
            client_data_json: json.as_bytes().to_vec(),
            challenge_location: 0,
            type_location: 0,
            r: [1; 32],
            s: [1; 32],
        }
    }

    #[test]
    fn approval_answers_are_checked_against_the_request() {
        let (_, r) = request();
        let good = format!(
            r#"{{"type":"webauthn.get",{},"origin":"http://companion.localhost:1"}}"#,
            challenge_field(&[9u8; 32])
        );
        let ok = ApprovalAnswer::Approved {
            assertion: assertion_with(&good),
            consent: None,
        };
        ok.check_for(&r).unwrap();
        let consented = ApprovalAnswer::Approved {
            assertion: assertion_with(&good),
            // Shaped as a canonical signature (low s, v 27); the chain checks whose it is.
            consent: Some(format!("0x{}{}1b", "11".repeat(32), "22".repeat(32))),
        };
        consented.check_for(&r).unwrap();
        for junk in ["0x1234", "not hex", ""] {
            let bad = ApprovalAnswer::Approved {
                assertion: assertion_with(&good),
                consent: Some(junk.into()),
            };
            assert_eq!(code(bad.check_for(&r)), ErrorCode::ApprovalInvalid);
        }
        let other = format!(r#"{{{}}}"#, challenge_field(&[8u8; 32]));
        let bad = ApprovalAnswer::Approved {
            assertion: assertion_with(&other),
            consent: None,
        };
        assert_eq!(code(bad.check_for(&r)), ErrorCode::ApprovalInvalid);
        let declined = ApprovalAnswer::Declined {
            reason: "not me".into(),
        };
        declined.check_for(&r).unwrap();
        let long = ApprovalAnswer::Declined {
            reason: "x".repeat(201),
        };
        assert_eq!(code(long.check_for(&r)), ErrorCode::ApprovalInvalid);

        let json = serde_json::to_value(&declined).unwrap();
        assert_eq!(json["outcome"], "declined");
        let json = serde_json::to_value(&ok).unwrap();
        assert_eq!(json["outcome"], "approved");
        assert!(json["assertion"]["client_data_json"]
            .as_str()
            .unwrap()
            .starts_with("0x"));
        let status = ApprovalStatus {
            request_id: r.request_id.clone(),
            state: ApprovalState::Expired,
            approver: r.approver,
            assertion: None,
            reason: None,
            consent: None,
        };
        assert_eq!(serde_json::to_value(&status).unwrap()["state"], "expired");
    }

    #[test]
    fn approval_params_are_signed_and_must_match_the_op_tag() {
        let key = DeviceKey::generate();
        let now = 1_000;
        let params = ApprovalParams::SetScope {
            actor: Omni([4; 32]),
            services: vec!["openrouter".into()],
        };
        let signed = |tag: &str, p: ApprovalParams| {
            ApprovalRequest::new_signed_with(
                &key,
                Omni([1; 32]),
                Address([2; 20]),
                tag,
                "Allow agent coder to read openrouter",
                [3; 32],
                "companion.localhost",
                60,
                now,
                Some(p),
            )
        };
        let r = signed("set_scope", params.clone()).unwrap();
        r.validate(now).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        let back: ApprovalRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back.signing_digest(), r.signing_digest());
        // Another service slipped in after signing: the signature no longer matches.
        let mut t = r.clone();
        t.params = Some(ApprovalParams::SetScope {
            actor: Omni([4; 32]),
            services: vec!["openrouter".into(), "anthropic".into()],
        });
        assert_eq!(
            t.validate(now).unwrap_err().code,
            ErrorCode::ApprovalSignatureInvalid
        );
        // Parameters of another operation than the tag, or bad service names, are malformed.
        assert_eq!(
            signed("revoke_master", params).unwrap_err(),
            ErrorCode::ApprovalInvalid
        );
        let bad = ApprovalParams::SetScope {
            actor: Omni([4; 32]),
            services: vec!["../x".into()],
        };
        assert_eq!(
            signed("set_scope", bad).unwrap_err(),
            ErrorCode::ApprovalInvalid
        );
    }
}
