//! AgentKeys core: identities, the envelope format, capability and session tokens, SIWE,
//! proofs of possession, error codes and the wire types shared by the daemon, the CLI and the
//! relay. Nothing here performs I/O, so every format can be checked by known-answer tests; the
//! exceptions are `paths` and `local_user`, which find and check this user's local folders.

pub mod approval;
pub mod audit;
#[cfg(feature = "axum")]
pub mod axum_response;
pub mod b64;
pub mod browser_assertion;
pub mod cap;
pub mod chain;
pub mod cloud;
pub mod daemon_api;
pub mod device_key;
pub mod envelope;
pub mod error;
pub mod es256;
pub mod identity;
pub mod json_body;
pub mod kek;
pub mod local_user;
pub mod names;
pub mod passkey;
pub mod paths;
pub mod pop;
pub mod routes;
pub mod session;
pub mod siwe_msg;
pub mod tcp_peer;
pub mod time_util;
pub mod wire;

pub use error::{ApiError, ErrorCode};
