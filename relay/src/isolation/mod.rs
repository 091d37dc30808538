//! Storage isolation in the embedded deployment (ARCHITECTURE §6, layer 3): the broker mints
//! temporary S3 credentials bound to one actor and one data class, and the embedded S3 server
//! enforces, itself, what PrincipalTag bucket policies enforce on AWS: the actor's own prefix
//! only, the class's bucket only, listing only under its own prefix.
//!
//! - `keyring`: the relay's session key (0600), the credentials it mints, and the derivation
//!   of each temporary key's secret (nothing per session is stored).
//! - `policy`: the access policy of the embedded S3 server, which also asks the chain on every
//!   request whether the minting device may still act for the actor and, for an agent, whether
//!   the object is in its scope.

mod keyring;
mod policy;
mod trespass;

pub use keyring::{Holder, SessionClaims, SessionKeyring, SESSION_KEY_FILE};
pub use policy::ActorScopedPolicy;
