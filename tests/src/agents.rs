//! Agent devices on chain, as the end-to-end tests need them: registered and revoked by a
//! master through its own signed transactions, signed in as themselves, and a vault request
//! repeated until the chain's revocation reaches it.

use crate::relay_client::{code, Pop, RelayClient};
use agentkeys_contracts::bindings::SidecarRegistry;
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::identity::Omni;
use agentkeys_core::names::{DataClass, Op, LIST_ALL};
use agentkeys_core::wire::CapRequest;
use alloy::primitives::B256;
use alloy::sol_types::SolCall;
use std::time::{Duration, Instant};

/// An agent device registered by `master` under `label`, signed in at `master`'s URL; its
/// actor omni.
pub async fn register_agent(master: &RelayClient, label: &str) -> (RelayClient, Omni) {
    let registry = master.chain_status().await.contracts.registry;
    let key = DeviceKey::generate();
    let actor = Omni::agent(&master.operator(), label, 1).expect("agent label");
    let call = SidecarRegistry::registerAgentDeviceCall {
        agentAddress: key.address().0.into(),
        actorOmni: B256::from(actor.0),
    };
    let (s, v) = master.send_call(&registry, call.abi_encode()).await;
    assert_eq!((s, v["success"].as_bool()), (200, Some(true)), "{v}");
    let mut agent = RelayClient {
        key,
        ..RelayClient::new(&master.url)
    };
    agent.sign_in_only().await;
    (agent, actor)
}

/// `master` revokes the agent device `agent`.
pub async fn revoke_agent(master: &RelayClient, agent: &RelayClient) {
    let registry = master.chain_status().await.contracts.registry;
    let call = SidecarRegistry::revokeAgentDeviceCall {
        deviceKeyHash: B256::from(agent.key.address().device_key_hash()),
    };
    let (s, v) = master.send_call(&registry, call.abi_encode()).await;
    assert_eq!((s, v["success"].as_bool()), (200, Some(true)), "{v}");
}

/// Mints a list capability for `actor` (its own prefix; no scope needed) at `agent.url`.
pub async fn list_cap(agent: &RelayClient, operator: Omni, actor: Omni) -> String {
    let req = CapRequest {
        operator,
        actor,
        service: LIST_ALL.into(),
        ttl_secs: None,
    };
    let (s, v) = agent
        .cap_request(
            DataClass::Credentials,
            Op::List,
            &req,
            agent.session.as_deref(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v["cap"].as_str().expect("cap").to_string()
}

/// One credentials list request with `cap` at `agent.url`.
pub async fn list_with(agent: &RelayClient, cap: &str) -> (u16, serde_json::Value) {
    agent
        .vault(
            DataClass::Credentials,
            Op::List,
            Some(cap),
            b"{}".to_vec(),
            Pop::Valid,
        )
        .await
}

/// Repeats the list request until it is refused with `device_revoked`; panics if it is still
/// served `limit` after the call.
pub async fn assert_revoked_within(agent: &RelayClient, cap: &str, limit: Duration) {
    let since = Instant::now();
    loop {
        let (s, v) = list_with(agent, cap).await;
        if (s, code(&v).as_str()) == (403, "device_revoked") {
            return;
        }
        assert!(
            since.elapsed() < limit,
            "still served {} ms after the revocation was mined: {s} {v}",
            since.elapsed().as_millis()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
