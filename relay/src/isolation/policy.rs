//! The embedded S3 server's policy: the relay's own key may do anything (the vault); a
//! temporary key only what its session token allows, as an AWS bucket policy keyed on
//! `aws:PrincipalTag/agentkeys_actor_omni` would. Beyond what AWS can do, every request is also
//! checked against the chain, through the same [`Authority`] the vault uses (its cache emptied
//! by every contract event): the minting device must still be active for that operator and
//! actor, and an agent reaches only the objects of services in its scope. So revoking a device
//! or narrowing a scope takes effect on storage as soon as the block is seen, not when the
//! temporary keys expire.

use std::sync::Arc;

use agentkeys_core::envelope::object_prefix;
use agentkeys_core::names::{validate_object_name, DataClass, Op, LIST_ALL};
use agentkeys_core::time_util::now_secs;

use super::keyring::{SessionClaims, SessionKeyring};
use crate::audit::foreign::ForeignAttempts;
use crate::chain::authz::{Authority, CapCheck};
use crate::s3server::{AccessDenied, AccessPolicy, AccessRequest, PolicyFuture, S3Op};

/// The service of an object whose key names none: no valid service name, so no scope holds it
/// and only a master (which needs no scope) reaches it.
const NO_SERVICE: &str = "";

pub struct ActorScopedPolicy {
    pub keyring: Arc<SessionKeyring>,
    /// The relay's own access key id (the vault's).
    pub root_access_key: String,
    pub credentials_bucket: String,
    pub memory_bucket: String,
    pub authority: Arc<Authority>,
    /// Where refused reaches into another actor's objects are recorded.
    pub foreign: Arc<ForeignAttempts>,
}

/// What the chain must allow for a request that passed the token's own checks: the service
/// an object belongs to, or [`LIST_ALL`] for listing and bucket probes.
pub struct ChainQuestion {
    claims: SessionClaims,
    service: String,
    op: Op,
}

impl ActorScopedPolicy {
    /// Everything the token alone decides; the question for the chain when it allows (`None`
    /// for the relay's own key, which needs none).
    pub fn check_token(&self, req: &AccessRequest) -> Result<Option<ChainQuestion>, AccessDenied> {
        let Some(access_key) = req.access_key.as_deref() else {
            return Err(AccessDenied::new("the request is not signed"));
        };
        if access_key == self.root_access_key {
            return Ok(None);
        }
        let claims = req
            .session_token
            .as_deref()
            .and_then(|t| self.keyring.verify(t, now_secs()))
            .ok_or_else(|| AccessDenied::new("the session token is missing, invalid or expired"))?;
        if claims.access_key != access_key {
            return Err(AccessDenied::new(
                "the session token belongs to another access key",
            ));
        }
        let bucket = match claims.data_class {
            DataClass::Credentials => &self.credentials_bucket,
            DataClass::Memory => &self.memory_bucket,
        };
        if req.bucket != *bucket {
            return Err(AccessDenied::new(format!(
                "these credentials are for the {} bucket only",
                claims.data_class.as_str()
            )));
        }
        let own = object_prefix(claims.data_class, &claims.actor);
        let service = match req.op {
            S3Op::GetObject
            | S3Op::HeadObject
            | S3Op::PutObject
            | S3Op::DeleteObject
            | S3Op::DeleteObjects => {
                let key = req.key_or_prefix.as_deref().unwrap_or_default();
                let Some(rest) = key.strip_prefix(&own) else {
                    return Err(AccessDenied::new(format!(
                        "objects outside {own} are not yours"
                    )));
                };
                // An object is named `<service>.enc`; anything else under the prefix belongs
                // to no service, which no agent's scope can hold (and `*`, which means "list"
                // to the chain check, must never pass for an object).
                match rest.strip_suffix(".enc") {
                    Some(name) if validate_object_name(name).is_ok() => name.to_string(),
                    _ => NO_SERVICE.to_string(),
                }
            }
            S3Op::ListObjectsV2 => {
                let prefix = req.key_or_prefix.as_deref().unwrap_or_default();
                if !prefix.starts_with(&own) {
                    return Err(AccessDenied::new(format!("list only under {own}")));
                }
                LIST_ALL.to_string()
            }
            S3Op::HeadBucket => LIST_ALL.to_string(),
            S3Op::CreateBucket | S3Op::DeleteBucket | S3Op::ListBuckets => {
                return Err(AccessDenied::new(
                    "temporary credentials cannot manage buckets",
                ))
            }
        };
        let op = match req.op {
            S3Op::PutObject => Op::Store,
            S3Op::DeleteObject | S3Op::DeleteObjects => Op::Teardown,
            S3Op::ListObjectsV2 | S3Op::HeadBucket => Op::List,
            _ => Op::Fetch,
        };
        Ok(Some(ChainQuestion {
            claims,
            service,
            op,
        }))
    }
}

impl AccessPolicy for ActorScopedPolicy {
    fn check<'a>(&'a self, req: &'a AccessRequest) -> PolicyFuture<'a> {
        let question = self.check_token(req);
        Box::pin(async move {
            let q = match question {
                Ok(Some(q)) => q,
                Ok(None) => return Ok(()),
                Err(denied) => {
                    if let Some(t) = super::trespass::of(self, req) {
                        super::trespass::record(self, t).await;
                    }
                    return Err(denied);
                }
            };
            let check = CapCheck {
                device: &q.claims.device,
                operator: &q.claims.operator,
                actor: &q.claims.actor,
                service: &q.service,
                op: q.op,
            };
            match self.authority.check(check).await {
                Ok(_) => Ok(()),
                // The code alone: the same words the vault would answer, nothing more.
                Err(e) => Err(AccessDenied::new(format!(
                    "the chain refuses these credentials: {}",
                    e.code.as_str()
                ))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::authz::DEFAULT_CACHE_TTL;
    use crate::chain::embedded::EmbeddedChain;
    use crate::isolation::Holder;
    use agentkeys_core::identity::{Address, Omni};

    fn request(ak: &str, token: Option<&str>, op: S3Op, bucket: &str, key: &str) -> AccessRequest {
        AccessRequest {
            access_key: Some(ak.into()),
            session_token: token.map(str::to_string),
            op,
            bucket: bucket.into(),
            key_or_prefix: Some(key.into()),
        }
    }

    #[tokio::test]
    async fn an_actor_reaches_its_own_prefix_of_its_own_class_only() {
        let dir = tempfile::tempdir().unwrap();
        let chain = EmbeddedChain::open(dir.path(), 31337).unwrap();
        let keyring = Arc::new(SessionKeyring::from_key([5; 32]));
        let p = ActorScopedPolicy {
            keyring: keyring.clone(),
            root_access_key: "ROOT".into(),
            credentials_bucket: "cred".into(),
            memory_bucket: "mem".into(),
            authority: Authority::new(chain, DEFAULT_CACHE_TTL),
            foreign: Arc::new(ForeignAttempts::new(None, 0)),
        };
        let me = Omni([1; 32]);
        let other = Omni([2; 32]);
        let holder = Holder {
            device: Address([7; 20]),
            operator: me,
            actor: me,
        };
        let m = keyring.mint(holder, DataClass::Credentials, 300, now_secs());
        let (ak, tok) = (m.access_key_id.as_str(), Some(m.session_token.as_str()));
        let mine = object_prefix(DataClass::Credentials, &me);
        let theirs = object_prefix(DataClass::Credentials, &other);
        let token_ok = |op, b: &str, k: &str| p.check_token(&request(ak, tok, op, b, k)).is_ok();
        assert!(token_ok(S3Op::PutObject, "cred", &format!("{mine}x.enc")));
        assert!(token_ok(S3Op::GetObject, "cred", &format!("{mine}x.enc")));
        assert!(token_ok(S3Op::ListObjectsV2, "cred", &mine));
        for op in [
            S3Op::PutObject,
            S3Op::GetObject,
            S3Op::DeleteObject,
            S3Op::ListObjectsV2,
        ] {
            assert!(!token_ok(op, "cred", &format!("{theirs}x.enc")), "{op:?}");
        }
        assert!(
            !token_ok(S3Op::ListObjectsV2, "cred", ""),
            "listing the whole bucket"
        );
        assert!(
            !token_ok(S3Op::GetObject, "mem", &format!("{mine}x.enc")),
            "another class"
        );
        assert!(!token_ok(S3Op::ListBuckets, "", ""));
        // An object's service is its valid name; `*` (listing, to the chain) or any other
        // shape names no service, which no agent's scope holds.
        let service = |key: String| {
            p.check_token(&request(ak, tok, S3Op::PutObject, "cred", &key))
                .unwrap()
                .unwrap()
                .service
        };
        assert_eq!(service(format!("{mine}openrouter.enc")), "openrouter");
        for odd in ["*.enc", "OpenRouter.enc", "openrouter", "a/b.enc"] {
            assert_eq!(service(format!("{mine}{odd}")), NO_SERVICE, "{odd}");
        }
        // No token, a token of another key, and the root key.
        assert!(p
            .check_token(&request(ak, None, S3Op::GetObject, "cred", &mine))
            .is_err());
        let m2 = keyring.mint(holder, DataClass::Credentials, 300, now_secs());
        assert!(p
            .check_token(&request(
                ak,
                Some(&m2.session_token),
                S3Op::GetObject,
                "cred",
                &mine
            ))
            .is_err());
        assert!(p
            .check(&request("ROOT", None, S3Op::ListBuckets, "", ""))
            .await
            .is_ok());
        // What the token allows, the chain still refuses for a device it does not hold.
        let denied = p
            .check(&request(
                ak,
                tok,
                S3Op::GetObject,
                "cred",
                &format!("{mine}x.enc"),
            ))
            .await
            .unwrap_err();
        assert!(
            denied.message.ends_with("device_not_registered"),
            "{}",
            denied.message
        );
    }
}
