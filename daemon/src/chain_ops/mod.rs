//! What the daemon asks of the contracts beyond sign-in: the exact WebAuthn challenges the
//! contracts recompute, and the calls that carry the assertions.

pub mod challenge;
pub mod operator;
