//! Approval requests and answers as the relay's mailbox and the approver receive them: any
//! JSON, validated; a request re-signed by its requester must never fail on its signature;
//! the signed digest survives the JSON round trip.
#![no_main]

use std::sync::OnceLock;

use agentkeys_core::approval::{is_request_id, ApprovalAnswer, ApprovalRequest};
use agentkeys_core::error::ErrorCode;
use agentkeys_core::identity::Address;
use agentkeys_fuzz::{device_key, json_round_trip, operator, NOW};
use libfuzzer_sys::fuzz_target;

/// A genuine request the fuzzed answers answer.
fn request() -> &'static ApprovalRequest {
    static REQUEST: OnceLock<ApprovalRequest> = OnceLock::new();
    REQUEST.get_or_init(|| {
        ApprovalRequest::new_signed(
            device_key(),
            operator(),
            Address([0x88; 20]),
            "revoke_master",
            "Revoke the master device 0x1234 (laptop)",
            [0x09; 32],
            "companion.localhost",
            120,
            NOW,
        )
        .unwrap_or_else(|e| panic!("fixture request: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let Some(req) = json_round_trip::<ApprovalRequest>(rest) else {
                return;
            };
            let back: ApprovalRequest = serde_json::from_slice(
                &serde_json::to_vec(&req).unwrap_or_else(|e| panic!("serialize: {e}")),
            )
            .unwrap_or_else(|e| panic!("parse back: {e}"));
            assert_eq!(back, req);
            // Requester and approver compute the digest from what each parsed.
            assert_eq!(back.signing_digest(), req.signing_digest());
            let _ = req.validate(NOW);

            let mut signed = req;
            signed.requester = device_key().address();
            signed.signature = format!(
                "0x{}",
                hex::encode(device_key().sign_prehash(&signed.signing_digest()))
            );
            if let Err(e) = signed.validate(NOW) {
                assert_ne!(e.code, ErrorCode::ApprovalSignatureInvalid, "{e}");
            }
        }
        1 => {
            if let Some(answer) = json_round_trip::<ApprovalAnswer>(rest) {
                let _ = answer.check_for(request());
            }
        }
        _ => {
            if let Ok(id) = std::str::from_utf8(rest) {
                if is_request_id(id) {
                    assert_eq!(id.len(), 22);
                }
            }
        }
    }
});
