//! The vault role: verifies capability and proof of possession, then stores or releases
//! envelopes through the object store, with an audit record durable before any response that
//! releases data or acknowledges a write.

mod audit_sink;
pub mod caller_creds;
mod dek;
mod keysource;
mod ops;
mod replay;
mod request;
mod verified_caps;

pub use audit_sink::{audit_error as audit_sink_error, AuditSink, LocalAudit, RemoteAudit};
pub use keysource::{KeySource, LocalKeys, RemoteKeys};
pub use replay::ReplayCache;
pub use verified_caps::VerifiedCaps;

use crate::chain::authz::Authority;
use crate::signer::DekSigner;
use crate::storage::ObjectStore;
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::routes::{self, ALL_CLASS_OPS};
use axum::routing::post;
use axum::Router;
use std::sync::Arc;

pub struct Vault {
    /// The broker's issuer, required in every capability's `iss`.
    pub issuer: String,
    pub audience: String,
    pub keys: Arc<dyn KeySource>,
    pub signer: Arc<dyn DekSigner>,
    pub store: ObjectStore,
    pub audit: Arc<dyn AuditSink>,
    pub replay: ReplayCache,
    pub verified: VerifiedCaps,
    /// The vault's own view of the chain, independent of the broker's.
    pub authority: Arc<Authority>,
    /// Refuse requests that do not bring the caller's own storage credentials.
    pub require_caller_credentials: bool,
    /// Serve the data-key routes of the direct backend (off by default: they hand data keys
    /// to callers, which a relay that only serves the vault backend never needs to do).
    pub direct_backend: bool,
}

/// What a verified request does: an object operation, or (for the direct backend) a data key
/// wrapped or unwrapped for the caller to seal or open the object itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Object,
    WrapDek,
    UnwrapDek,
}

pub fn router(vault: Arc<Vault>) -> Router {
    let mut r = Router::new();
    for (dc, op) in ALL_CLASS_OPS {
        let path = routes::vault_route(dc, op);
        r = r.route(
            path,
            post(move |state, req| request::handle(state, req, dc, op, path, Action::Object)),
        );
    }
    // Not mounted unless enabled, so they answer 404 like any unknown route.
    let dek_classes: &[DataClass] = if vault.direct_backend {
        &[DataClass::Credentials, DataClass::Memory]
    } else {
        &[]
    };
    for &dc in dek_classes {
        let (wrap, unwrap) = routes::dek_routes(dc);
        r = r.route(
            wrap,
            post(move |state, req| {
                request::handle(state, req, dc, Op::Store, wrap, Action::WrapDek)
            }),
        );
        r = r.route(
            unwrap,
            post(move |state, req| {
                request::handle(state, req, dc, Op::Fetch, unwrap, Action::UnwrapDek)
            }),
        );
    }
    r.with_state(vault)
}
