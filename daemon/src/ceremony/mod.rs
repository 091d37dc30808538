//! One-shot passkey ceremony pages (ARCHITECTURE §10).
//!
//! A [`Ceremony`] binds `127.0.0.1:0`, serves one page at
//! `http://<rp id>:<port>/<random path token>`, runs one WebAuthn operation in the browser and
//! stops: [`Ceremony::enroll`] verifies a new K11 passkey with webauthn-rs and yields an
//! [`EnrolledPasskey`]; [`Ceremony::assert`] asks the enrolled passkey to sign exactly the
//! 32-byte challenge a contract expects and yields the [`ChainAssertion`] `K11Verifier` takes.
//!
//! ```text
//! let ceremony = Ceremony::assert(spec, CeremonySettings::default()).await?;
//! let shown = browser::open(ceremony.url()).await;   // print the URL when not opened
//! let assertion = ceremony.wait().await?;             // ceremony_timeout after 300 s
//! ```
//!
//! - `server`: the little HTTP API (page, options), the path token, limits, one-shot.
//! - `result`: the page's one answer, verified and handed to the waiter.
//! - `page`: the HTML and inline JS.
//! - `enroll` / `assert`: the two operations.
//! - `chain`: the alloy binding types of the assertion.
//! - `browser`: the OS opener, honouring `$BROWSER`.

pub mod assert;
pub mod browser;
pub mod chain;
pub mod enroll;
mod page;
mod result;
mod server;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use agentkeys_core::passkey::{ChainAssertion, EnrolledPasskey, P256PublicKey};
pub use assert::AssertSpec;
pub use enroll::EnrollSpec;
pub use server::Ceremony;

/// Which daemon runs the ceremony; each has its own RP ID, label and colour on the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Primary,
    Companion,
}

impl Role {
    pub fn rp_id(self) -> &'static str {
        match self {
            Role::Primary => agentkeys_core::passkey::RP_ID_PRIMARY,
            Role::Companion => agentkeys_core::passkey::RP_ID_COMPANION,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Primary => "Primary device",
            Role::Companion => "Companion device",
        }
    }

    /// The page's accent colour.
    pub(crate) fn colour(self) -> &'static str {
        match self {
            Role::Primary => "#1d4ed8",
            Role::Companion => "#b45309",
        }
    }
}

/// How long a ceremony and each of its requests may take.
#[derive(Clone, Copy, Debug)]
pub struct CeremonySettings {
    /// From the bind to the result; then `ceremony_timeout`. 300 s by default.
    pub timeout: Duration,
    /// Each HTTP request of the page (verification included). 30 s by default.
    pub request_timeout: Duration,
}

impl Default for CeremonySettings {
    fn default() -> Self {
        CeremonySettings {
            timeout: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The longest operation text shown on the page.
pub const MAX_OPERATION_CHARS: usize = 500;
