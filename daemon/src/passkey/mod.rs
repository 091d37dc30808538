//! This device's passkey in use: a ceremony page shown through a job (opened in the browser,
//! or its URL handed to the CLI), enrollment of the device's own K11, and assertions by it
//! over a contract's challenge.

use agentkeys_core::daemon_api::CeremonyPrompt;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::Address;
use agentkeys_core::passkey::{ChainAssertion, EnrolledPasskey};

use crate::ceremony::browser::{self, Opened};
use crate::ceremony::{AssertSpec, Ceremony, CeremonySettings, EnrollSpec, Role};
use crate::jobs::Progress;
use crate::local::passkey as stored;
use crate::state::AppState;

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

/// This device's enrolled passkey, or `passkey_required`.
pub fn own(state: &AppState) -> Result<EnrolledPasskey, ApiError> {
    stored::load(&state.data_dir)?.ok_or_else(|| ApiError::from_code(ErrorCode::PasskeyRequired))
}

/// An assertion by this device's passkey over `challenge`, shown as `operation`.
pub async fn approve(
    state: &AppState,
    progress: &Progress,
    operation: &str,
    challenge: [u8; 32],
) -> Result<ChainAssertion, ApiError> {
    let passkey = own(state)?;
    approve_with(state.role, &passkey, progress, operation, challenge).await
}

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
