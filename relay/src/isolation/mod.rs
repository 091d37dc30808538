//! Storage isolation in the embedded deployment (ARCHITECTURE §6, layer 3): the broker mints
//! temporary S3 credentials bound to one actor and one data class, and the embedded S3 server
//! enforces, itself, what PrincipalTag bucket policies enforce on AWS: the actor's own prefix
//! only, the class's bucket only, listing only under its own prefix.
//!
//! - `keyring`: the relay's session key (0600), the credentials it mints, and the derivation
//!   of each temporary key's secret (nothing per session is stored).
//! - `policy`: the access policy of the embedded S3 server.

mod keyring;
mod policy;

pub use keyring::{SessionClaims, SessionKeyring, SESSION_KEY_FILE};
pub use policy::ActorScopedPolicy;
