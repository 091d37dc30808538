//! Opens the configured chain adapter at boot.

use super::embedded::EmbeddedChain;
use super::rpc::RpcChain;
use super::{submitter, ChainAdapter};
use crate::config::{BootFail, ChainMode, RelayConfig};
use std::sync::Arc;

pub async fn connect(config: &RelayConfig) -> Result<Arc<dyn ChainAdapter>, BootFail> {
    match &config.chain.mode {
        ChainMode::Embedded => {
            let data_dir = config.data_dir.clone();
            let chain_id = config.chain_id;
            // First boot deploys every contract; keep that off the async workers.
            let chain =
                tokio::task::spawn_blocking(move || EmbeddedChain::open(&data_dir, chain_id))
                    .await
                    .map_err(|e| BootFail::new("chain", e.to_string()))?
                    .map_err(|e| BootFail::new("chain", e))?;
            Ok(chain)
        }
        ChainMode::Rpc {
            url,
            submitter_key_file,
            contracts,
        } => {
            let key = submitter::load(submitter_key_file, false)
                .map_err(|e| BootFail::new("chain_submitter_key_file", e))?;
            let chain = RpcChain::connect(url, config.chain_id, *contracts, key, config.chain.poll)
                .await
                .map_err(|e| BootFail::new("chain_rpc_url", e))?;
            Ok(chain)
        }
    }
}

/// Refuses to boot an audit relay whose submitter may not anchor: `CredentialAudit` takes
/// roots only from authorized relays (and the operator's masters), so without this check
/// every batch would be refused on chain, one warning at a time, and the log would never be
/// anchored.
pub async fn ensure_audit_relay(
    chain: &dyn ChainAdapter,
    config: &RelayConfig,
) -> Result<(), BootFail> {
    let submitter = chain.submitter();
    let audit = chain.contracts().audit;
    let setting = match config.chain.mode {
        ChainMode::Embedded => "chain",
        ChainMode::Rpc { .. } => "chain_submitter_key_file",
    };
    match super::views::is_audit_relay(chain, submitter).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(BootFail::new(
            setting,
            format!(
                "the submitter {submitter} is not an audit relay of CredentialAudit at {audit}; \
                 its owner must call setAuditRelay({submitter}, true) before this relay runs the audit role"
            ),
        )),
        Err(e) => Err(BootFail::new(
            setting,
            format!("cannot read CredentialAudit.isAuditRelay at {audit}: {e}"),
        )),
    }
}
