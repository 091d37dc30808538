//! A browser's WebAuthn assertion, untrusted input from the ceremony page, turned into the
//! chain payload (`K11Verifier`'s `WebAuthnAssertion`): the credential JSON the page posts,
//! clientDataJSON's type, challenge and origin checked, the offsets of the two fields the
//! contract reads, the DER signature split into r and the low s, and the contract's checks run
//! locally (user verification required). Every refusal is `ceremony_failed` with what was
//! wrong, or `passkey_not_verified`.

use crate::b64;
use crate::error::{ApiError, ErrorCode};
use crate::passkey::{
    challenge_field, rp_id_hash, AssertionFailure, ChainAssertion, P256PublicKey, TYPE_GET_FIELD,
};
use p256::ecdsa::Signature;
use serde::Deserialize;
use url::Url;

/// Parses the credential JSON the page posted and checks it was made by the one credential
/// `credential_id` allowed, then [`chain_assertion`].
pub fn from_credential_json(
    credential: serde_json::Value,
    credential_id: &[u8],
    expected: &Expected<'_>,
) -> Result<ChainAssertion, ApiError> {
    let cred: AssertionCredential = serde_json::from_value(credential)
        .map_err(|_| failed("the browser's answer is not a WebAuthn assertion"))?;
    if cred.type_ != "public-key" {
        return Err(failed(
            "the browser's answer is not a public-key credential",
        ));
    }
    let raw_id = decode(&cred.raw_id, "rawId")?;
    if raw_id != credential_id {
        return Err(failed(
            "another passkey answered than the one enrolled for this device",
        ));
    }
    chain_assertion(
        decode(&cred.response.authenticator_data, "authenticatorData")?,
        decode(&cred.response.client_data_json, "clientDataJSON")?,
        &decode(&cred.response.signature, "signature")?,
        expected,
    )
}

/// The JSON the page posts for `navigator.credentials.get()` (byte strings base64url).
#[derive(Deserialize)]
struct AssertionCredential {
    #[serde(rename = "rawId")]
    raw_id: String,
    #[serde(rename = "type")]
    type_: String,
    response: AssertionResponse,
}

#[derive(Deserialize)]
struct AssertionResponse {
    #[serde(rename = "authenticatorData")]
    authenticator_data: String,
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    signature: String,
}

/// What a valid assertion must match.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    pub challenge: &'a [u8; 32],
    pub rp_id: &'a str,
    /// `http://<rp id>:<port>`, as the browser writes it into clientDataJSON.
    pub origin: &'a str,
    pub public_key: &'a P256PublicKey,
}

/// The three byte strings of an assertion, checked against `expected`.
pub fn chain_assertion(
    authenticator_data: Vec<u8>,
    client_data_json: Vec<u8>,
    der_signature: &[u8],
    expected: &Expected<'_>,
) -> Result<ChainAssertion, ApiError> {
    let client: ClientData = serde_json::from_slice(&client_data_json)
        .map_err(|_| failed("clientDataJSON is not the expected JSON"))?;
    if client.type_ != "webauthn.get" {
        return Err(failed(
            "clientDataJSON is not of an assertion (webauthn.get)",
        ));
    }
    if client.challenge != b64::encode_url(expected.challenge) {
        return Err(failed(
            "the passkey signed another challenge than the one this operation needs",
        ));
    }
    if !same_origin(&client.origin, expected.origin) {
        return Err(failed(format!(
            "the assertion was made on another origin than {}",
            expected.origin
        )));
    }
    if client.cross_origin == Some(true) {
        return Err(failed("the assertion was made in a cross-origin frame"));
    }
    // A browser escapes quotes inside values, so these byte sequences can only be the fields.
    let type_location = find(&client_data_json, TYPE_GET_FIELD.as_bytes())
        .ok_or_else(|| failed("clientDataJSON has no \"type\":\"webauthn.get\" field"))?;
    let challenge_location = find(
        &client_data_json,
        challenge_field(expected.challenge).as_bytes(),
    )
    .ok_or_else(|| failed("clientDataJSON has no challenge field in the expected form"))?;
    let sig = Signature::from_der(der_signature)
        .map_err(|_| failed("the signature is not a DER ECDSA signature"))?;
    // n - s when s > n/2: the on-chain verifier accepts only the low s.
    let sig = sig.normalize_s().unwrap_or(sig);
    let bytes = sig.to_bytes();
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&bytes[..32]);
    s.copy_from_slice(&bytes[32..]);
    let assertion = ChainAssertion {
        authenticator_data,
        client_data_json,
        challenge_location: challenge_location as u64,
        type_location: type_location as u64,
        r,
        s,
    };
    assertion
        .check(
            expected.challenge,
            expected.public_key,
            &rp_id_hash(expected.rp_id),
            true,
        )
        .map_err(|f| match f {
            AssertionFailure::UserNotVerified => ApiError::from_code(ErrorCode::PasskeyNotVerified),
            AssertionFailure::RpIdHashMismatch => failed(format!(
                "the passkey answered for another RP ID than {}",
                expected.rp_id
            )),
            f => failed(f.to_string()),
        })?;
    Ok(assertion)
}

#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    type_: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin")]
    cross_origin: Option<bool>,
}

/// Origins compared as origins (scheme, host, port), so "http://localhost:1/" matches too.
fn same_origin(reported: &str, expected: &str) -> bool {
    match (Url::parse(reported), Url::parse(expected)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin() && a.path() == "/",
        _ => false,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn decode(text: &str, field: &str) -> Result<Vec<u8>, ApiError> {
    // The page sends unpadded base64url; tolerate padding from other clients.
    b64::decode_url(text.trim_end_matches('='))
        .ok_or_else(|| failed(format!("{field} is not base64url")))
}

fn failed(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::CeremonyFailed, message)
}
