//! HTTP plumbing shared by every role: error responses in the project's shape, body limits,
//! JSON decoding with stable codes, keyed rate limits, and the connection loop with timeouts and
//! graceful drain.

pub mod body;
pub mod error;
pub mod rate_limit;
pub mod serve;

pub use body::{bearer_token, decode_json, read_body};
pub use error::{json_ok, ApiFailure};
