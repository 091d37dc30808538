//! The daemon's settings: `daemon.toml` in the config dir (optional), then `AGENTKEYS_*`
//! environment variables, then command-line flags, each overriding the one before.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use agentkeys_core::identity::sha256;
use agentkeys_core::paths::Paths;
use serde::Deserialize;

use crate::ceremony::Role;
use crate::keychain::{KeychainConfig, KeychainMode, DEFAULT_ACCOUNT, DEFAULT_SERVICE};

/// Where `agentkeys up` starts the embedded relay unless told otherwise.
pub const DEFAULT_RELAY_URL: &str = "http://127.0.0.1:8787";
pub const ENV_RELAY_URL: &str = "AGENTKEYS_RELAY_URL";
pub const ENV_KEYCHAIN: &str = "AGENTKEYS_KEYCHAIN";
pub const ENV_HOME: &str = "AGENTKEYS_HOME";
pub const ENV_CREDENTIAL_BACKEND: &str = "AGENTKEYS_CREDENTIAL_BACKEND";
/// Not `AGENTKEYS_CHAIN_RPC_URL`: that is the relay's own node, which may be plain http elsewhere.
pub const ENV_CHAIN_RPC_URL: &str = "AGENTKEYS_DAEMON_CHAIN_RPC_URL";

/// `daemon.toml`. Unknown keys are refused so a typo does not silently fall back to a default.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub relay_url: Option<String>,
    pub keychain: Option<String>,
    /// `relay` (default) or `direct`.
    pub credential_backend: Option<String>,
    /// A JSON-RPC node of the relay's chain: `audit verify` and `chain status` read the chain
    /// there instead of taking the relay's word for it.
    pub chain_rpc_url: Option<String>,
}

/// Settings that the environment or the command line may override.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub relay_url: Option<String>,
    pub keychain: Option<String>,
    pub socket: Option<PathBuf>,
    /// `relay` or `direct`.
    pub credential_backend: Option<String>,
    /// Run as a companion: its own key, passkey (RP ID `companion.localhost`), socket and files.
    pub companion: bool,
    pub chain_rpc_url: Option<String>,
}

impl Overrides {
    pub fn from_env() -> Overrides {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        Overrides {
            relay_url: var(ENV_RELAY_URL),
            keychain: var(ENV_KEYCHAIN),
            socket: None, // AGENTKEYS_SOCKET is read by `Paths::socket`
            credential_backend: var(ENV_CREDENTIAL_BACKEND),
            companion: false,
            chain_rpc_url: var(ENV_CHAIN_RPC_URL),
        }
    }
}

#[derive(Clone, Debug)]
pub struct DaemonConfig {
    /// Without a trailing slash, so paths can be appended.
    pub relay_url: String,
    pub keychain: KeychainConfig,
    pub socket: PathBuf,
    pub pid_file: PathBuf,
    /// The daemon's own files: the enrolled passkey's public part, the agents.
    pub data_dir: PathBuf,
    pub role: Role,
    /// Seal and move objects here (the vault only wraps keys) instead of through the vault.
    pub direct_backend: bool,
    /// `chain_rpc_url` / `AGENTKEYS_CHAIN_RPC_URL`, checked like the relay URL.
    pub chain_rpc_url: Option<String>,
}

/// A setting that cannot be used; shown as one line `<setting>: <reason>`.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {reason}")]
pub struct ConfigError {
    pub setting: String,
    pub reason: String,
}

fn invalid(setting: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: setting.into(),
        reason: reason.into(),
    }
}

impl DaemonConfig {
    /// Resolves the paths, reads `daemon.toml` and the environment, and applies `flags`.
    pub fn load(flags: Overrides) -> Result<DaemonConfig, ConfigError> {
        let paths = Paths::resolve().ok_or_else(|| {
            invalid(
                "paths",
                "cannot determine the home directory; set AGENTKEYS_HOME",
            )
        })?;
        let file = read_file_config(&paths.daemon_config())?;
        let home = std::env::var_os(ENV_HOME).filter(|h| !h.is_empty());
        DaemonConfig::from_parts(&paths, file, Overrides::from_env(), flags, home.as_deref())
    }

    pub fn from_parts(
        paths: &Paths,
        file: FileConfig,
        env: Overrides,
        flags: Overrides,
        home: Option<&OsStr>,
    ) -> Result<DaemonConfig, ConfigError> {
        let relay_url = flags
            .relay_url
            .or(env.relay_url)
            .or(file.relay_url)
            .unwrap_or_else(|| DEFAULT_RELAY_URL.to_string());
        let relay_url = normalize_relay_url(&relay_url)?;
        let mode = match flags.keychain.or(env.keychain).or(file.keychain) {
            Some(text) => text
                .parse::<KeychainMode>()
                .map_err(|e| invalid("keychain", e.to_string()))?,
            None => KeychainMode::Auto,
        };
        let direct_backend = match flags
            .credential_backend
            .or(env.credential_backend)
            .or(file.credential_backend)
            .as_deref()
        {
            None | Some("relay") => false,
            Some("direct") => true,
            Some(other) => {
                return Err(invalid(
                    "credential_backend",
                    format!("{other:?} is not \"relay\" or \"direct\""),
                ))
            }
        };
        let chain_rpc_url = match flags
            .chain_rpc_url
            .or(env.chain_rpc_url)
            .or(file.chain_rpc_url)
        {
            Some(url) => Some(normalize_http_url("chain_rpc_url", &url)?),
            None => None,
        };
        let companion = flags.companion || env.companion;
        // A companion is a second device: nothing of the primary's is shared, not even files.
        let (role, account, device_dir, data_dir) = if companion {
            (
                Role::Companion,
                format!("{}-companion", keychain_account(home)),
                paths.data_dir.join("companion-device"),
                paths.data_dir.join("companion"),
            )
        } else {
            (
                Role::Primary,
                keychain_account(home),
                paths.data_dir.join("device"),
                paths.data_dir.join("daemon"),
            )
        };
        let keychain = KeychainConfig {
            mode,
            service: DEFAULT_SERVICE.to_string(),
            account,
            file_dir: device_dir,
        };
        let (socket, pid_file) = if companion {
            (
                paths.runtime_dir.join("companion.sock"),
                paths.state_dir.join("companion.pid"),
            )
        } else {
            (paths.socket(), paths.daemon_pid())
        };
        Ok(DaemonConfig {
            relay_url,
            keychain,
            socket: flags.socket.unwrap_or(socket),
            pid_file,
            data_dir,
            role,
            direct_backend,
            chain_rpc_url,
        })
    }
}

fn read_file_config(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileConfig::default()),
        Err(e) => return Err(invalid(path.display().to_string(), e.to_string())),
    };
    toml::from_str(&text).map_err(|e| {
        // toml's messages span several lines (with a source excerpt); keep the first.
        let reason = e
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .to_string();
        invalid(path.display().to_string(), reason)
    })
}

/// Tests and parallel installs set `AGENTKEYS_HOME`; each home gets its own keychain entry
/// so that two homes never share (or overwrite) one device identity.
pub fn keychain_account(home: Option<&OsStr>) -> String {
    match home {
        Some(home) => {
            let digest = hex::encode(sha256(home.as_bytes()));
            format!("{DEFAULT_ACCOUNT}-{}", &digest[..16])
        }
        None => DEFAULT_ACCOUNT.to_string(),
    }
}

/// A relay URL without its trailing slash. Plain `http://` is accepted only for a relay on this
/// machine (a loopback address or `localhost`): anywhere else the device's values, sessions and
/// capabilities would cross the network in the clear, to whoever answers.
pub fn normalize_relay_url(url: &str) -> Result<String, ConfigError> {
    normalize_http_url("relay_url", url)
}

/// An http(s) URL without a user part; plain http only to this machine.
pub fn normalize_http_url(setting: &str, url: &str) -> Result<String, ConfigError> {
    let trimmed = url.trim().trim_end_matches('/');
    let (secure, rest) = match trimmed.strip_prefix("https://") {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix("http://").unwrap_or("")),
    };
    let authority = rest.split('/').next().unwrap_or("");
    // A user part (`user:pass@host`) would make the host what follows the `@`, not what the
    // loopback check below reads, so none is accepted.
    if authority.is_empty()
        || authority.contains('@')
        || rest.contains(char::is_whitespace)
        || !(trimmed.starts_with("http://") || secure)
    {
        return Err(invalid(
            setting,
            format!("{url:?} is not an http:// or https:// URL"),
        ));
    }
    if !secure && !is_loopback_authority(authority) {
        return Err(invalid(
            setting,
            format!("{url:?} is beyond this machine, so it must be an https:// URL"),
        ));
    }
    Ok(trimmed.to_string())
}

/// `host[:port]` naming this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
fn is_loopback_authority(authority: &str) -> bool {
    let host = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, _)) => h,
            None => return false,
        }
    } else {
        authority.split(':').next().unwrap_or("")
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Paths {
        Paths {
            config_dir: "/h/config".into(),
            data_dir: "/h/data".into(),
            state_dir: "/h/state".into(),
            runtime_dir: "/h/run".into(),
        }
    }

    #[test]
    fn precedence_is_file_then_env_then_flags() {
        let file = FileConfig {
            relay_url: Some("https://file:1".into()),
            keychain: Some("os".into()),
            credential_backend: None,
            chain_rpc_url: Some("https://node.example".into()),
        };
        let env = Overrides {
            relay_url: Some("https://env:2/".into()),
            ..Default::default()
        };
        let cfg = DaemonConfig::from_parts(&paths(), file.clone(), env, Overrides::default(), None)
            .unwrap();
        assert_eq!(cfg.relay_url, "https://env:2");
        assert_eq!(cfg.chain_rpc_url.as_deref(), Some("https://node.example"));
        assert_eq!(cfg.keychain.mode, KeychainMode::Os);
        assert_eq!(cfg.keychain.file_dir, PathBuf::from("/h/data/device"));
        assert_eq!(cfg.pid_file, PathBuf::from("/h/state/daemon.pid"));

        let flags = Overrides {
            relay_url: Some("https://flag:3".into()),
            keychain: Some("file".into()),
            socket: Some("/s.sock".into()),
            credential_backend: Some("direct".into()),
            companion: false,
            chain_rpc_url: None,
        };
        let cfg =
            DaemonConfig::from_parts(&paths(), file, Overrides::default(), flags, None).unwrap();
        assert_eq!(cfg.relay_url, "https://flag:3");
        assert_eq!(cfg.keychain.mode, KeychainMode::File);
        assert_eq!(cfg.socket, PathBuf::from("/s.sock"));
        assert!(cfg.direct_backend);
    }

    #[test]
    fn defaults_and_refusals() {
        let cfg = DaemonConfig::from_parts(
            &paths(),
            FileConfig::default(),
            Overrides::default(),
            Overrides::default(),
            None,
        )
        .unwrap();
        assert_eq!(cfg.relay_url, DEFAULT_RELAY_URL);
        assert_eq!(cfg.keychain.mode, KeychainMode::Auto);
        assert_eq!(cfg.keychain.account, DEFAULT_ACCOUNT);

        let bad = Overrides {
            keychain: Some("vault".into()),
            ..Default::default()
        };
        let err = DaemonConfig::from_parts(
            &paths(),
            FileConfig::default(),
            bad,
            Overrides::default(),
            None,
        )
        .unwrap_err();
        assert_eq!(err.setting, "keychain");
        assert!(normalize_relay_url("ftp://x").is_err());
        assert!(normalize_relay_url("http://").is_err());
    }

    #[test]
    fn plain_http_only_on_this_machine() {
        for ok in [
            "http://127.0.0.1:8787",
            "http://127.9.9.9:1/",
            "http://localhost:8787",
            "http://[::1]:8787",
            "https://relay.example.com",
            "https://10.0.0.5:8443",
        ] {
            assert!(normalize_relay_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://relay.example.com",
            "http://10.0.0.5:8787",
            "http://127.0.0.1.evil.example:80",
            "http://localhost.evil.example",
            "http://[::2]:8787",
            "http://[::1",
            "http://localhost:1@evil.example",
            "http://127.0.0.1:80@evil.example/",
            "http://[::1]@evil.example",
            "https://user@relay.example",
        ] {
            let err = normalize_relay_url(bad).unwrap_err();
            assert_eq!(err.setting, "relay_url", "{bad}");
        }
    }

    #[test]
    fn a_chain_rpc_url_beyond_this_machine_must_be_https() {
        let load = |url: &str| {
            let env = Overrides {
                chain_rpc_url: Some(url.into()),
                ..Default::default()
            };
            DaemonConfig::from_parts(
                &paths(),
                FileConfig::default(),
                env,
                Overrides::default(),
                None,
            )
        };
        let err = load("http://node.example:8545").unwrap_err();
        assert_eq!(err.setting, "chain_rpc_url");
        assert!(load("ws://127.0.0.1:8545").is_err());
        let ok = load("http://127.0.0.1:8545/").unwrap();
        assert_eq!(ok.chain_rpc_url.as_deref(), Some("http://127.0.0.1:8545"));
    }

    #[test]
    fn a_companion_shares_nothing_with_the_primary() {
        let flags = Overrides {
            companion: true,
            ..Default::default()
        };
        let c = DaemonConfig::from_parts(
            &paths(),
            FileConfig::default(),
            Overrides::default(),
            flags,
            None,
        )
        .unwrap();
        assert_eq!(c.role, Role::Companion);
        assert_eq!(c.keychain.account, "device-k10-companion");
        assert_eq!(c.socket, PathBuf::from("/h/run/companion.sock"));
        assert_eq!(c.data_dir, PathBuf::from("/h/data/companion"));
        assert_eq!(
            c.keychain.file_dir,
            PathBuf::from("/h/data/companion-device")
        );
        assert_eq!(c.pid_file, PathBuf::from("/h/state/companion.pid"));
    }

    #[test]
    fn home_gets_its_own_account() {
        let a = keychain_account(Some(OsStr::new("/tmp/a")));
        let b = keychain_account(Some(OsStr::new("/tmp/b")));
        assert_ne!(a, b);
        assert!(a.starts_with("device-k10-"));
        assert_eq!(a.len(), "device-k10-".len() + 16);
    }

    #[test]
    fn file_config_refuses_unknown_keys() {
        assert!(toml::from_str::<FileConfig>("relay_url = \"http://x\"\n").is_ok());
        assert!(toml::from_str::<FileConfig>("relay = \"http://x\"\n").is_err());
    }
}
