//! Capabilities checked against the chain, end to end on the real relay binary with its
//! embedded chain: unregistered, revoked and out-of-scope devices, agents acting only as
//! themselves, the key epoch, the transaction endpoint's refusals, and the event stream. Every
//! refusal asserts its exact status and code.

use agentkeys_contracts::bindings::{K3EpochCounter, SidecarRegistry};
use agentkeys_core::chain::TxReceiptView;
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::routes;
use agentkeys_core::wire::CapRequest;
use agentkeys_daemon::relay_client::chain_tx::sign_call;
use agentkeys_tests::agents;
use agentkeys_tests::relay::RelayProc;
use agentkeys_tests::relay_client::{code, Pop, RelayClient};
use alloy::sol_types::SolCall;
use std::time::{Duration, Instant};

fn client_with(url: &str, key: DeviceKey) -> RelayClient {
    RelayClient {
        key,
        ..RelayClient::new(url)
    }
}

async fn cap_for(c: &RelayClient, op: Op, actor: Omni, service: &str) -> (u16, serde_json::Value) {
    let req = CapRequest {
        operator: c.operator(),
        actor,
        service: service.into(),
        ttl_secs: None,
    };
    c.cap_request(DataClass::Credentials, op, &req, c.session.as_deref())
        .await
}

fn receipt(status: u16, v: serde_json::Value) -> TxReceiptView {
    assert_eq!(status, 200, "{v}");
    let r: TxReceiptView = serde_json::from_value(v).unwrap();
    assert!(r.success, "{r:?}");
    r
}

/// The relay's own chain key (governance of the key epoch on the embedded chain).
fn submitter_key(relay: &RelayProc) -> DeviceKey {
    let text = std::fs::read_to_string(relay.data_dir.join("chain/submitter.key")).unwrap();
    let hex_key = text.split_whitespace().last().unwrap();
    let mut raw = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut raw).unwrap();
    DeviceKey::from_bytes(&raw).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn capabilities_follow_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(dir.path(), &[]);

    // Signed in but never registered: no capability.
    let mut stranger = RelayClient::new(&relay.url);
    stranger.sign_in_only().await;
    let (s, v) = cap_for(&stranger, Op::Fetch, stranger.operator(), "openrouter").await;
    assert_eq!(
        (s, code(&v).as_str()),
        (403, "device_not_registered"),
        "{v}"
    );

    // A registered master works as before.
    let mut master = RelayClient::new(&relay.url);
    master.sign_in().await;
    let d = master.registered_device().await.unwrap();
    assert_eq!((d.roles, d.revoked, d.has_passkey), (1, false, false));
    let (s, v) = master
        .store(DataClass::Credentials, "openrouter", b"sk-1")
        .await;
    assert_eq!(s, 200, "{v}");

    // The master registers an agent device, which signs in as itself: operator and actor
    // come from the chain.
    let (mut agent, agent_actor) = agents::register_agent(&master, "coder").await;
    let session = agent.sign_in_only().await;
    assert_eq!(session.operator, master.operator());
    assert_eq!(session.actor, agent_actor);
    // Its scope is empty, so no service; acting as the operator is refused too.
    let (s, v) = {
        let req = CapRequest {
            operator: master.operator(),
            actor: agent_actor,
            service: "openrouter".into(),
            ttl_secs: None,
        };
        agent
            .cap_request(
                DataClass::Credentials,
                Op::Fetch,
                &req,
                agent.session.as_deref(),
            )
            .await
    };
    assert_eq!((s, code(&v).as_str()), (403, "service_not_in_scope"), "{v}");
    let req = CapRequest {
        operator: master.operator(),
        actor: master.operator(),
        service: "openrouter".into(),
        ttl_secs: None,
    };
    let (s, v) = agent
        .cap_request(
            DataClass::Credentials,
            Op::Fetch,
            &req,
            agent.session.as_deref(),
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (403, "actor_not_permitted"), "{v}");
    // Listing its own (empty) prefix needs no scope.
    let list_cap = agents::list_cap(&agent, master.operator(), agent_actor).await;
    let (s, v) = agents::list_with(&agent, &list_cap).await;
    assert_eq!(s, 200, "{v}");

    // The audit trail is the operator's, not the agent's.
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/audit/log", relay.url))
        .bearer_auth(agent.session.clone().unwrap())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        (status, code(&v).as_str()),
        (403, "actor_not_permitted"),
        "{v}"
    );
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/audit/log", relay.url))
        .bearer_auth(master.session.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    // Revocation: the agent's capability, minted before, is refused within a second of the
    // revocation block, and the agent cannot sign in again.
    agents::revoke_agent(&master, &agent).await;
    agents::assert_revoked_within(&agent, &list_cap, Duration::from_secs(1)).await;
    let c = agent.challenge().await;
    let msg = agentkeys_core::siwe_msg::build_message(&c, &agent.key.address()).unwrap();
    let sig = format!("0x{}", hex::encode(agent.key.sign_personal(msg.as_bytes())));
    let (s, v) = agent.verify(&msg, &sig).await;
    assert_eq!((s, code(&v).as_str()), (403, "device_revoked"), "{v}");

    // The key epoch moves on chain: a capability of the old epoch is refused by the vault, and
    // the broker will not mint while the signer holds no key for the new epoch.
    let old_cap = master
        .cap(DataClass::Credentials, Op::Fetch, "openrouter")
        .await;
    let epoch_contract = master.chain_status().await.contracts.epoch;
    let mut governance = client_with(&relay.url, submitter_key(&relay));
    governance.sign_in_only().await;
    let (s, v) = governance
        .send_call(
            &epoch_contract,
            K3EpochCounter::advanceEpochCall { newEpoch: 2 }.abi_encode(),
        )
        .await;
    receipt(s, v);
    assert_eq!(master.chain_status().await.epoch, 2);
    let body = serde_json::to_vec(&agentkeys_core::wire::NameRequest {
        name: "openrouter".into(),
    })
    .unwrap();
    let (s, v) = master
        .vault(
            DataClass::Credentials,
            Op::Fetch,
            Some(&old_cap),
            body,
            Pop::Valid,
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (403, "cap_epoch_mismatch"), "{v}");
    let (s, v) = cap_for(&master, Op::Fetch, master.operator(), "openrouter").await;
    assert_eq!((s, code(&v).as_str()), (503, "signer_unavailable"), "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn transaction_endpoint_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(dir.path(), &[]);
    let mut master = RelayClient::new(&relay.url);
    master.sign_in().await;
    let status = master.chain_status().await;
    let registry = status.contracts.registry;
    let register = SidecarRegistry::registerFirstMasterDeviceWithoutPasskeyCall {}.abi_encode();

    // Without a session.
    let (s, v) = master
        .post_raw(
            routes::CHAIN_TX_PARAMS,
            &[],
            br#"{"to":"0x0000000000000000000000000000000000000001","data":"0x"}"#.to_vec(),
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (401, "session_missing"), "{v}");

    // A call that would revert is refused before anything is signed, with the reason.
    let (s, v) = master.send_call(&registry, register.clone()).await;
    assert_eq!((s, code(&v).as_str()), (409, "chain_reverted"), "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("OperatorAlreadyRegistered"),
        "{v}"
    );

    // Not one of our contracts.
    let (s, v) = master
        .send_call(&Address([0x42; 20]), register.clone())
        .await;
    assert_eq!((s, code(&v).as_str()), (400, "tx_invalid"), "{v}");

    // Signed by another key than the session's device; then a replay; then garbage.
    let auth = [(
        "authorization",
        format!("Bearer {}", master.session.clone().unwrap()),
    )];
    let mut newcomer = RelayClient::new(&relay.url);
    newcomer.sign_in_only().await;
    let params: agentkeys_core::chain::TxParams = {
        let body = serde_json::to_vec(&agentkeys_core::chain::TxParamsRequest {
            to: registry,
            data: format!("0x{}", hex::encode(&register)),
        })
        .unwrap();
        let nauth = [(
            "authorization",
            format!("Bearer {}", newcomer.session.clone().unwrap()),
        )];
        let (s, v) = newcomer
            .post_raw(routes::CHAIN_TX_PARAMS, &nauth, body)
            .await;
        assert_eq!(s, 200, "{v}");
        serde_json::from_value(v).unwrap()
    };
    let raw = sign_call(&newcomer.key, &params, &registry, register.clone()).unwrap();
    let submit = |raw: &[u8]| {
        serde_json::to_vec(&agentkeys_core::chain::SubmitTxRequest {
            raw: format!("0x{}", hex::encode(raw)),
        })
        .unwrap()
    };
    let (s, v) = master.post_raw(routes::CHAIN_TX, &auth, submit(&raw)).await;
    assert_eq!((s, code(&v).as_str()), (400, "tx_invalid"), "{v}");
    let nauth = [(
        "authorization",
        format!("Bearer {}", newcomer.session.clone().unwrap()),
    )];
    let (s, v) = newcomer
        .post_raw(routes::CHAIN_TX, &nauth, submit(&raw))
        .await;
    receipt(s, v);
    let (s, v) = newcomer
        .post_raw(routes::CHAIN_TX, &nauth, submit(&raw))
        .await;
    assert_eq!((s, code(&v).as_str()), (400, "tx_invalid"), "{v}");
    let (s, v) = newcomer
        .post_raw(routes::CHAIN_TX, &nauth, submit(b"\x02garbage"))
        .await;
    assert_eq!((s, code(&v).as_str()), (400, "tx_invalid"), "{v}");
    // Signed for another chain.
    let other_chain = agentkeys_core::chain::TxParams {
        chain_id: params.chain_id + 1,
        nonce: params.nonce + 1,
        ..params.clone()
    };
    let raw = sign_call(&newcomer.key, &other_chain, &registry, register).unwrap();
    let (s, v) = newcomer
        .post_raw(routes::CHAIN_TX, &nauth, submit(&raw))
        .await;
    assert_eq!((s, code(&v).as_str()), (400, "tx_invalid"), "{v}");

    // A key the chain does not know gets nothing sponsored but its own first registration:
    // not even a call that would merely revert, and not a call to another contract of ours.
    let mut stranger = RelayClient::new(&relay.url);
    stranger.sign_in_only().await;
    let revoke = SidecarRegistry::revokeAgentDeviceCall {
        deviceKeyHash: alloy::primitives::B256::ZERO,
    }
    .abi_encode();
    let (s, v) = stranger.send_call(&registry, revoke).await;
    assert_eq!(
        (s, code(&v).as_str()),
        (403, "device_not_registered"),
        "{v}"
    );
    let advance = K3EpochCounter::advanceEpochCall { newEpoch: 2 }.abi_encode();
    let (s, v) = stranger.send_call(&status.contracts.epoch, advance).await;
    assert_eq!(
        (s, code(&v).as_str()),
        (403, "device_not_registered"),
        "{v}"
    );

    // Public reads: an unknown device is 403 device_not_registered; bad input 400.
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let url = relay.url.clone();
        async move {
            let r = http.get(format!("{url}{path}")).send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let (s, v) = get(format!("/v1/chain/device/0x{}", "ab".repeat(32))).await;
    assert_eq!(
        (s, code(&v).as_str()),
        (403, "device_not_registered"),
        "{v}"
    );
    let (s, v) = get("/v1/chain/device/nothex".into()).await;
    assert_eq!((s, code(&v).as_str()), (400, "bad_request"), "{v}");
    let (s, v) = get("/v1/chain/epoch".into()).await;
    assert_eq!((s, v["epoch"].as_u64()), (200, Some(1)), "{v}");
    let (s, v) = get(format!(
        "/v1/chain/scope/{}/{}",
        master.operator(),
        Omni::agent(&master.operator(), "x", 1).unwrap()
    ))
    .await;
    assert_eq!((s, v["nonce"].as_u64()), (200, Some(0)), "{v}");
}

/// What the relay pays for is bounded: an agent device has nothing to submit, first
/// registrations are counted per network, and an operator's masters share a gas budget. Each
/// refused transaction leaves the chain as it was.
#[tokio::test(flavor = "multi_thread")]
async fn sponsorship_has_budgets() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(
        dir.path(),
        &[("AGENTKEYS_FIRST_REGISTRATIONS_PER_IP_PER_HOUR", "2")],
    );
    let mut master = RelayClient::new(&relay.url);
    master.sign_in().await;
    let registry = master.chain_status().await.contracts.registry;
    let (mut agent, _) = agents::register_agent(&master, "coder").await;
    agent.sign_in_only().await;
    let revoke = SidecarRegistry::revokeAgentDeviceCall {
        deviceKeyHash: alloy::primitives::B256::ZERO,
    }
    .abi_encode();
    let (s, v) = agent.send_call(&registry, revoke).await;
    assert_eq!((s, code(&v).as_str()), (403, "tx_not_sponsored"), "{v}");

    // A first registration that would revert (a junk passkey assertion), submitted without
    // asking for parameters, is refused before it spends any of the budget.
    let mut junk = RelayClient::new(&relay.url);
    junk.sign_in_only().await;
    let chain_id = master.chain_status().await.chain_id;
    let params = agentkeys_core::chain::TxParams {
        chain_id,
        nonce: 0,
        gas_limit: 1_000_000,
        max_fee_per_gas: "0".into(),
        max_priority_fee_per_gas: "0".into(),
    };
    let bogus = SidecarRegistry::registerFirstMasterDeviceCall {
        roles: 7,
        k11X: alloy::primitives::U256::from(1u8),
        k11Y: alloy::primitives::U256::from(2u8),
        rpIdHash: alloy::primitives::B256::ZERO,
        assertion: SidecarRegistry::WebAuthnAssertion {
            authenticatorData: vec![0u8; 37].into(),
            clientDataJSON: b"{}".to_vec().into(),
            challengeLocation: alloy::primitives::U256::ZERO,
            typeLocation: alloy::primitives::U256::ZERO,
            r: alloy::primitives::U256::from(1u8),
            s: alloy::primitives::U256::from(1u8),
        },
    }
    .abi_encode();
    let raw = sign_call(&junk.key, &params, &registry, bogus).unwrap();
    let (s, v) = junk
        .post_raw(
            routes::CHAIN_TX,
            &[(
                "authorization",
                format!("Bearer {}", junk.session.clone().unwrap()),
            )],
            serde_json::to_vec(&agentkeys_core::chain::SubmitTxRequest {
                raw: format!("0x{}", hex::encode(raw)),
            })
            .unwrap(),
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (409, "chain_reverted"), "{v}");
    assert!(junk.registered_device().await.is_none());

    // The second first registration from this network passes, the third does not, and the
    // would-be master stays unknown to the chain.
    let mut second = RelayClient::new(&relay.url);
    second.sign_in().await;
    let mut third = RelayClient::new(&relay.url);
    third.sign_in_only().await;
    let register = SidecarRegistry::registerFirstMasterDeviceWithoutPasskeyCall {}.abi_encode();
    let (s, v) = third.send_call(&registry, register).await;
    assert_eq!(
        (s, code(&v).as_str()),
        (429, "sponsor_budget_exhausted"),
        "{v}"
    );
    assert!(third.registered_device().await.is_none());
    drop(relay);

    // An operator's gas budget: its first registration is a stranger's (counted per network),
    // but every transaction of its masters after that is the operator's.
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(
        dir.path(),
        &[("AGENTKEYS_SPONSOR_GAS_PER_OPERATOR_PER_HOUR", "1")],
    );
    let mut master = RelayClient::new(&relay.url);
    master.sign_in().await;
    let before = master.registered_device().await.unwrap();
    let chain = master.chain_status().await;
    let attach = agents::attach_passkey(
        agentkeys_daemon::chain_ops::challenge::Domain::registry(&chain),
        &master.operator(),
        &master.key.address(),
    );
    let (s, v) = master.send_call(&chain.contracts.registry, attach).await;
    assert_eq!(
        (s, code(&v).as_str()),
        (429, "sponsor_budget_exhausted"),
        "{v}"
    );
    let after = master.registered_device().await.unwrap();
    assert_eq!(
        (before.roles, before.has_passkey),
        (after.roles, after.has_passkey)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn event_stream_reports_registry_changes() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(dir.path(), &[]);
    let mut resp = reqwest::Client::new()
        .get(format!("{}{}", relay.url, routes::CHAIN_EVENTS))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut master = RelayClient::new(&relay.url);
    master.sign_in().await;
    let expected = format!("\"operator\":\"{}\"", master.operator());
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(seen.contains("event: OperatorRegistered")
        && seen.contains("event: MasterDeviceRegistered"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, resp.chunk())
            .await
            .unwrap_or_else(|_| panic!("no registry events within 5 s: {seen}"))
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains(&expected), "{seen}");
}
