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
