//! The browser's answer on a ceremony page (`navigator.credentials.get()` as the page posts it):
//! the credential JSON, then its three byte strings, checked against a fixed expectation as
//! the daemon checks them before anything reaches the chain.
#![no_main]

use agentkeys_core::browser_assertion::{chain_assertion, from_credential_json, Expected};
use agentkeys_core::passkey::RP_ID_COMPANION;
use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

const CREDENTIAL_ID: &[u8] = b"fuzz-credential";

fuzz_target!(|data: &[u8]| {
    let public_key = agentkeys_fuzz::passkey_public();
    let expected = Expected {
        challenge: &[0x09; 32],
        rp_id: RP_ID_COMPANION,
        origin: "http://companion.localhost:7000",
        public_key: &public_key,
    };
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        if let Ok(json) = serde_json::from_slice(body) {
            let _ = from_credential_json(json, CREDENTIAL_ID, &expected);
        }
    } else {
        let mut u = Unstructured::new(body);
        if let Ok((authenticator_data, client_data_json, der)) =
            <(Vec<u8>, Vec<u8>, Vec<u8>)>::arbitrary(&mut u)
        {
            let _ = chain_assertion(authenticator_data, client_data_json, &der, &expected);
        }
    }
});
