//! Chain settings: which adapter, and for `rpc` the node, the submitter key and the contract
//! addresses (as `agentkeys-relay chain deploy` prints them); audit anchoring cadence.

use super::{BootFail, FileConfig};
use crate::chain::Contracts;
use alloy::primitives::Address;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainMode {
    /// revm in this process; state under the data directory.
    Embedded,
    Rpc {
        url: String,
        submitter_key_file: PathBuf,
        contracts: Contracts,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainConfig {
    pub mode: ChainMode,
    /// How often the rpc adapter asks the node for new logs.
    pub poll: Duration,
    /// Records per anchored batch at most, and the longest a record waits to be anchored.
    pub anchor_every_records: u64,
    pub anchor_every_secs: u64,
}

pub const ENV_VARS: &[(&str, &str)] = &[
    ("AGENTKEYS_CHAIN", "embedded (default) or rpc"),
    ("AGENTKEYS_CHAIN_RPC_URL", "JSON-RPC URL of the node (rpc)"),
    (
        "AGENTKEYS_CHAIN_SUBMITTER_KEY_FILE",
        "funded secp256k1 key of the relay, 0600 (rpc)",
    ),
    (
        "AGENTKEYS_CHAIN_P256_VERIFIER, _K11_VERIFIER, _REGISTRY, _SCOPE, _EPOCH, _AUDIT",
        "contract addresses (rpc; printed by `agentkeys-relay chain deploy`)",
    ),
    (
        "AGENTKEYS_CHAIN_POLL_MS",
        "rpc log polling interval (default 250)",
    ),
    (
        "AGENTKEYS_AUDIT_ANCHOR_EVERY_RECORDS",
        "anchor a batch once it has this many records (default 64)",
    ),
    (
        "AGENTKEYS_AUDIT_ANCHOR_EVERY_SECS",
        "anchor pending records at least this often (default 30)",
    ),
];

fn number(setting: &str, v: &str, min: u64, max: u64) -> Result<u64, BootFail> {
    match v.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(BootFail::new(
            setting,
            format!("'{v}' is not a number from {min} to {max}"),
        )),
    }
}

fn address(setting: &str, v: &str) -> Result<Address, BootFail> {
    v.parse::<Address>()
        .map_err(|_| BootFail::new(setting, format!("'{v}' is not an address")))
}

pub(super) fn resolve(
    file: &FileConfig,
    env: &impl Fn(&str) -> Option<String>,
    split: bool,
) -> Result<ChainConfig, BootFail> {
    let pick = |var: &str, f: &Option<String>| env(var).or_else(|| f.clone());
    let mode = match pick("AGENTKEYS_CHAIN", &file.chain).as_deref() {
        None | Some("embedded") => {
            if split {
                return Err(BootFail::new(
                    "chain",
                    "the embedded chain lives inside one process; roles running apart must share a node (chain = rpc)",
                ));
            }
            ChainMode::Embedded
        }
        Some("rpc") => {
            let url = pick("AGENTKEYS_CHAIN_RPC_URL", &file.chain_rpc_url)
                .ok_or_else(|| BootFail::new("chain_rpc_url", "required when chain = rpc"))?;
            let url = super::env::check_url("chain_rpc_url", &url)?;
            let submitter_key_file = env("AGENTKEYS_CHAIN_SUBMITTER_KEY_FILE")
                .map(PathBuf::from)
                .or_else(|| file.chain_submitter_key_file.clone())
                .ok_or_else(|| {
                    BootFail::new("chain_submitter_key_file", "required when chain = rpc")
                })?;
            let need = |name: &str, var: &str, f: &Option<String>| -> Result<Address, BootFail> {
                let v =
                    pick(var, f).ok_or_else(|| BootFail::new(name, "required when chain = rpc"))?;
                address(name, &v)
            };
            ChainMode::Rpc {
                url,
                submitter_key_file,
                contracts: Contracts {
                    p256_verifier: need(
                        "chain_p256_verifier",
                        "AGENTKEYS_CHAIN_P256_VERIFIER",
                        &file.chain_p256_verifier,
                    )?,
                    k11_verifier: need(
                        "chain_k11_verifier",
                        "AGENTKEYS_CHAIN_K11_VERIFIER",
                        &file.chain_k11_verifier,
                    )?,
                    registry: need(
                        "chain_registry",
                        "AGENTKEYS_CHAIN_REGISTRY",
                        &file.chain_registry,
                    )?,
                    scope: need("chain_scope", "AGENTKEYS_CHAIN_SCOPE", &file.chain_scope)?,
                    epoch: need("chain_epoch", "AGENTKEYS_CHAIN_EPOCH", &file.chain_epoch)?,
                    audit: need("chain_audit", "AGENTKEYS_CHAIN_AUDIT", &file.chain_audit)?,
                },
            }
        }
        Some(other) => {
            return Err(BootFail::new(
                "chain",
                format!("'{other}' is not embedded or rpc"),
            ))
        }
    };
    let poll_ms = match env("AGENTKEYS_CHAIN_POLL_MS") {
        Some(v) => number("chain_poll_ms", &v, 10, 60_000)?,
        None => file.chain_poll_ms.unwrap_or(250),
    };
    let anchor_every_records = match env("AGENTKEYS_AUDIT_ANCHOR_EVERY_RECORDS") {
        Some(v) => number("audit_anchor_every_records", &v, 1, 100_000)?,
        None => file.audit_anchor_every_records.unwrap_or(64),
    };
    let anchor_every_secs = match env("AGENTKEYS_AUDIT_ANCHOR_EVERY_SECS") {
        Some(v) => number("audit_anchor_every_secs", &v, 1, 86_400)?,
        None => file.audit_anchor_every_secs.unwrap_or(30),
    };
    Ok(ChainConfig {
        mode,
        poll: Duration::from_millis(poll_ms),
        anchor_every_records,
        anchor_every_secs,
    })
}
