//! Sign-In with Ethereum: arbitrary messages and signatures against the broker's expectation,
//! and messages the daemon builds from an arbitrary challenge, signed by the device key, whose
//! verification may only ever name that key.
#![no_main]

use agentkeys_core::siwe_msg::{build_message, verify, SiweChallenge, SiweExpectation};
use agentkeys_fuzz::{device_key, CHAIN_ID, NOW};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    message: &'a str,
    signature: &'a str,
    domain: String,
    uri: String,
    chain_id: u64,
    nonce: String,
    issued_at: String,
    expiration_time: String,
}

fuzz_target!(|input: Input<'_>| {
    let Ok(now) = time::OffsetDateTime::from_unix_timestamp(NOW as i64) else {
        return;
    };
    let expect = SiweExpectation {
        domain: "relay.example",
        chain_id: CHAIN_ID,
        now,
    };
    let _ = verify(input.message, input.signature, &expect);

    let challenge = SiweChallenge {
        domain: input.domain,
        uri: input.uri,
        chain_id: input.chain_id,
        nonce: input.nonce,
        issued_at: input.issued_at,
        expiration_time: input.expiration_time,
    };
    let Ok(message) = build_message(&challenge, &device_key().address()) else {
        return;
    };
    let signature = format!(
        "0x{}",
        hex::encode(device_key().sign_personal(message.as_bytes()))
    );
    let expect = SiweExpectation {
        domain: &challenge.domain,
        chain_id: challenge.chain_id,
        now,
    };
    if let Ok(verified) = verify(&message, &signature, &expect) {
        assert_eq!(verified.address, device_key().address());
        assert_eq!(verified.nonce, challenge.nonce);
    }
});
