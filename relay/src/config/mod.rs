//! Relay configuration: one TOML file plus `AGENTKEYS_*` environment variables (environment
//! wins), every name declared here. A bad setting stops boot with one line
//! `BOOT_FAIL: <setting>: <reason>`.

mod chain;
mod cloud;
mod env;
mod signin;
mod sponsor;

use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use chain::ENV_VARS as CHAIN_ENV_VARS;
pub use chain::{ChainConfig, ChainMode};
pub use cloud::CloudConfig;
pub use cloud::ENV_VARS as CLOUD_ENV_VARS;
pub use env::ENV_VARS;
pub use signin::SigninLimits;
pub use signin::ENV_VARS as SIGNIN_ENV_VARS;
pub use sponsor::SponsorLimits;
pub use sponsor::ENV_VARS as SPONSOR_ENV_VARS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Broker,
    Signer,
    Vault,
    Audit,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Broker, Role::Signer, Role::Vault, Role::Audit];

    pub fn parse(s: &str) -> Option<Role> {
        match s.trim() {
            "broker" => Some(Role::Broker),
            "signer" => Some(Role::Signer),
            "vault" => Some(Role::Vault),
            "audit" => Some(Role::Audit),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageMode {
    /// The relay serves the S3 API itself on loopback, over its own durable store.
    Embedded,
    /// Any S3 endpoint: AWS, MinIO, moto_server.
    S3,
}

#[derive(Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub roles: Option<Vec<String>>,
    pub public_url: Option<String>,
    pub vault_audience: Option<String>,
    pub chain_id: Option<u64>,
    pub storage: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    pub s3_force_path_style: Option<bool>,
    pub s3_create_buckets: Option<bool>,
    pub credentials_bucket: Option<String>,
    pub memory_bucket: Option<String>,
    pub broker_url: Option<String>,
    pub signer_url: Option<String>,
    pub audit_url: Option<String>,
    pub internal_token_file: Option<PathBuf>,
    pub chain: Option<String>,
    pub chain_rpc_url: Option<String>,
    pub chain_submitter_key_file: Option<PathBuf>,
    pub chain_p256_verifier: Option<String>,
    pub chain_k11_verifier: Option<String>,
    pub chain_registry: Option<String>,
    pub chain_scope: Option<String>,
    pub chain_epoch: Option<String>,
    pub chain_audit: Option<String>,
    pub chain_poll_ms: Option<u64>,
    pub audit_anchor_every_records: Option<u64>,
    pub audit_anchor_every_secs: Option<u64>,
    pub sts_endpoint: Option<String>,
    pub sts_region: Option<String>,
    pub aws_role_credentials: Option<String>,
    pub aws_role_memory: Option<String>,
    pub require_caller_credentials: Option<bool>,
    pub signin_per_ip_per_minute: Option<u32>,
    pub signin_per_address_per_minute: Option<u32>,
    pub sponsor_gas_per_device_per_hour: Option<u64>,
    pub sponsor_gas_per_operator_per_hour: Option<u64>,
    pub first_registrations_per_ip_per_hour: Option<u64>,
    pub first_registrations_per_hour: Option<u64>,
    pub direct_backend: Option<bool>,
}

/// Static S3 credentials. The secret never prints.
#[derive(Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S3Credentials({}, secret redacted)", self.access_key_id)
    }
}

#[derive(Clone, Debug)]
pub struct StorageConfig {
    pub mode: StorageMode,
    pub endpoint: Option<String>,
    pub region: String,
    pub credentials: Option<S3Credentials>,
    pub force_path_style: bool,
    pub create_buckets: bool,
    pub credentials_bucket: String,
    pub memory_bucket: String,
}

#[derive(Clone, Debug)]
pub struct RelayConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub roles: Vec<Role>,
    /// Broker issuer and SIWE domain/URI; `None` means `http://<bound address>`.
    pub public_url: Option<String>,
    pub vault_audience: String,
    pub chain_id: u64,
    pub storage: StorageConfig,
    pub broker_url: Option<String>,
    pub signer_url: Option<String>,
    pub audit_url: Option<String>,
    pub internal_token_file: Option<PathBuf>,
    pub chain: ChainConfig,
    pub cloud: CloudConfig,
    /// The vault refuses requests without the caller's own storage credentials.
    pub require_caller_credentials: bool,
    pub signin: SigninLimits,
    pub sponsor: SponsorLimits,
    /// The vault serves the direct backend's data-key routes.
    pub direct_backend: bool,
}

impl RelayConfig {
    pub fn runs(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// `BOOT_FAIL: <setting>: <reason>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootFail {
    pub setting: String,
    pub reason: String,
}

impl BootFail {
    pub fn new(setting: impl Into<String>, reason: impl Into<String>) -> BootFail {
        BootFail {
            setting: setting.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for BootFail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BOOT_FAIL: {}: {}", self.setting, self.reason)
    }
}

/// Command-line overrides (they win over the environment and the file).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub roles: Option<String>,
}

pub fn load(config_file: Option<&Path>, overrides: &Overrides) -> Result<RelayConfig, BootFail> {
    let file = match config_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                BootFail::new("config", format!("cannot read {}: {e}", path.display()))
            })?;
            toml::from_str::<FileConfig>(&text).map_err(|e| {
                BootFail::new("config", format!("{}: {}", path.display(), e.message()))
            })?
        }
        None => FileConfig::default(),
    };
    env::resolve(file, overrides, |name| std::env::var(name).ok())
}
