//! The `rpc` adapter: any EVM JSON-RPC node through alloy's HTTP provider.
//!
//! Devices hold no funds, so the relay sponsors their gas: before submitting a device's
//! transaction it tops the sender up from its own submitter account to exactly what the
//! transaction may cost (gas limit × max fee per gas). Logs come from polling `eth_getLogs`
//! for the six contract addresses, which works on every node (no filters or websockets).
//!
//! - Every request times out after [`RPC_TIMEOUT`]; a receipt is awaited up to
//!   [`RECEIPT_TIMEOUT`].
//! - A device transaction whose nonce is not the sender's next one is refused
//!   ([`ChainError::InvalidTx`]) before any funding; so is anything the node refuses.
//! - The submitter's own transactions are dry-run by `eth_estimateGas` first: one that would
//!   revert is [`ChainError::Reverted`] and spends no nonce.
//! - Reorganisations are not followed: a log is broadcast once, when first seen.

use super::deploy::{self, Deployer};
use super::{ChainAdapter, ChainError, ChainLog, Contracts, Mined, SignedTx, LOG_CHANNEL_CAPACITY};
use agentkeys_core::chain::{AdapterKind, TxParams};
use alloy::consensus::{SignableTransaction, Transaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::eips::BlockId;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, Bytes, TxKind, B256, U256};
use alloy::providers::{Provider, ProviderBuilder, RootProvider};
use alloy::rpc::types::{Filter, TransactionInput, TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::{RpcError, TransportError};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, Mutex};
use tokio::task::AbortHandle;

/// Timeout of every JSON-RPC request.
/// The most gas the relay pays for in one device transaction (the heaviest registry change,
/// a quorum of pure-Solidity passkey checks, stays well below).
pub const MAX_SPONSORED_GAS: u64 = 3_000_000;
/// A device may sign at most this multiple of the node's current fee estimate.
const MAX_FEE_MULTIPLE: u128 = 3;

pub const RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a submitted transaction may take to be mined.
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Most blocks asked of `eth_getLogs` at once (public nodes cap the range).
const MAX_LOG_RANGE: u64 = 2_000;

/// The connection to a node and the submitter that pays for everything the relay sends.
struct Node {
    url: String,
    provider: RootProvider,
    chain_id: u64,
    signer: PrivateKeySigner,
    /// The submitter's next nonce as far as this process knows (the node's pending count
    /// may lag right after a send); `None` after a failed send.
    next_nonce: Mutex<Option<u64>>,
    /// Receipt polling interval.
    poll: Duration,
}

pub struct RpcChain {
    node: Node,
    contracts: Contracts,
    logs: broadcast::Sender<ChainLog>,
    poller: AbortHandle,
}

impl Drop for RpcChain {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

impl std::fmt::Debug for RpcChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcChain")
            .field("url", &self.node.url)
            .field("chain_id", &self.node.chain_id)
            .field("contracts", &self.contracts)
            .field("submitter", &self.node.signer.address())
            .finish()
    }
}

/// The TOML names of the contract addresses (`chain deploy` prints them, `connect` names
/// them in errors).
pub fn contract_names(c: &Contracts) -> [(&'static str, Address); 6] {
    [
        ("chain_p256_verifier", c.p256_verifier),
        ("chain_k11_verifier", c.k11_verifier),
        ("chain_registry", c.registry),
        ("chain_scope", c.scope),
        ("chain_epoch", c.epoch),
        ("chain_audit", c.audit),
    ]
}

impl RpcChain {
    /// Connects to the node at `url`, checks that it serves chain `chain_id` and that every
    /// contract has code, and starts polling for logs from the current block on.
    pub async fn connect(
        url: &str,
        chain_id: u64,
        contracts: Contracts,
        submitter: PrivateKeySigner,
        poll: Duration,
    ) -> Result<Arc<RpcChain>, String> {
        let node = Node::connect(url, chain_id, submitter, poll).await?;
        for (name, address) in contract_names(&contracts) {
            let code = node
                .provider
                .get_code_at(address)
                .latest()
                .await
                .map_err(|e| format!("chain node at {url}: eth_getCode({address}): {e}"))?;
            if code.is_empty() {
                return Err(format!(
                    "{name} = \"{address}\" has no contract code on chain {chain_id} at {url}"
                ));
            }
        }
        let start = node
            .provider
            .get_block_number()
            .await
            .map_err(|e| format!("chain node at {url}: eth_blockNumber: {e}"))?;
        let (logs, _) = broadcast::channel(LOG_CHANNEL_CAPACITY);
        let poller = tokio::spawn(poll_logs(
            node.provider.clone(),
            contracts,
            logs.clone(),
            start + 1,
            poll,
        ))
        .abort_handle();
        Ok(Arc::new(RpcChain {
            node,
            contracts,
            logs,
            poller,
        }))
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.node.url
    }
}

/// Deploys the committed contracts with `submitter` (which must be funded) to the node at
/// `url`, which must serve chain `chain_id`.
pub async fn deploy(
    url: &str,
    chain_id: u64,
    submitter: &PrivateKeySigner,
) -> Result<Contracts, String> {
    let node = Node::connect(url, chain_id, submitter.clone(), Duration::from_millis(100)).await?;
    let owner = submitter.address();
    let mut deployer = NodeDeployer { node: &node };
    deploy::deploy_all(&mut deployer, owner)
        .await
        .map_err(|e| format!("deploying to {url}: {e}"))
}

struct NodeDeployer<'a> {
    node: &'a Node,
}

#[async_trait]
impl Deployer for NodeDeployer<'_> {
    async fn create(&mut self, init_code: Bytes) -> Result<Address, ChainError> {
        let mined = self
            .node
            .send_own(TxKind::Create, init_code, U256::ZERO)
            .await?;
        if !mined.status() {
            return Err(ChainError::Reverted { data: Bytes::new() });
        }
        mined.contract_address.ok_or_else(|| {
            ChainError::Unavailable("contract creation receipt without an address".into())
        })
    }

    async fn send(&mut self, to: Address, data: Bytes) -> Result<(), ChainError> {
        let receipt = self
            .node
            .send_own(TxKind::Call(to), data.clone(), U256::ZERO)
            .await?;
        if receipt.status() {
            Ok(())
        } else {
            let data = self
                .node
                .replay_revert(&receipt, self.node.signer.address(), to, data)
                .await;
            Err(ChainError::Reverted { data })
        }
    }
}

impl Node {
    async fn connect(
        url: &str,
        chain_id: u64,
        signer: PrivateKeySigner,
        poll: Duration,
    ) -> Result<Node, String> {
        let parsed = url
            .parse()
            .map_err(|e| format!("chain rpc url {url:?} is not a URL: {e}"))?;
        let client = alloy::transports::http::reqwest::Client::builder()
            .timeout(RPC_TIMEOUT)
            .connect_timeout(RPC_TIMEOUT)
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        let provider: RootProvider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_reqwest(client, parsed);
        let actual = provider
            .get_chain_id()
            .await
            .map_err(|e| format!("chain node at {url} does not answer eth_chainId: {e}"))?;
        if actual != chain_id {
            return Err(format!(
                "chain node at {url} serves chain id {actual}, configuration says {chain_id}"
            ));
        }
        Ok(Node {
            url: url.to_string(),
            provider,
            chain_id,
            signer,
            next_nonce: Mutex::new(None),
            poll: poll.clamp(Duration::from_millis(20), Duration::from_secs(2)),
        })
    }

    fn request(from: Address, to: TxKind, data: Bytes, value: U256) -> TransactionRequest {
        let mut req = TransactionRequest::default()
            .from(from)
            .value(value)
            .input(TransactionInput::new(data));
        req.to = Some(to);
        req
    }

    /// Gas estimate (a revert is [`ChainError::Reverted`]) with 20 % headroom.
    async fn gas_limit(&self, req: TransactionRequest) -> Result<u64, ChainError> {
        let estimate = self
            .provider
            .estimate_gas(req)
            .block(BlockId::latest())
            .await
            .map_err(call_error)?;
        Ok(estimate.saturating_add(estimate / 5))
    }

    /// (max fee per gas, max priority fee per gas).
    async fn fees(&self) -> Result<(u128, u128), ChainError> {
        let est = self
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(unavailable)?;
        Ok((est.max_fee_per_gas, est.max_priority_fee_per_gas))
    }

    /// Sends a transaction from the submitter and waits until it is mined.
    async fn send_own(
        &self,
        to: TxKind,
        data: Bytes,
        value: U256,
    ) -> Result<TransactionReceipt, ChainError> {
        let from = self.signer.address();
        let gas_limit = self
            .gas_limit(Node::request(from, to, data.clone(), value))
            .await?;
        let (max_fee_per_gas, max_priority_fee_per_gas) = self.fees().await?;
        let hash = {
            let mut next = self.next_nonce.lock().await;
            let pending = self
                .provider
                .get_transaction_count(from)
                .pending()
                .await
                .map_err(unavailable)?;
            let nonce = next.map_or(pending, |n| n.max(pending));
            let mut tx = TxEip1559 {
                chain_id: self.chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas,
                max_priority_fee_per_gas,
                to,
                value,
                access_list: Default::default(),
                input: data,
            };
            let sig = self
                .signer
                .sign_transaction_sync(&mut tx)
                .map_err(|e| ChainError::Unavailable(format!("signing: {e}")))?;
            let envelope = TxEnvelope::from(tx.into_signed(sig));
            match self
                .provider
                .send_raw_transaction(&envelope.encoded_2718())
                .await
            {
                Ok(pending_tx) => {
                    *next = Some(nonce + 1);
                    *pending_tx.tx_hash()
                }
                Err(e) => {
                    *next = None;
                    return Err(match e {
                        RpcError::ErrorResp(p) => ChainError::Unavailable(format!(
                            "node refused the submitter's transaction: {}",
                            p.message
                        )),
                        e => unavailable(e),
                    });
                }
            }
        };
        self.wait_receipt(hash).await
    }

    async fn wait_receipt(&self, hash: B256) -> Result<TransactionReceipt, ChainError> {
        let deadline = Instant::now() + RECEIPT_TIMEOUT;
        loop {
            match self.provider.get_transaction_receipt(hash).await {
                Ok(Some(r)) if r.block_number.is_some() => return Ok(r),
                Ok(_) => {}
                Err(e) if Instant::now() >= deadline => return Err(unavailable(e)),
                Err(e) => tracing::debug!("receipt of {hash}: {e}"),
            }
            if Instant::now() >= deadline {
                return Err(ChainError::Unavailable(format!(
                    "transaction {hash} not mined within {} s",
                    RECEIPT_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// The revert data of a failed transaction, by re-running it at its parent block; empty
    /// when that does not reproduce the revert.
    async fn replay_revert(
        &self,
        receipt: &TransactionReceipt,
        from: Address,
        to: Address,
        data: Bytes,
    ) -> Bytes {
        let Some(block) = receipt.block_number else {
            return Bytes::new();
        };
        let mut req = Node::request(from, TxKind::Call(to), data, U256::ZERO);
        req.gas = Some(receipt.gas_used.max(21_000) * 2);
        match self
            .provider
            .call(req)
            .block(BlockId::number(block.saturating_sub(1)))
            .await
        {
            Err(e) => match call_error(e) {
                ChainError::Reverted { data } => data,
                _ => Bytes::new(),
            },
            Ok(_) => Bytes::new(),
        }
    }

    fn mined(receipt: TransactionReceipt, revert_data: Bytes) -> Mined {
        Mined {
            tx_hash: receipt.transaction_hash,
            block_number: receipt.block_number.unwrap_or_default(),
            success: receipt.status(),
            gas_used: receipt.gas_used,
            revert_data,
            logs: receipt.logs().iter().map(|l| l.inner.clone()).collect(),
        }
    }
}

fn unavailable(e: TransportError) -> ChainError {
    ChainError::Unavailable(e.to_string())
}

/// A failed call or estimate: [`ChainError::Reverted`] with the revert data when the node
/// says it reverted, [`ChainError::Unavailable`] otherwise.
fn call_error(e: TransportError) -> ChainError {
    match revert_data(&e) {
        Some(data) => ChainError::Reverted { data },
        None => unavailable(e),
    }
}

/// The revert data in a JSON-RPC error: geth puts it in `error.data` with code 3, Hardhat in
/// `error.data` (or `error.data.data`) with a message mentioning the revert.
fn revert_data(e: &TransportError) -> Option<Bytes> {
    let RpcError::ErrorResp(payload) = e else {
        return None;
    };
    let data = payload
        .data
        .as_ref()
        .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
        .and_then(|v| find_hex(&v, 0));
    let says_revert = payload.code == 3 || payload.message.to_ascii_lowercase().contains("revert");
    says_revert.then(|| data.unwrap_or_default())
}

fn find_hex(v: &serde_json::Value, depth: usize) -> Option<Bytes> {
    match v {
        serde_json::Value::String(s) if s.starts_with("0x") => s.parse::<Bytes>().ok(),
        serde_json::Value::Object(map) if depth < 4 => map
            .get("data")
            .and_then(|d| find_hex(d, depth + 1))
            .or_else(|| map.get("result").and_then(|d| find_hex(d, depth + 1))),
        _ => None,
    }
}

/// Broadcasts the logs of the contracts from block `next` on, every `poll`.
async fn poll_logs(
    provider: RootProvider,
    contracts: Contracts,
    tx: broadcast::Sender<ChainLog>,
    mut next: u64,
    poll: Duration,
) {
    let addresses = contracts.all().to_vec();
    let mut ticker = tokio::time::interval(poll.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let latest = match provider.get_block_number().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("chain log poll: eth_blockNumber: {e}");
                continue;
            }
        };
        while next <= latest {
            let to = latest.min(next + MAX_LOG_RANGE - 1);
            let filter = Filter::new()
                .address(addresses.clone())
                .from_block(next)
                .to_block(to);
            let logs = match provider.get_logs(&filter).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!("chain log poll: eth_getLogs {next}..={to}: {e}");
                    break;
                }
            };
            for log in logs {
                if log.removed {
                    continue;
                }
                let chain_log = ChainLog {
                    block_number: log.block_number.unwrap_or(to),
                    tx_hash: log.transaction_hash.unwrap_or_default(),
                    log: log.inner,
                };
                // No subscriber is fine: nobody is listening yet.
                let _ = tx.send(chain_log);
            }
            next = to + 1;
        }
    }
}

#[async_trait]
impl ChainAdapter for RpcChain {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Rpc
    }

    fn chain_id(&self) -> u64 {
        self.node.chain_id
    }

    fn contracts(&self) -> &Contracts {
        &self.contracts
    }

    fn submitter(&self) -> Address {
        self.node.signer.address()
    }

    async fn block_number(&self) -> Result<u64, ChainError> {
        self.node
            .provider
            .get_block_number()
            .await
            .map_err(unavailable)
    }

    async fn call(&self, to: Address, data: Bytes) -> Result<Bytes, ChainError> {
        let req = TransactionRequest::default()
            .to(to)
            .input(TransactionInput::new(data));
        self.node
            .provider
            .call(req)
            .block(BlockId::latest())
            .await
            .map_err(call_error)
    }

    async fn tx_params(
        &self,
        from: Address,
        to: Address,
        data: Bytes,
    ) -> Result<TxParams, ChainError> {
        let req = Node::request(from, TxKind::Call(to), data, U256::ZERO);
        // The dry run: an explicit call first, since some nodes drop the revert data from a
        // failed estimate.
        self.node
            .provider
            .call(req.clone())
            .block(BlockId::latest())
            .await
            .map_err(call_error)?;
        let gas_limit = self.node.gas_limit(req).await?;
        let nonce = self
            .node
            .provider
            .get_transaction_count(from)
            .pending()
            .await
            .map_err(unavailable)?;
        let (max_fee, priority_fee) = self.node.fees().await?;
        Ok(TxParams {
            chain_id: self.node.chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: max_fee.to_string(),
            max_priority_fee_per_gas: priority_fee.to_string(),
        })
    }

    async fn submit_signed(&self, tx: SignedTx) -> Result<Mined, ChainError> {
        if tx.envelope.chain_id() != Some(self.node.chain_id) {
            return Err(ChainError::InvalidTx(format!(
                "signed for chain {:?}, this chain is {}",
                tx.envelope.chain_id(),
                self.node.chain_id
            )));
        }
        let sender = tx.sender;
        let provider = &self.node.provider;
        let next = provider
            .get_transaction_count(sender)
            .pending()
            .await
            .map_err(unavailable)?;
        if tx.nonce() < next {
            return Err(ChainError::InvalidTx(format!(
                "nonce {} already used (the account's next nonce is {next})",
                tx.nonce()
            )));
        }
        if tx.nonce() > next {
            return Err(ChainError::InvalidTx(format!(
                "nonce {} is ahead of the account's next nonce {next}",
                tx.nonce()
            )));
        }
        // The relay pays for device transactions, so it pays only for sane ones: a bounded gas
        // limit and fees near what the node asks now. Otherwise a device could sign an
        // absurd fee and drain the submitter through its top-up.
        if tx.gas_limit() > MAX_SPONSORED_GAS {
            return Err(ChainError::InvalidTx(format!(
                "gas limit {} is above the {MAX_SPONSORED_GAS} the relay sponsors",
                tx.gas_limit()
            )));
        }
        // No more gas than the relay itself would have asked for this call now (the estimate
        // with its 20 % headroom): the unused part of a top-up stays on the device's key, so a
        // padded limit would move the relay's funds there. A call that now reverts is refused
        // here too, before anything is paid.
        let allowed = self
            .node
            .gas_limit(Node::request(
                sender,
                TxKind::Call(tx.to()),
                tx.input(),
                U256::ZERO,
            ))
            .await?;
        if tx.gas_limit() > allowed {
            return Err(ChainError::InvalidTx(format!(
                "gas limit {} is above the {allowed} the relay sponsors for this call (its estimate with 20 % headroom)",
                tx.gas_limit()
            )));
        }
        let fees = provider
            .estimate_eip1559_fees()
            .await
            .map_err(unavailable)?;
        let fee_cap = fees.max_fee_per_gas.saturating_mul(MAX_FEE_MULTIPLE).max(1);
        if tx.envelope.max_fee_per_gas() > fee_cap {
            return Err(ChainError::InvalidTx(format!(
                "max fee per gas {} is above the {fee_cap} the relay sponsors now",
                tx.envelope.max_fee_per_gas()
            )));
        }
        // Sponsor the gas: top the sender up to the most this transaction can cost.
        let cost = U256::from(tx.gas_limit()) * U256::from(tx.envelope.max_fee_per_gas());
        let balance = provider
            .get_balance(sender)
            .latest()
            .await
            .map_err(unavailable)?;
        if balance < cost {
            let funding = self
                .node
                .send_own(TxKind::Call(sender), Bytes::new(), cost - balance)
                .await?;
            if !funding.status() {
                return Err(ChainError::Unavailable(format!(
                    "funding {sender} for gas failed in {}",
                    funding.transaction_hash
                )));
            }
        }
        let hash = match provider.send_raw_transaction(&tx.encoded()).await {
            Ok(p) => *p.tx_hash(),
            Err(RpcError::ErrorResp(p)) => {
                return Err(ChainError::InvalidTx(format!(
                    "node refused the transaction: {}",
                    p.message
                )))
            }
            Err(e) => return Err(unavailable(e)),
        };
        let receipt = self.node.wait_receipt(hash).await?;
        let revert_data = if receipt.status() {
            Bytes::new()
        } else {
            self.node
                .replay_revert(&receipt, sender, tx.to(), tx.input())
                .await
        };
        Ok(Node::mined(receipt, revert_data))
    }

    async fn submit_own(&self, to: Address, data: Bytes) -> Result<Mined, ChainError> {
        let receipt = self
            .node
            .send_own(TxKind::Call(to), data.clone(), U256::ZERO)
            .await?;
        let revert_data = if receipt.status() {
            Bytes::new()
        } else {
            self.node
                .replay_revert(&receipt, self.node.signer.address(), to, data)
                .await
        };
        Ok(Node::mined(receipt, revert_data))
    }

    fn subscribe(&self) -> broadcast::Receiver<ChainLog> {
        self.logs.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(json: &str) -> TransportError {
        RpcError::ErrorResp(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn revert_data_from_geth_and_hardhat_errors() {
        let geth = payload(r#"{"code":3,"message":"execution reverted","data":"0x12345678"}"#);
        assert_eq!(
            revert_data(&geth),
            Some(Bytes::from(vec![0x12, 0x34, 0x56, 0x78]))
        );
        let hardhat = payload(
            r#"{"code":-32603,"message":"Error: VM Exception while processing transaction: reverted with custom error 'X()'","data":{"message":"m","data":"0xabcd"}}"#,
        );
        assert_eq!(revert_data(&hardhat), Some(Bytes::from(vec![0xab, 0xcd])));
        let bare = payload(r#"{"code":-32000,"message":"execution reverted"}"#);
        assert_eq!(revert_data(&bare), Some(Bytes::new()));
        let other = payload(r#"{"code":-32000,"message":"nonce too low","data":"0x00"}"#);
        assert_eq!(revert_data(&other), None);
    }
}
