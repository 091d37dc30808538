//! Sign-in rate limits of the broker: SIWE start and verify per client IP, and sign-ins per
//! device key. 0 turns a limit off.

use super::{BootFail, FileConfig};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigninLimits {
    /// `siwe/start` plus `siwe/verify` requests per minute from one IPv4 address or IPv6 /64.
    pub per_ip_per_minute: u32,
    /// Sign-ins per minute signed by one device key.
    pub per_address_per_minute: u32,
}

impl Default for SigninLimits {
    fn default() -> Self {
        // One daemon signs in about once an hour (the session lifetime); these leave room for
        // many daemons behind one NAT and for retries, and cap a flood at a few per second.
        SigninLimits {
            per_ip_per_minute: 300,
            per_address_per_minute: 30,
        }
    }
}

pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "AGENTKEYS_SIGNIN_PER_IP_PER_MINUTE",
        "SIWE start + verify requests per minute per IP or IPv6 /64 (default 300, 0 = off)",
    ),
    (
        "AGENTKEYS_SIGNIN_PER_ADDRESS_PER_MINUTE",
        "sign-ins per minute per device key (default 30, 0 = off)",
    ),
];

/// A whole-number setting: the environment wins over the file, the file over the default.
pub(super) fn number<T: std::str::FromStr>(
    setting: &str,
    v: Option<String>,
    file: Option<T>,
    default: T,
) -> Result<T, BootFail> {
    match v {
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| BootFail::new(setting, format!("'{text}' is not a whole number"))),
        None => Ok(file.unwrap_or(default)),
    }
}

pub(super) fn resolve(
    file: &FileConfig,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<SigninLimits, BootFail> {
    let d = SigninLimits::default();
    Ok(SigninLimits {
        per_ip_per_minute: number(
            "signin_per_ip_per_minute",
            env("AGENTKEYS_SIGNIN_PER_IP_PER_MINUTE"),
            file.signin_per_ip_per_minute,
            d.per_ip_per_minute,
        )?,
        per_address_per_minute: number(
            "signin_per_address_per_minute",
            env("AGENTKEYS_SIGNIN_PER_ADDRESS_PER_MINUTE"),
            file.signin_per_address_per_minute,
            d.per_address_per_minute,
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_file_and_environment() {
        let none = |_: &str| None;
        assert_eq!(
            resolve(&FileConfig::default(), &none).unwrap(),
            SigninLimits::default()
        );
        let file = FileConfig {
            signin_per_ip_per_minute: Some(0),
            ..Default::default()
        };
        let env = |v: &str| (v == "AGENTKEYS_SIGNIN_PER_ADDRESS_PER_MINUTE").then(|| "3".into());
        let l = resolve(&file, &env).unwrap();
        assert_eq!((l.per_ip_per_minute, l.per_address_per_minute), (0, 3));
        let bad = |v: &str| (v == "AGENTKEYS_SIGNIN_PER_IP_PER_MINUTE").then(|| "-1".into());
        assert_eq!(
            resolve(&file, &bad).unwrap_err().setting,
            "signin_per_ip_per_minute"
        );
    }
}
