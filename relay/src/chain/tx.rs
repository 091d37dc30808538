//! Signed transactions from devices: decoded, sender recovered and chain id checked once,
//! before any adapter sees them.

use super::ChainError;
use alloy::consensus::transaction::SignerRecoverable;
use alloy::consensus::{Transaction, TxEnvelope};
use alloy::eips::eip2718::{Decodable2718, Encodable2718};
use alloy::primitives::{Address, Bytes, TxKind, B256};

/// Largest signed transaction accepted (registration with a WebAuthn assertion is ~1.5 KiB).
pub const MAX_RAW_TX_BYTES: usize = 32 * 1024;

#[derive(Debug, Clone)]
pub struct SignedTx {
    pub envelope: TxEnvelope,
    pub sender: Address,
}

impl SignedTx {
    /// Decodes an EIP-2718 envelope, recovers its signer and refuses another chain, a
    /// contract creation and any value transfer: devices only call contracts.
    pub fn decode(raw: &[u8], chain_id: u64) -> Result<SignedTx, ChainError> {
        if raw.len() > MAX_RAW_TX_BYTES {
            return Err(ChainError::InvalidTx("larger than allowed".into()));
        }
        let mut buf = raw;
        let envelope = TxEnvelope::decode_2718(&mut buf)
            .map_err(|e| ChainError::InvalidTx(format!("not a signed transaction: {e}")))?;
        if !buf.is_empty() {
            return Err(ChainError::InvalidTx("trailing bytes".into()));
        }
        if envelope.chain_id() != Some(chain_id) {
            return Err(ChainError::InvalidTx(format!(
                "signed for chain {:?}, this chain is {chain_id}",
                envelope.chain_id()
            )));
        }
        if !matches!(envelope.kind(), TxKind::Call(_)) {
            return Err(ChainError::InvalidTx("contract creation".into()));
        }
        if !envelope.value().is_zero() {
            return Err(ChainError::InvalidTx("transfers value".into()));
        }
        let sender = envelope
            .recover_signer()
            .map_err(|_| ChainError::InvalidTx("signature does not recover".into()))?;
        Ok(SignedTx { envelope, sender })
    }

    pub fn hash(&self) -> B256 {
        *self.envelope.tx_hash()
    }

    pub fn to(&self) -> Address {
        self.envelope.to().unwrap_or_default()
    }

    pub fn input(&self) -> Bytes {
        self.envelope.input().clone()
    }

    pub fn nonce(&self) -> u64 {
        self.envelope.nonce()
    }

    pub fn gas_limit(&self) -> u64 {
        self.envelope.gas_limit()
    }

    pub fn encoded(&self) -> Bytes {
        self.envelope.encoded_2718().into()
    }
}
