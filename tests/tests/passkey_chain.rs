//! The daemon's passkey ceremonies in a real headless Chromium with a virtual authenticator,
//! all the way to the chain: a passkey enrolled through the enrollment page (verified with
//! webauthn-rs) signs, through the assertion page, the exact challenge `SidecarRegistry`
//! computes, and the registry on the embedded chain accepts it as the first master's proof.
//! With user verification failing, the ceremony is refused.

use agentkeys_contracts::bindings::{AgentKeysScope, SidecarRegistry};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::passkey::rp_id_hash;
use agentkeys_daemon::ceremony::chain::{to_registry, to_scope};
use agentkeys_daemon::ceremony::{AssertSpec, Ceremony, CeremonySettings, EnrollSpec, Role};
use agentkeys_daemon::chain_ops::challenge::{self, Domain, OpTag};
use agentkeys_daemon::relay_client::chain_tx::sign_call;
use agentkeys_relay::chain::embedded::EmbeddedChain;
use agentkeys_relay::chain::{views, ChainAdapter, ChainError, SignedTx};
use agentkeys_tests::browser::{AuthenticatorOptions, Browser};
use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::sol_types::{SolCall, SolValue};
use std::sync::Arc;
use std::time::Duration;

fn settings() -> CeremonySettings {
    CeremonySettings {
        timeout: Duration::from_secs(60),
        ..CeremonySettings::default()
    }
}

/// The assertion page for `challenge`, completed in Chromium.
async fn approve(
    page: &agentkeys_tests::browser::Page,
    passkey: &agentkeys_core::passkey::EnrolledPasskey,
    operation: &str,
    challenge: [u8; 32],
) -> agentkeys_core::passkey::ChainAssertion {
    let c = Ceremony::assert(
        AssertSpec {
            role: Role::Primary,
            operation: operation.into(),
            challenge,
            credential_id: passkey.credential_id.clone(),
            public_key: passkey.public_key,
        },
        settings(),
    )
    .await
    .unwrap();
    page.navigate(c.url()).await;
    c.wait().await.unwrap()
}

fn actor_op(op: B256) -> agentkeys_core::identity::Omni {
    agentkeys_core::identity::Omni(op.0)
}

/// Signs `data` to `to` with `key` and mines it on the embedded chain.
/// Prints the gas used (`-- --nocapture`): the figures in docs/performance.md.
async fn submit(
    what: &str,
    chain: &dyn ChainAdapter,
    key: &DeviceKey,
    to: Address,
    data: Vec<u8>,
) -> bool {
    let from = Address::from(key.address().0);
    let params = chain
        .tx_params(from, to, data.clone().into())
        .await
        .unwrap();
    let raw = sign_call(
        key,
        &params,
        &agentkeys_core::identity::Address(to.into_array()),
        data,
    )
    .unwrap();
    let mined = chain
        .submit_signed(SignedTx::decode(&raw, 31337).unwrap())
        .await
        .unwrap();
    eprintln!("gas: {} {what}", mined.gas_used);
    mined.success
}

async fn call<C: SolCall>(chain: &dyn ChainAdapter, to: Address, c: C) -> C::Return {
    let out = chain.call(to, c.abi_encode().into()).await.unwrap();
    C::abi_decode_returns(&out).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chromium_passkey_registers_the_first_master() {
    let dir = tempfile::tempdir().unwrap();
    let chain: Arc<dyn ChainAdapter> = EmbeddedChain::open(dir.path(), 31337).unwrap();
    let registry = chain.contracts().registry;

    let browser = Browser::start().await;
    let page = browser.new_page().await;
    let authenticator = page
        .enable_virtual_authenticator(AuthenticatorOptions::default())
        .await;

    // Enrollment, verified by webauthn-rs.
    let c = Ceremony::enroll(
        EnrollSpec {
            role: Role::Primary,
            operation: "Enroll this computer's passkey for AgentKeys".into(),
            user_name: "agentkeys@test".into(),
            user_display_name: "AgentKeys test".into(),
            exclude_credentials: vec![],
        },
        settings(),
    )
    .await
    .unwrap();
    assert!(c.url().starts_with("http://localhost:"), "{}", c.url());
    page.navigate(c.url()).await;
    let passkey = c.wait().await.unwrap();
    assert_eq!(passkey.rp_id_hash, rp_id_hash("localhost"));

    // The registry's challenge for this device, these roles and this passkey.
    let device = DeviceKey::generate();
    let device_addr = Address::from(device.address().0);
    let (x, y) = (
        U256::from_be_bytes(passkey.public_key.x),
        U256::from_be_bytes(passkey.public_key.y),
    );
    let roles: u8 = 7;
    let rp_hash = B256::from(passkey.rp_id_hash);
    let op = call(
        chain.as_ref(),
        registry,
        SidecarRegistry::operatorOmniOfCall {
            firstMaster: device_addr,
        },
    )
    .await;
    let params = keccak256((device_addr, U256::from(roles), x, y, rp_hash).abi_encode_params());
    let tag = call(
        chain.as_ref(),
        registry,
        SidecarRegistry::OP_REGISTER_FIRST_MASTERCall {},
    )
    .await;
    let challenge = call(
        chain.as_ref(),
        registry,
        SidecarRegistry::challengeForCall {
            opTag: tag,
            operatorOmni: op,
            paramsHash: params,
        },
    )
    .await;

    // The assertion page signs exactly those 32 bytes.
    let assertion = approve(
        &page,
        &passkey,
        "Register this computer as the first master device",
        challenge.0,
    )
    .await;

    // The device submits registerFirstMasterDevice with it; the chain verifies the passkey.
    let data = SidecarRegistry::registerFirstMasterDeviceCall {
        roles,
        k11X: x,
        k11Y: y,
        rpIdHash: rp_hash,
        assertion: to_registry(&assertion),
    }
    .abi_encode();
    assert!(
        submit(
            "registerFirstMasterDevice (Chromium passkey)",
            chain.as_ref(),
            &device,
            registry,
            data
        )
        .await
    );
    let d = views::device(
        chain.as_ref(),
        B256::from(device.address().device_key_hash()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!((d.roles, d.has_passkey, d.revoked), (7, true, false));

    // A scope change approved by the same passkey, over the challenge the daemon computes
    // (checked against the contract's own view), is accepted once; the same call replayed
    // is refused on chain, because the scope nonce moved on.
    let agent = DeviceKey::generate();
    let actor =
        agentkeys_core::identity::Omni::agent(&agentkeys_core::identity::Omni(op.0), "coder", 1)
            .unwrap();
    let scope_addr = chain.contracts().scope;
    let domain = |contract: Address| Domain {
        chain_id: 31337,
        contract: agentkeys_core::identity::Address(contract.into_array()),
    };
    let reg = submit(
        "registerAgentDevice",
        chain.as_ref(),
        &device,
        registry,
        agentkeys_tests::agents::agent_registration(
            domain(registry),
            &actor_op(op),
            &agent,
            "coder",
            1,
        ),
    )
    .await;
    assert!(reg);
    let services = vec![challenge::service_hash("openrouter")];
    let params = challenge::scope_params(&services);
    let ours = challenge::scope(
        OpTag::SetScope,
        &actor_op(op),
        &actor,
        params,
        domain(scope_addr),
        0,
    );
    let theirs = call(
        chain.as_ref(),
        scope_addr,
        AgentKeysScope::scopeChallengeCall {
            opTag: OpTag::SetScope.hash(),
            operatorOmni: op,
            actorOmni: B256::from(actor.0),
            paramsHash: params,
        },
    )
    .await;
    assert_eq!(ours, theirs.0, "the daemon's challenge is the contract's");
    let assertion = approve(
        &page,
        &passkey,
        "Allow agent coder to read openrouter",
        ours,
    )
    .await;
    let set_scope = AgentKeysScope::setScopeCall {
        operatorOmni: op,
        actorOmni: B256::from(actor.0),
        services,
        approverDeviceKeyHash: B256::from(device.address().device_key_hash()),
        assertion: to_scope(&assertion),
    }
    .abi_encode();
    assert!(
        submit(
            "setScope, one service (Chromium passkey)",
            chain.as_ref(),
            &device,
            scope_addr,
            set_scope.clone()
        )
        .await
    );
    let from = Address::from(device.address().0);
    match chain.tx_params(from, scope_addr, set_scope.into()).await {
        Err(ChainError::Reverted { data }) => {
            let reason = agentkeys_relay::chain::revert::describe(&data);
            assert!(reason.contains("ChallengeMismatch"), "{reason}");
        }
        other => panic!("a replayed assertion must revert on chain: {other:?}"),
    }

    // Without user verification the authenticator refuses, and so does the ceremony.
    page.set_user_verified(&authenticator, false).await;
    let c = Ceremony::enroll(
        EnrollSpec {
            role: Role::Primary,
            operation: "Enroll another passkey".into(),
            user_name: "agentkeys@test2".into(),
            user_display_name: "AgentKeys test 2".into(),
            exclude_credentials: vec![],
        },
        settings(),
    )
    .await
    .unwrap();
    page.navigate(c.url()).await;
    // The page shows the browser's refusal and offers Try again / Cancel; the person cancels.
    page.wait_for(
        "document.body.dataset.state === 'error'",
        Duration::from_secs(20),
    )
    .await;
    let status = page
        .eval("document.getElementById('status').textContent")
        .await;
    assert!(!status.as_str().unwrap_or_default().is_empty(), "{status}");
    page.eval("document.getElementById('cancel').click(); true")
        .await;
    let err = c.wait().await.unwrap_err();
    assert!(
        matches!(
            err.code.as_str(),
            "ceremony_failed" | "passkey_not_verified"
        ),
        "{err:?}"
    );
}
