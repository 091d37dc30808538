//! A temporary key refused for another actor's objects: whose they are, so the attempt lands
//! in that operator's audit trail. Object keys are `bots/<actor>/<class>/<service>.enc`; the
//! actor is an operator (its masters' objects) or an agent actor the chain says an operator
//! registered.

use agentkeys_core::identity::{sha256, Omni};
use agentkeys_core::names::{validate_object_name, DataClass, LIST_ALL};

use super::keyring::SessionClaims;
use super::policy::ActorScopedPolicy;
use crate::audit::AuditEvent;
use crate::chain::views;
use crate::s3server::{AccessRequest, S3Op};
use agentkeys_core::error::ErrorCode;

/// A refused request aimed at another actor's objects.
pub struct Trespass {
    claims: SessionClaims,
    target: Omni,
    class: DataClass,
    service: String,
    op: &'static str,
}

/// The other actor `req` reached for, when its token is genuine; `None` otherwise (a forged
/// or expired token names nobody worth believing, and a request in its own prefix is no
/// trespass).
pub fn of(policy: &ActorScopedPolicy, req: &AccessRequest) -> Option<Trespass> {
    let access_key = req.access_key.as_deref()?;
    let claims = policy.keyring.verify(
        req.session_token.as_deref()?,
        agentkeys_core::time_util::now_secs(),
    )?;
    if claims.access_key != access_key {
        return None;
    }
    let class = if req.bucket == policy.credentials_bucket {
        DataClass::Credentials
    } else if req.bucket == policy.memory_bucket {
        DataClass::Memory
    } else {
        return None;
    };
    let key = req.key_or_prefix.as_deref()?;
    let rest = key.strip_prefix("bots/")?;
    let (actor_hex, rest) = rest.split_at_checked(64)?;
    let target: Omni = actor_hex.parse().ok()?;
    if target == claims.actor {
        return None;
    }
    let name = rest
        .strip_prefix('/')
        .and_then(|r| r.strip_prefix(class.as_str()))
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or_default();
    let (service, op) = match req.op {
        S3Op::ListObjectsV2 => (LIST_ALL.to_string(), "list"),
        op => {
            let service = match name.strip_suffix(".enc") {
                Some(n) if validate_object_name(n).is_ok() => n.to_string(),
                _ => "?".to_string(),
            };
            let op = match op {
                S3Op::PutObject => "store",
                S3Op::DeleteObject | S3Op::DeleteObjects => "teardown",
                _ => "fetch",
            };
            (service, op)
        }
    };
    Some(Trespass {
        claims,
        target,
        class,
        service,
        op,
    })
}

/// Records `t` in the trail of the operator whose objects it reached for, if any. Admitted
/// (device active, within its limit) before the chain is asked whose the objects are, so a
/// flood of refused requests costs no chain reads past the limit.
pub async fn record(policy: &ActorScopedPolicy, t: Trespass) {
    if !policy
        .foreign
        .admit(&policy.authority, &t.claims.device)
        .await
    {
        return;
    }
    let owner = match policy.authority.actor_operator(&t.target).await {
        Ok(Some(operator)) => operator,
        Ok(None) => match views::operator_nonce(policy.authority.chain().as_ref(), &t.target).await
        {
            // A registered operator's own objects (its masters' prefix).
            Ok(n) if n > 0 => t.target,
            _ => return,
        },
        Err(_) => return,
    };
    let event = AuditEvent {
        operator: owner.to_hex(),
        device: t.claims.device.to_string(),
        actor: t.target.to_hex(),
        service: t.service,
        op: t.op.to_string(),
        data_class: t.class.as_str().to_string(),
        outcome: ErrorCode::StorageAccessDenied.as_str().to_string(),
        // No capability: the temporary key that asked is named instead.
        cap_jti_hash: hex::encode(sha256(t.claims.access_key.as_bytes())),
    };
    policy.foreign.write(&owner, event).await;
}
