//! An assertion for the chain: `navigator.credentials.get()` over exactly the 32 bytes a
//! contract expects (`SidecarRegistry.challengeFor`, `AgentKeysScope.scopeChallenge`), only
//! the enrolled credential allowed, user verification required; the answer becomes
//! `K11Verifier`'s `WebAuthnAssertion` and is checked locally as the contract will check it
//! (`core::browser_assertion`, where the fuzz target reaches it).

use std::time::Duration;

use agentkeys_core::b64;
pub use agentkeys_core::browser_assertion::{chain_assertion, from_credential_json, Expected};
use agentkeys_core::error::ApiError;
use agentkeys_core::passkey::{ChainAssertion, P256PublicKey};

use super::server::{Ceremony, Flow};
use super::{CeremonySettings, Role};

/// What to sign.
#[derive(Clone, Debug)]
pub struct AssertSpec {
    pub role: Role,
    /// Shown on the page, e.g. "Allow agent coder to read openrouter, anthropic".
    pub operation: String,
    /// Exactly the 32 bytes the contract computes; the WebAuthn challenge is these bytes.
    pub challenge: [u8; 32],
    /// The enrolled credential, the only one allowed to answer.
    pub credential_id: Vec<u8>,
    pub public_key: P256PublicKey,
}

impl Ceremony<ChainAssertion> {
    /// Starts an assertion page; [`Ceremony::wait`] yields the checked chain payload.
    pub async fn assert(
        spec: AssertSpec,
        settings: CeremonySettings,
    ) -> Result<Ceremony<ChainAssertion>, ApiError> {
        let operation = spec.operation.clone();
        Ceremony::start(spec.role, &operation, settings, |origin| {
            Ok(AssertFlow {
                spec,
                origin: origin.to_string(),
                timeout: settings.timeout,
            })
        })
        .await
    }
}

pub(crate) struct AssertFlow {
    spec: AssertSpec,
    origin: String,
    timeout: Duration,
}

impl Flow for AssertFlow {
    type Output = ChainAssertion;
    const KIND: &'static str = "get";
    const TITLE: &'static str = "Approve with your passkey";
    const DONE: &'static str = "Approved.";

    fn options(&self) -> serde_json::Value {
        serde_json::json!({
            "publicKey": {
                "challenge": b64::encode_url(&self.spec.challenge),
                "timeout": u32::try_from(self.timeout.as_millis()).unwrap_or(u32::MAX),
                "rpId": self.spec.role.rp_id(),
                "allowCredentials": [{
                    "type": "public-key",
                    "id": b64::encode_url(&self.spec.credential_id),
                }],
                "userVerification": "required",
            }
        })
    }

    fn finish(&self, credential: serde_json::Value) -> Result<ChainAssertion, ApiError> {
        let expected = Expected {
            challenge: &self.spec.challenge,
            rp_id: self.spec.role.rp_id(),
            origin: &self.origin,
            public_key: &self.spec.public_key,
        };
        from_credential_json(credential, &self.spec.credential_id, &expected)
    }
}
