//! Enrollment of a K11 passkey, verified with webauthn-rs: user verification required, ES256
//! (P-256) only, a resident (discoverable) key preferred, no attestation.

use std::time::Duration;

use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::passkey::{rp_id_hash, EnrolledPasskey, P256PublicKey};
use rand::RngCore;
use webauthn_rs::prelude::{
    COSEAlgorithm, COSEKeyType, Credential, ECDSACurve, PasskeyRegistration,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use super::server::{Ceremony, Flow};
use super::{CeremonySettings, Role};

/// COSE algorithm id of ES256.
const ES256: i64 = -7;

/// What to enroll.
#[derive(Clone, Debug)]
pub struct EnrollSpec {
    pub role: Role,
    /// Shown on the page, e.g. "Enroll the passkey of this device (operator 0x…)".
    pub operation: String,
    /// The account name the authenticator shows, e.g. "agentkeys@laptop".
    pub user_name: String,
    pub user_display_name: String,
    /// Credentials the authenticator must not enroll again.
    pub exclude_credentials: Vec<Vec<u8>>,
}

impl Ceremony<EnrolledPasskey> {
    /// Starts an enrollment page; [`Ceremony::wait`] yields the verified passkey.
    pub async fn enroll(
        spec: EnrollSpec,
        settings: CeremonySettings,
    ) -> Result<Ceremony<EnrolledPasskey>, ApiError> {
        let operation = spec.operation.clone();
        Ceremony::start(spec.role, &operation, settings, |origin| {
            EnrollFlow::new(&spec, origin, settings.timeout)
        })
        .await
    }
}

pub(crate) struct EnrollFlow {
    webauthn: Webauthn,
    state: PasskeyRegistration,
    options: serde_json::Value,
    rp_id: &'static str,
}

impl EnrollFlow {
    fn new(spec: &EnrollSpec, origin: &str, timeout: Duration) -> Result<EnrollFlow, ApiError> {
        let rp_id = spec.role.rp_id();
        let origin = Url::parse(origin)
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("bad origin: {e}")))?;
        let webauthn = WebauthnBuilder::new(rp_id, &origin)
            .and_then(|b| b.rp_name("AgentKeys").timeout(timeout).build())
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("webauthn setup: {e}")))?;
        let mut user_id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut user_id);
        let exclude = (!spec.exclude_credentials.is_empty()).then(|| {
            spec.exclude_credentials
                .iter()
                .map(|id| id.clone().into())
                .collect()
        });
        let (ccr, state) = webauthn
            .start_passkey_registration(
                Uuid::from_bytes(user_id),
                &spec.user_name,
                &spec.user_display_name,
                exclude,
            )
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("webauthn options: {e}")))?;
        let mut options = serde_json::to_value(&ccr)
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("webauthn options: {e}")))?;
        // webauthn-rs 0.5 offers ES256 and RS256 and discourages resident keys for passkeys;
        // the chain verifies P-256 only, and a discoverable key is what a passkey should be.
        let pk = &mut options["publicKey"];
        pk["pubKeyCredParams"] = serde_json::json!([{ "type": "public-key", "alg": ES256 }]);
        pk["authenticatorSelection"]["residentKey"] = "preferred".into();
        pk["authenticatorSelection"]["requireResidentKey"] = false.into();
        pk["authenticatorSelection"]["userVerification"] = "required".into();
        Ok(EnrollFlow {
            webauthn,
            state,
            options,
            rp_id,
        })
    }
}

impl Flow for EnrollFlow {
    type Output = EnrolledPasskey;
    const KIND: &'static str = "create";
    const TITLE: &'static str = "Enroll a passkey";
    const DONE: &'static str = "Passkey enrolled.";

    fn options(&self) -> serde_json::Value {
        self.options.clone()
    }

    fn finish(&self, credential: serde_json::Value) -> Result<EnrolledPasskey, ApiError> {
        let reg: RegisterPublicKeyCredential =
            serde_json::from_value(credential).map_err(|_| {
                ApiError::new(
                    ErrorCode::CeremonyFailed,
                    "the browser's answer is not a WebAuthn registration",
                )
            })?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&reg, &self.state)
            .map_err(refusal)?;
        enrolled(Credential::from(passkey), self.rp_id)
    }
}

/// A webauthn-rs refusal as the project's error.
fn refusal(e: WebauthnError) -> ApiError {
    match e {
        WebauthnError::UserNotVerified => ApiError::from_code(ErrorCode::PasskeyNotVerified),
        e => ApiError::new(
            ErrorCode::CeremonyFailed,
            format!("the passkey enrollment did not verify: {e}"),
        ),
    }
}

fn enrolled(cred: Credential, rp_id: &str) -> Result<EnrolledPasskey, ApiError> {
    let not_p256 = || {
        ApiError::new(
            ErrorCode::CeremonyFailed,
            "the passkey is not an ES256 (P-256) key; only those can be verified on chain",
        )
    };
    if cred.cred.type_ != COSEAlgorithm::ES256 {
        return Err(not_p256());
    }
    let COSEKeyType::EC_EC2(ec) = &cred.cred.key else {
        return Err(not_p256());
    };
    if ec.curve != ECDSACurve::SECP256R1 {
        return Err(not_p256());
    }
    let x: &[u8] = ec.x.as_ref();
    let y: &[u8] = ec.y.as_ref();
    let public_key = P256PublicKey {
        x: x.try_into().map_err(|_| not_p256())?,
        y: y.try_into().map_err(|_| not_p256())?,
    };
    if public_key.verifying_key().is_none() {
        return Err(not_p256());
    }
    let credential_id: &[u8] = cred.cred_id.as_ref();
    Ok(EnrolledPasskey {
        credential_id: credential_id.to_vec(),
        public_key,
        rp_id: rp_id.to_string(),
        rp_id_hash: rp_id_hash(rp_id),
        sign_count: cred.counter,
    })
}
