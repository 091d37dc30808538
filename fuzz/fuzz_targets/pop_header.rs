//! The proof-of-possession header: arbitrary headers against a fixed request, and proofs the
//! device key really signed, which must verify exactly when fresh and only for that key.
#![no_main]

use agentkeys_core::error::ErrorCode;
use agentkeys_core::identity::Address;
use agentkeys_core::pop::{sign_with_nonce, verify, POP_WINDOW_SECS};
use agentkeys_fuzz::{device_key, NOW};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    header: &'a str,
    jti: &'a str,
    method: &'a str,
    path: &'a str,
    body: &'a [u8],
    ts: u64,
    nonce: [u8; 16],
}

fuzz_target!(|input: Input<'_>| {
    let cnf = device_key().address();
    // No panic on any header; whatever verifies came from the device key (the fuzzer may
    // replay a proof it saw signed in an earlier run, which is genuine).
    let _ = verify(
        input.header,
        input.jti,
        &cnf,
        input.method,
        input.path,
        input.body,
        NOW,
    );

    let nonce = hex::encode(input.nonce);
    let header = sign_with_nonce(
        device_key(),
        input.jti,
        input.method,
        input.path,
        input.body,
        input.ts,
        &nonce,
    );
    let result = verify(
        &header,
        input.jti,
        &cnf,
        input.method,
        input.path,
        input.body,
        NOW,
    );
    if input.ts.abs_diff(NOW) > POP_WINDOW_SECS {
        assert_eq!(result, Err(ErrorCode::PopStale));
        return;
    }
    let proof = result.unwrap_or_else(|e| panic!("own proof refused: {e:?}"));
    assert_eq!(proof.ts, input.ts);
    let stranger = Address([0x99; 20]);
    assert_eq!(
        verify(
            &header,
            input.jti,
            &stranger,
            input.method,
            input.path,
            input.body,
            NOW
        ),
        Err(ErrorCode::PopInvalid)
    );
});
