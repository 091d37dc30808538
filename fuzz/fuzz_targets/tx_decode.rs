//! Raw signed transactions as devices submit them to the relay: decoded, sender recovered and
//! refused when not a plain call on this chain. Odd modes build a transaction from the input
//! and sign it with the device key first, so the fuzzer reaches everything behind signature
//! recovery.
//!
//! The relay's own source file (`chain/tx.rs`) is compiled in with the one error type it
//! uses, so the relay crate (and its sanitizer build) is not needed.
#![no_main]

/// The one error `tx.rs` returns, as `super::ChainError`.
#[derive(Debug)]
#[allow(dead_code)]
pub enum ChainError {
    InvalidTx(String),
}

#[path = "../../relay/src/chain/tx.rs"]
#[allow(dead_code)]
mod tx;

use agentkeys_fuzz::{device_key, CHAIN_ID};
use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{Address, Bytes, Signature, TxKind, U256};
use libfuzzer_sys::fuzz_target;
use tx::{SignedTx, MAX_RAW_TX_BYTES};

fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(w)
}

/// `head` (41 bytes: nonce, gas limit, fees, value, to, flags) and the call data, signed.
fn signed(data: &[u8]) -> Option<Vec<u8>> {
    let (head, input) = data.split_first_chunk::<41>()?;
    let flags = head[40];
    let tx = TxEip1559 {
        // Mostly this chain, sometimes another.
        chain_id: if flags & 1 == 0 {
            CHAIN_ID
        } else {
            word(&head[..8])
        },
        nonce: word(&head[..8]),
        gas_limit: word(&head[8..16]),
        max_fee_per_gas: u128::from(head[16]),
        max_priority_fee_per_gas: u128::from(head[17]),
        to: if flags & 2 == 0 {
            TxKind::Call(Address::from_slice(&head[20..40]))
        } else {
            TxKind::Create
        },
        value: U256::from(head[18] & flags & 4),
        access_list: Default::default(),
        input: Bytes::copy_from_slice(input),
    };
    let sig = device_key().sign_prehash(&tx.signature_hash().0);
    let signature = Signature::new(
        U256::from_be_slice(&sig[..32]),
        U256::from_be_slice(&sig[32..64]),
        sig[64] == 28,
    );
    Some(TxEnvelope::from(tx.into_signed(signature)).encoded_2718())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let ours = mode % 2 == 1;
    let raw = if ours {
        let Some(raw) = signed(rest) else {
            return;
        };
        raw
    } else {
        rest.to_vec()
    };
    let Ok(tx) = SignedTx::decode(&raw, CHAIN_ID) else {
        return;
    };
    assert!(raw.len() <= MAX_RAW_TX_BYTES);
    if ours {
        assert_eq!(tx.sender.0 .0, device_key().address().0);
    }
    // What the relay stores and forwards decodes to the same transaction and sender.
    let again = SignedTx::decode(&tx.encoded(), CHAIN_ID)
        .unwrap_or_else(|e| panic!("re-encoded transaction refused: {e:?}"));
    assert_eq!(again.hash(), tx.hash());
    assert_eq!(again.sender, tx.sender);
    assert_eq!(tx.encoded().as_ref(), raw.as_slice());
});
