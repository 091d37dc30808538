//! The caller's own storage credentials (`X-Aws-Access-Key-Id`, `X-Aws-Secret-Access-Key`,
//! `X-Aws-Session-Token`): all three or none; a partial set is refused rather than ignored,
//! so a client never believes it is scoped when it is not.

use agentkeys_core::{ApiError, ErrorCode};
use axum::http::HeaderMap;
use zeroize::Zeroizing;

use crate::storage::CallerCredentials;

use agentkeys_core::cloud::{
    CALLER_ACCESS_KEY_HEADER as ACCESS_KEY_HEADER, CALLER_SECRET_KEY_HEADER as SECRET_KEY_HEADER,
    CALLER_SESSION_TOKEN_HEADER as SESSION_TOKEN_HEADER,
};
/// Longest header value accepted (an AWS session token is at most a few KiB).
const MAX_VALUE: usize = 8192;

fn value(headers: &HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) if v.len() > MAX_VALUE || v.is_empty() => Err(ApiError::new(
            ErrorCode::CallerCredentialsIncomplete,
            format!("{name} is empty or longer than {MAX_VALUE} bytes"),
        )),
        Some(v) => v.to_str().map(|s| Some(s.to_string())).map_err(|_| {
            ApiError::new(
                ErrorCode::CallerCredentialsIncomplete,
                format!("{name} is not text"),
            )
        }),
    }
}

/// `None` without any of the headers; `required` refuses that too.
pub fn from_headers(
    headers: &HeaderMap,
    required: bool,
) -> Result<Option<CallerCredentials>, ApiError> {
    let ak = value(headers, ACCESS_KEY_HEADER)?;
    let sk = value(headers, SECRET_KEY_HEADER)?.map(Zeroizing::new);
    let st = value(headers, SESSION_TOKEN_HEADER)?.map(Zeroizing::new);
    match (ak, sk, st) {
        (Some(access_key_id), Some(secret_access_key), Some(session_token)) => {
            Ok(Some(CallerCredentials {
                access_key_id,
                secret_access_key,
                session_token,
            }))
        }
        (None, None, None) if required => Err(ErrorCode::CallerCredentialsRequired.into()),
        (None, None, None) => Ok(None),
        _ => Err(ErrorCode::CallerCredentialsIncomplete.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn all_or_none() {
        let full = headers(&[
            (ACCESS_KEY_HEADER, "ASIA0"),
            (SECRET_KEY_HEADER, "s3cret"),
            (SESSION_TOKEN_HEADER, "tok"),
        ]);
        let c = from_headers(&full, true).unwrap().unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(from_headers(&HeaderMap::new(), false).unwrap().is_none());
        assert_eq!(
            from_headers(&HeaderMap::new(), true).unwrap_err().code,
            ErrorCode::CallerCredentialsRequired
        );
        let partial = headers(&[(ACCESS_KEY_HEADER, "ASIA0"), (SECRET_KEY_HEADER, "s")]);
        assert_eq!(
            from_headers(&partial, false).unwrap_err().code,
            ErrorCode::CallerCredentialsIncomplete
        );
    }
}
