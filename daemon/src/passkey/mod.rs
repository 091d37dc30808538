//! This device's passkey in use. The authenticator is either local (a ceremony page shown
//! through a job: opened in the browser, or its URL handed to the CLI) or, on a machine
//! without a browser, a companion elsewhere whose passkey is this device's K11 and which
//! approves through the relay.

use agentkeys_core::daemon_api::CeremonyPrompt;
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::Address;
use agentkeys_core::passkey::{rp_id_hash, ChainAssertion, EnrolledPasskey, P256PublicKey};

use crate::ceremony::browser::{self, Opened};
use crate::ceremony::{AssertSpec, Ceremony, CeremonySettings, EnrollSpec, Role};
use crate::jobs::Progress;
use crate::local::{approver as stored_approver, passkey as stored};
use crate::quorum::{self, Ask};
use crate::state::AppState;

/// Where this device's K11 assertions come from.
#[derive(Clone, Debug)]
pub enum Authenticator {
    Local(EnrolledPasskey),
    Remote {
        device: Address,
        key: P256PublicKey,
        rp_id: String,
    },
}

impl Authenticator {
    pub fn public_key(&self) -> P256PublicKey {
        match self {
            Authenticator::Local(p) => p.public_key,
            Authenticator::Remote { key, .. } => *key,
        }
    }

    pub fn rp_id_hash(&self) -> [u8; 32] {
        match self {
            Authenticator::Local(p) => p.rp_id_hash,
            Authenticator::Remote { rp_id, .. } => rp_id_hash(rp_id),
        }
    }
}

/// The local passkey, else the remote approver, else `None`.
pub fn current(state: &AppState) -> Result<Option<Authenticator>, ApiError> {
    if let Some(p) = stored::load(&state.data_dir)? {
        return Ok(Some(Authenticator::Local(p)));
    }
    Ok(stored_approver::load(&state.data_dir)?.and_then(|w| {
        w.passkey.map(|key| Authenticator::Remote {
            device: w.device,
            key,
            rp_id: w.rp_id,
        })
    }))
}

/// This device's authenticator, or `passkey_required`.
pub fn require(state: &AppState) -> Result<Authenticator, ApiError> {
    current(state)?.ok_or_else(|| ApiError::from_code(ErrorCode::PasskeyRequired))
}

/// An assertion by this device's authenticator over `ask.challenge`.
pub async fn approve(
    state: &AppState,
    progress: &Progress,
    key: &DeviceKey,
    ask: &Ask<'_>,
) -> Result<ChainAssertion, ApiError> {
    match require(state)? {
        Authenticator::Local(p) => {
            approve_with(state.role, &p, progress, ask.operation, ask.challenge).await
        }
        Authenticator::Remote { device, .. } => {
            let mut got = quorum::collect(&state.relay, key, progress, ask, &[device], 1).await?;
            got.pop()
                .map(|(_, a)| a)
                .ok_or_else(|| ApiError::from_code(ErrorCode::CeremonyFailed))
        }
    }
}

/// Opens the page (or leaves its URL to the CLI), tells the job, waits for the result.
pub async fn run<T: Send + 'static>(
    role: Role,
    progress: &Progress,
    ceremony: Ceremony<T>,
    operation: &str,
) -> Result<T, ApiError> {
    let opened_with = match browser::open(ceremony.url()).await {
        Opened::Browser(program) => Some(program),
        Opened::PrintUrl(_) => None,
    };
    progress.ceremony(CeremonyPrompt {
        url: ceremony.url().to_string(),
        opened_with,
        role: match role {
            Role::Primary => "primary".into(),
            Role::Companion => "companion".into(),
        },
        rp_id: role.rp_id().to_string(),
        operation: operation.to_string(),
    });
    let out = ceremony.wait().await;
    progress.step("checking the passkey's answer");
    out
}

/// Enrolls this device's passkey and keeps its public part; the enrolled key.
pub async fn enroll(
    state: &AppState,
    progress: &Progress,
    device: &Address,
) -> Result<EnrolledPasskey, ApiError> {
    let role = state.role;
    let operation = format!(
        "Create the passkey of this {} ({device}); it will approve every grant",
        role.label().to_lowercase()
    );
    let exclude = stored::load(&state.data_dir)?
        .map(|p| vec![p.credential_id])
        .unwrap_or_default();
    let short = device.to_string();
    let spec = EnrollSpec {
        role,
        operation: operation.clone(),
        user_name: format!("agentkeys-{}", &short[..10.min(short.len())]),
        user_display_name: format!("AgentKeys {}", role.label().to_lowercase()),
        exclude_credentials: exclude,
    };
    let ceremony = Ceremony::enroll(spec, CeremonySettings::default()).await?;
    let passkey = run(role, progress, ceremony, &operation).await?;
    stored::save(&state.data_dir, &passkey)?;
    Ok(passkey)
}

/// This device's own enrolled passkey (local only), or `passkey_required`.
pub fn own(state: &AppState) -> Result<EnrolledPasskey, ApiError> {
    stored::load(&state.data_dir)?.ok_or_else(|| ApiError::from_code(ErrorCode::PasskeyRequired))
}

/// An assertion by a local passkey over `challenge`, shown as `operation`.
pub async fn approve_with(
    role: Role,
    passkey: &EnrolledPasskey,
    progress: &Progress,
    operation: &str,
    challenge: [u8; 32],
) -> Result<ChainAssertion, ApiError> {
    let spec = AssertSpec {
        role,
        operation: operation.to_string(),
        challenge,
        credential_id: passkey.credential_id.clone(),
        public_key: passkey.public_key,
    };
    let ceremony = Ceremony::assert(spec, CeremonySettings::default()).await?;
    run(role, progress, ceremony, operation).await
}
