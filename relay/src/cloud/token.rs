//! Web-identity tokens: ES256 with K2, `aud` sts.amazonaws.com, the actor as subject and the
//! actor and operator as AWS session tags.

use std::collections::BTreeMap;

use agentkeys_core::b64;
use agentkeys_core::cloud::{
    AwsTags, OidcClaims, OIDC_AUDIENCE, OIDC_TTL_DEFAULT, OIDC_TTL_MAX, OIDC_TTL_MIN, OIDC_TYP,
    TAG_ACTOR, TAG_OPERATOR,
};
use agentkeys_core::session::SessionClaims;
use agentkeys_core::{ApiError, ErrorCode};
use rand::RngCore;

use crate::broker::Broker;

/// `ttl` or the default, refused outside 60–3600 s.
pub fn ttl(requested: Option<u64>) -> Result<u64, ApiError> {
    let ttl = requested.unwrap_or(OIDC_TTL_DEFAULT);
    if (OIDC_TTL_MIN..=OIDC_TTL_MAX).contains(&ttl) {
        Ok(ttl)
    } else {
        Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("ttl_secs must be from {OIDC_TTL_MIN} to {OIDC_TTL_MAX}"),
        ))
    }
}

pub fn mint(
    broker: &Broker,
    s: &SessionClaims,
    ttl: u64,
    now: u64,
) -> Result<(String, OidcClaims), ApiError> {
    let mut jti = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut jti);
    let (actor, operator) = (s.act.to_hex(), s.opr.to_hex());
    let claims = OidcClaims {
        iss: broker.issuer.clone(),
        sub: actor.clone(),
        aud: OIDC_AUDIENCE.to_string(),
        iat: now,
        nbf: now,
        exp: now + ttl,
        jti: b64::encode_url(&jti),
        aws_tags: AwsTags {
            principal_tags: BTreeMap::from([
                (TAG_ACTOR.to_string(), vec![actor]),
                (TAG_OPERATOR.to_string(), vec![operator]),
            ]),
            transitive_tag_keys: vec![TAG_ACTOR.to_string(), TAG_OPERATOR.to_string()],
        },
    };
    let token = broker
        .k2
        .sign_jwt(OIDC_TYP, &claims)
        .map_err(|_| ApiError::new(ErrorCode::Internal, "cannot sign the token"))?;
    Ok((token, claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_bounds() {
        assert_eq!(ttl(None).unwrap(), 300);
        assert_eq!(ttl(Some(60)).unwrap(), 60);
        assert_eq!(ttl(Some(3600)).unwrap(), 3600);
        assert_eq!(ttl(Some(59)).unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(ttl(Some(3601)).unwrap_err().code, ErrorCode::BadRequest);
    }
}
