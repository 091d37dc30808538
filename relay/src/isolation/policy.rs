//! The embedded S3 server's policy: the relay's own key may do anything (the vault); a
//! temporary key only what its session token allows, as an AWS bucket policy keyed on
//! `aws:PrincipalTag/agentkeys_actor_omni` would.

use std::sync::Arc;

use agentkeys_core::envelope::object_prefix;
use agentkeys_core::names::DataClass;
use agentkeys_core::time_util::now_secs;

use super::keyring::SessionKeyring;
use crate::s3server::{AccessDenied, AccessPolicy, AccessRequest, S3Op};

pub struct ActorScopedPolicy {
    pub keyring: Arc<SessionKeyring>,
    /// The relay's own access key id (the vault's).
    pub root_access_key: String,
    pub credentials_bucket: String,
    pub memory_bucket: String,
}

impl AccessPolicy for ActorScopedPolicy {
    fn check(&self, req: &AccessRequest) -> Result<(), AccessDenied> {
        let Some(access_key) = req.access_key.as_deref() else {
            return Err(AccessDenied::new("the request is not signed"));
        };
        if access_key == self.root_access_key {
            return Ok(());
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
        match req.op {
            S3Op::GetObject
            | S3Op::HeadObject
            | S3Op::PutObject
            | S3Op::DeleteObject
            | S3Op::DeleteObjects => {
                let key = req.key_or_prefix.as_deref().unwrap_or_default();
                if key.starts_with(&own) {
                    Ok(())
                } else {
                    Err(AccessDenied::new(format!(
                        "objects outside {own} are not yours"
                    )))
                }
            }
            S3Op::ListObjectsV2 => {
                let prefix = req.key_or_prefix.as_deref().unwrap_or_default();
                if prefix.starts_with(&own) {
                    Ok(())
                } else {
                    Err(AccessDenied::new(format!("list only under {own}")))
                }
            }
            S3Op::HeadBucket => Ok(()),
            S3Op::CreateBucket | S3Op::DeleteBucket | S3Op::ListBuckets => Err(AccessDenied::new(
                "temporary credentials cannot manage buckets",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentkeys_core::identity::Omni;

    fn request(ak: &str, token: Option<&str>, op: S3Op, bucket: &str, key: &str) -> AccessRequest {
        AccessRequest {
            access_key: Some(ak.into()),
            session_token: token.map(str::to_string),
            op,
            bucket: bucket.into(),
            key_or_prefix: Some(key.into()),
        }
    }

    #[test]
    fn an_actor_reaches_its_own_prefix_of_its_own_class_only() {
        let keyring = Arc::new(SessionKeyring::from_key([5; 32]));
        let p = ActorScopedPolicy {
            keyring: keyring.clone(),
            root_access_key: "ROOT".into(),
            credentials_bucket: "cred".into(),
            memory_bucket: "mem".into(),
        };
        let me = Omni([1; 32]);
        let other = Omni([2; 32]);
        let m = keyring.mint(me, me, DataClass::Credentials, 300, now_secs());
        let (ak, tok) = (m.access_key_id.as_str(), Some(m.session_token.as_str()));
        let mine = object_prefix(DataClass::Credentials, &me);
        let theirs = object_prefix(DataClass::Credentials, &other);
        let ok = |op, b: &str, k: &str| p.check(&request(ak, tok, op, b, k)).is_ok();
        assert!(ok(S3Op::PutObject, "cred", &format!("{mine}x.enc")));
        assert!(ok(S3Op::GetObject, "cred", &format!("{mine}x.enc")));
        assert!(ok(S3Op::ListObjectsV2, "cred", &mine));
        for op in [
            S3Op::PutObject,
            S3Op::GetObject,
            S3Op::DeleteObject,
            S3Op::ListObjectsV2,
        ] {
            assert!(!ok(op, "cred", &format!("{theirs}x.enc")), "{op:?}");
        }
        assert!(
            !ok(S3Op::ListObjectsV2, "cred", ""),
            "listing the whole bucket"
        );
        assert!(
            !ok(S3Op::GetObject, "mem", &format!("{mine}x.enc")),
            "another class"
        );
        assert!(!ok(S3Op::ListBuckets, "", ""));
        // No token, a token of another key, and the root key.
        assert!(p
            .check(&request(ak, None, S3Op::GetObject, "cred", &mine))
            .is_err());
        let m2 = keyring.mint(me, me, DataClass::Credentials, 300, now_secs());
        assert!(p
            .check(&request(
                ak,
                Some(&m2.session_token),
                S3Op::GetObject,
                "cred",
                &mine
            ))
            .is_err());
        assert!(p
            .check(&request("ROOT", None, S3Op::ListBuckets, "", ""))
            .is_ok());
    }
}
