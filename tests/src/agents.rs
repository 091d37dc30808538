//! Agent devices on chain, as the end-to-end tests need them: registered and revoked by a
//! master through its own signed transactions, signed in as themselves, and a vault request
//! repeated until the chain's revocation reaches it.

use crate::relay_client::{code, Pop, RelayClient};
use crate::webauthn::Passkey;
use agentkeys_contracts::bindings::SidecarRegistry;
use agentkeys_core::chain::roles;
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::names::{DataClass, Op, LIST_ALL};
use agentkeys_core::passkey::P256PublicKey;
use agentkeys_core::wire::CapRequest;
use agentkeys_daemon::chain_ops::challenge::{self, Domain, OpTag};
use alloy::primitives::B256;
use alloy::sol_types::SolCall;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// A software passkey with a fresh random key (a passkey belongs to one master, ever).
pub fn fresh_passkey() -> Passkey {
    Passkey {
        key: p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng),
        rp_id: "localhost",
        counter: Cell::new(0),
    }
}

/// Gives `master`, a first master registered without a passkey (as `RelayClient::sign_in`
/// registers it), a software passkey and with it every role: registering an agent and
/// setting its scope need SCOPE_MGMT. Nothing to do for a master that holds it.
pub async fn ensure_scope_mgmt(master: &RelayClient) {
    let me = master
        .registered_device()
        .await
        .expect("a registered master");
    if me.roles & roles::SCOPE_MGMT != 0 {
        return;
    }
    let chain = master.chain_status().await;
    let call = attach_passkey(
        Domain::registry(&chain),
        &me.operator,
        &master.key.address(),
    );
    let (s, v) = master.send_call(&chain.contracts.registry, call).await;
    assert_eq!((s, v["success"].as_bool()), (200, Some(true)), "{v}");
}

/// `attachPasskey` of a fresh software passkey for `device`, the first master of a
/// passkey-less `operator`: every role.
pub fn attach_passkey(domain: Domain, operator: &Omni, device: &Address) -> Vec<u8> {
    let passkey = fresh_passkey();
    let (x, y) = passkey.public();
    let pk = P256PublicKey {
        x: x.to_be_bytes(),
        y: y.to_be_bytes(),
    };
    let params = challenge::attach_params(device, &pk, &passkey.rp_id_hash().0);
    // A passkey-less operator's nonce is still 1: only K11-approved changes move it.
    let c = challenge::registry(OpTag::AttachPasskey, operator, params, domain, 1);
    SidecarRegistry::attachPasskeyCall {
        k11X: x,
        k11Y: y,
        rpIdHash: passkey.rp_id_hash(),
        assertion: passkey.assert(B256::from(c)).into(),
    }
    .abi_encode()
}

/// `registerAgentDevice` of `agent` as `label`/`generation` of `operator`, with the agent
/// key's consent for the registry of `domain`.
pub fn agent_registration(
    domain: Domain,
    operator: &Omni,
    agent: &DeviceKey,
    label: &str,
    generation: u32,
) -> Vec<u8> {
    let actor = Omni::agent(operator, label, generation).expect("agent label");
    let digest = challenge::agent_consent(operator, &actor, &agent.address(), domain);
    SidecarRegistry::registerAgentDeviceCall {
        agent: agent.address().0.into(),
        label: label.into(),
        generation,
        agentSig: agent.sign_prehash(&digest).to_vec().into(),
    }
    .abi_encode()
}

/// An agent device registered by `master` under `label`, signed in at `master`'s URL; its
/// actor omni. `master` first gets a passkey if it has none (see [`ensure_scope_mgmt`]).
pub async fn register_agent(master: &RelayClient, label: &str) -> (RelayClient, Omni) {
    ensure_scope_mgmt(master).await;
    let chain = master.chain_status().await;
    let key = DeviceKey::generate();
    let actor = Omni::agent(&master.operator(), label, 1).expect("agent label");
    let call = agent_registration(Domain::registry(&chain), &master.operator(), &key, label, 1);
    let (s, v) = master.send_call(&chain.contracts.registry, call).await;
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
