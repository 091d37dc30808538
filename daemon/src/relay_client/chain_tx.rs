//! Transactions the device signs with K10 and the relay submits: the relay fills in nonce,
//! gas and fees after a dry run, the daemon builds and signs the EIP-1559 transaction for the
//! call it chose, and the relay returns the mined receipt.

use agentkeys_core::chain::{
    ChainStatus, DeviceView, SubmitTxRequest, TxParams, TxParamsRequest, TxReceiptView,
};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::Address;
use agentkeys_core::routes;
use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{Signature, TxKind, U256};

use super::RelayClient;

fn protocol(what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::RelayProtocol,
        format!("the relay sent unusable transaction parameters: {what}"),
    )
}

/// Builds and signs the transaction calling `to` with `input`; the raw envelope.
pub fn sign_call(
    key: &DeviceKey,
    params: &TxParams,
    to: &Address,
    input: Vec<u8>,
) -> Result<Vec<u8>, ApiError> {
    let fee = |v: &str, what: &str| v.parse::<u128>().map_err(|_| protocol(what));
    let tx = TxEip1559 {
        chain_id: params.chain_id,
        nonce: params.nonce,
        gas_limit: params.gas_limit,
        max_fee_per_gas: fee(&params.max_fee_per_gas, "max_fee_per_gas")?,
        max_priority_fee_per_gas: fee(
            &params.max_priority_fee_per_gas,
            "max_priority_fee_per_gas",
        )?,
        to: TxKind::Call(alloy::primitives::Address::from(to.0)),
        value: U256::ZERO,
        access_list: Default::default(),
        input: input.into(),
    };
    let sig = key.sign_prehash(&tx.signature_hash().0);
    let r = U256::from_be_slice(&sig[..32]);
    let s = U256::from_be_slice(&sig[32..64]);
    // sign_prehash reports v as 27/28.
    let signature = Signature::new(r, s, sig[64] == 28);
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    Ok(envelope.encoded_2718())
}

impl RelayClient {
    /// The relay's chain status; refused when it names another chain than the pinned one.
    pub async fn chain_status(&self) -> Result<ChainStatus, ApiError> {
        let status: ChainStatus = self.get_public(routes::CHAIN_STATUS).await?;
        self.pinned()
            .await?
            .check_chain(status.chain_id, "chain status")?;
        Ok(status)
    }

    /// The device's on-chain entry, `None` when it was never registered.
    pub async fn chain_device(&self, device: &Address) -> Result<Option<DeviceView>, ApiError> {
        let path = format!(
            "/v1/chain/device/0x{}",
            hex::encode(device.device_key_hash())
        );
        match self.get_public::<DeviceView>(&path).await {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.code == ErrorCode::DeviceNotRegistered => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Calls `to` with `input` in a transaction signed by `key`; refused with
    /// `chain_reverted` (and the contract's reason) when it reverts.
    pub async fn send_call(
        &self,
        key: &DeviceKey,
        to: &Address,
        input: Vec<u8>,
    ) -> Result<TxReceiptView, ApiError> {
        let params: TxParams = self
            .post_session(
                key,
                routes::CHAIN_TX_PARAMS,
                &TxParamsRequest {
                    to: *to,
                    data: format!("0x{}", hex::encode(&input)),
                },
            )
            .await?;
        // Signed for another chain, the transaction could be replayed there.
        self.pinned()
            .await?
            .check_chain(params.chain_id, "transaction parameters")?;
        let raw = sign_call(key, &params, to, input)?;
        let receipt: TxReceiptView = self
            .post_session(
                key,
                routes::CHAIN_TX,
                &SubmitTxRequest {
                    raw: format!("0x{}", hex::encode(raw)),
                },
            )
            .await?;
        if !receipt.success {
            return Err(ApiError::new(
                ErrorCode::ChainReverted,
                format!(
                    "the chain refused the transaction {}: {}",
                    receipt.tx_hash,
                    receipt.revert.as_deref().unwrap_or("no reason given")
                ),
            ));
        }
        Ok(receipt)
    }
}
