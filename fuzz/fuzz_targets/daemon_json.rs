//! The daemon socket's request bodies, every type a route takes: parsed as the socket parses
//! them (`serde_json::from_slice`), and re-serialized to a stable form.
#![no_main]

use agentkeys_core::chain::AuditVerifyRequest;
use agentkeys_core::cloud::AwsCredsRequest;
use agentkeys_core::daemon_api::{
    AgentNameRequest, AgentRevokeRequest, AgentTokenRevoke,
    DeviceAddRequest, InitRequest, RevokeDeviceRequest, ScopeSetRequest, ThresholdRequest,
};
use agentkeys_core::wire::{ListRequest, NameRequest, PutRequest};
use agentkeys_fuzz::json_round_trip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 13 {
        0 => {
            if let Some(put) = json_round_trip::<PutRequest>(body) {
                let _ = put.value.decode();
            }
        }
        1 => drop(json_round_trip::<NameRequest>(body)),
        2 => drop(json_round_trip::<ListRequest>(body)),
        3 => drop(json_round_trip::<InitRequest>(body)),
        4 => drop(json_round_trip::<AgentNameRequest>(body)),
        5 => drop(json_round_trip::<AgentTokenRevoke>(body)),
        6 => drop(json_round_trip::<ScopeSetRequest>(body)),
        7 => drop(json_round_trip::<DeviceAddRequest>(body)),
        8 => drop(json_round_trip::<ThresholdRequest>(body)),
        9 => drop(json_round_trip::<RevokeDeviceRequest>(body)),
        10 => drop(json_round_trip::<AuditVerifyRequest>(body)),
        11 => drop(json_round_trip::<AgentRevokeRequest>(body)),
        _ => drop(json_round_trip::<AwsCredsRequest>(body)),
    }
});
