//! The chain read directly from a JSON-RPC node (`chain_rpc_url`, `--rpc-url`), so that
//! `audit verify` and `chain status` need not take the relay's word for what the chain holds.
//! The contracts are the ones pinned at `init`; a node on another chain, or one without the
//! AgentKeys contracts at those addresses, is `chain_view_mismatch`.

use std::time::Duration;

use agentkeys_contracts::bindings::{CredentialAudit, SidecarRegistry};
use agentkeys_core::chain::{AuditRootView, DeviceView};
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::Omni;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{Provider, ProviderBuilder, RootProvider};
use alloy::rpc::types::{TransactionInput, TransactionRequest};
use alloy::sol_types::SolCall;

use crate::config::normalize_http_url;
use crate::local::relay_pin::RelayPin;

const RPC_TIMEOUT: Duration = Duration::from_secs(10);

pub struct DirectChain {
    url: String,
    provider: RootProvider,
    registry: Address,
    audit: Address,
    pub chain_id: u64,
}

fn unavailable(url: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::ChainUnavailable,
        format!("the chain node at {url} cannot be read: {e}"),
    )
}

pub(crate) fn mismatch(why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::ChainViewMismatch,
        format!("the relay's account of the chain differs from the chain itself: {why}"),
    )
}

impl DirectChain {
    /// Connects to `url` (http(s), plain http only to this machine) and checks that it serves
    /// the pinned chain with the pinned registry and audit contracts deployed.
    pub async fn connect(url: &str, pin: &RelayPin) -> Result<DirectChain, ApiError> {
        let url = normalize_http_url("rpc_url", url)
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, e.to_string()))?;
        let parsed = url
            .parse()
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("rpc_url: {e}")))?;
        let client = alloy::transports::http::reqwest::Client::builder()
            .timeout(RPC_TIMEOUT)
            .connect_timeout(RPC_TIMEOUT)
            .build()
            .map_err(|e| unavailable(&url, e))?;
        let provider: RootProvider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_reqwest(client, parsed);
        let chain = DirectChain {
            registry: Address::from(pin.contracts.registry.0),
            audit: Address::from(pin.contracts.audit.0),
            chain_id: 0,
            url,
            provider,
        };
        let chain_id = chain.timed(chain.provider.get_chain_id()).await?;
        if chain_id != pin.chain_id {
            return Err(mismatch(format!(
                "the node at {} serves chain {chain_id}, the relay's is {}",
                chain.url, pin.chain_id
            )));
        }
        for (name, at) in [("registry", chain.registry), ("audit", chain.audit)] {
            let code = chain.timed(chain.provider.get_code_at(at)).await?;
            if code.is_empty() {
                return Err(mismatch(format!(
                    "the chain at {} has no {name} contract at {at}, where the relay says it is",
                    chain.url
                )));
            }
        }
        Ok(DirectChain { chain_id, ..chain })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    async fn timed<T, E: std::fmt::Display>(
        &self,
        fut: impl std::future::IntoFuture<Output = Result<T, E>>,
    ) -> Result<T, ApiError> {
        match tokio::time::timeout(RPC_TIMEOUT, fut.into_future()).await {
            Ok(r) => r.map_err(|e| unavailable(&self.url, e)),
            Err(_) => Err(unavailable(&self.url, "no answer in time")),
        }
    }

    async fn read<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, ApiError> {
        let req = TransactionRequest::default()
            .to(to)
            .input(TransactionInput::new(call.abi_encode().into()));
        let out = self.timed(self.provider.call(req)).await?;
        C::abi_decode_returns(&out)
            .map_err(|e| mismatch(format!("undecodable answer of {to}: {e}")))
    }

    pub async fn block_number(&self) -> Result<u64, ApiError> {
        self.timed(self.provider.get_block_number()).await
    }

    /// The registry's record of `device_key_hash`; `None` when none was registered.
    pub async fn device(&self, device_key_hash: [u8; 32]) -> Result<Option<DeviceView>, ApiError> {
        let hash = B256::from(device_key_hash);
        let d = self
            .read(
                self.registry,
                SidecarRegistry::getDeviceCall {
                    deviceKeyHash: hash,
                },
            )
            .await?;
        Ok(agentkeys_contracts::views::device_view(hash, &d))
    }

    /// Every device the registry lists for `operator` (revoked ones too).
    pub async fn operator_devices(&self, operator: &Omni) -> Result<Vec<DeviceView>, ApiError> {
        let hashes = self
            .read(
                self.registry,
                SidecarRegistry::getOperatorDevicesCall {
                    operatorOmni: B256::from(operator.0),
                },
            )
            .await?;
        let mut devices = Vec::with_capacity(hashes.len());
        for h in hashes {
            if let Some(d) = self.device(h.0).await? {
                devices.push(d);
            }
        }
        Ok(devices)
    }

    /// The operator's audit root at `index`, or `None` past the end.
    pub async fn audit_root(
        &self,
        operator: &Omni,
        index: u64,
    ) -> Result<Option<AuditRootView>, ApiError> {
        let op = B256::from(operator.0);
        let count = self
            .read(
                self.audit,
                CredentialAudit::rootCountCall { operatorOmni: op },
            )
            .await?;
        if U256::from(index) >= count {
            return Ok(None);
        }
        let r = self
            .read(
                self.audit,
                CredentialAudit::getRootCall {
                    operatorOmni: op,
                    index: U256::from(index),
                },
            )
            .await?;
        Ok(Some(AuditRootView {
            operator: *operator,
            index,
            root: format!("{:#x}", r.root),
            count: r.count,
            anchored_at: r.anchoredAt,
        }))
    }
}
