//! One suite, run on both chain adapters: `embedded` (revm in process) and `rpc` (a Hardhat 2
//! node). Devices are fresh keys with no funds that sign EIP-1559 transactions with the
//! parameters the adapter hands out; on Hardhat the relay's submitter sponsors their gas.

use agentkeys_contracts::bindings::{CredentialAudit, SidecarRegistry};
use agentkeys_core::chain::{ChainEvent, Tier};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::identity::Omni;
use agentkeys_daemon::chain_ops::challenge::Domain;
use agentkeys_relay::chain::embedded::EmbeddedChain;
use agentkeys_relay::chain::rpc::{self, RpcChain};
use agentkeys_relay::chain::{events, views, ChainAdapter, ChainError, ChainLog, SignedTx};
use agentkeys_tests::agents;
use agentkeys_tests::hardhat::{self, HardhatNode};
use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

const EVENT_WAIT: Duration = Duration::from_secs(2);

/// A transaction of `device` calling `to` with `data`, with the adapter's parameters, signed
/// for `chain_id`.
fn sign(
    device: &PrivateKeySigner,
    p: &agentkeys_core::chain::TxParams,
    chain_id: u64,
    to: Address,
    data: Bytes,
) -> Bytes {
    let mut tx = TxEip1559 {
        chain_id,
        nonce: p.nonce,
        gas_limit: p.gas_limit,
        max_fee_per_gas: p.max_fee_per_gas.parse().expect("max fee"),
        max_priority_fee_per_gas: p.max_priority_fee_per_gas.parse().expect("priority fee"),
        to: TxKind::Call(to),
        value: U256::ZERO,
        access_list: Default::default(),
        input: data,
    };
    let sig = device.sign_transaction_sync(&mut tx).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

/// Asks for parameters, signs, decodes as the relay does: the device's side of a change.
async fn prepare(
    chain: &dyn ChainAdapter,
    device: &PrivateKeySigner,
    to: Address,
    data: Bytes,
) -> Result<SignedTx, ChainError> {
    let p = chain.tx_params(device.address(), to, data.clone()).await?;
    assert_eq!(p.chain_id, chain.chain_id());
    let raw = sign(device, &p, p.chain_id, to, data);
    SignedTx::decode(&raw, chain.chain_id())
}

fn device_key_hash(a: Address) -> B256 {
    keccak256(a.as_slice())
}

/// Waits (at most [`EVENT_WAIT`]) until `rx` has delivered an event of each of `kinds` from
/// the transaction `tx_hash`, and returns those events.
async fn expect_events(
    chain: &dyn ChainAdapter,
    rx: &mut broadcast::Receiver<ChainLog>,
    tx_hash: B256,
    kinds: &[&str],
) -> Vec<ChainEvent> {
    let deadline = Instant::now() + EVENT_WAIT;
    let mut seen: Vec<ChainEvent> = Vec::new();
    let mut all: Vec<String> = Vec::new();
    while !kinds.iter().all(|k| seen.iter().any(|e| e.kind == *k)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Ok(log)) => {
                let Some(ev) = events::decode_log(chain.contracts(), &log) else {
                    continue;
                };
                all.push(format!("{} in {}", ev.kind, ev.tx_hash));
                if log.tx_hash == tx_hash {
                    seen.push(ev);
                }
            }
            Ok(Err(e)) => panic!("log subscription failed: {e}"),
            Err(_) => panic!(
                "within {EVENT_WAIT:?} expected {kinds:?} of {tx_hash}, the subscription delivered {all:?}"
            ),
        }
    }
    seen
}

async fn suite(chain: Arc<dyn ChainAdapter>) {
    let chain = chain.as_ref();
    let contracts = *chain.contracts();
    assert_eq!(chain.chain_id(), 31337);
    let start_block = chain.block_number().await.expect("block number");
    assert_eq!(views::epoch(chain).await.expect("epoch"), 1);
    let mut rx = chain.subscribe();

    // A fresh device registers itself as the first master of its operator.
    let device = PrivateKeySigner::random();
    let register: Bytes = SidecarRegistry::registerFirstMasterDeviceWithoutPasskeyCall {}
        .abi_encode()
        .into();
    let tx = prepare(chain, &device, contracts.registry, register.clone())
        .await
        .expect("registration parameters");
    assert_eq!(tx.sender, device.address());
    let mined = chain.submit_signed(tx.clone()).await.expect("registration");
    assert!(mined.success, "registration reverted: {mined:?}");
    assert_eq!(mined.tx_hash, tx.hash());
    assert!(mined.block_number > start_block);
    assert!(!mined.logs.is_empty());
    assert!(chain.block_number().await.expect("block number") >= mined.block_number);

    let master_hash = device_key_hash(device.address());
    let master = views::device(chain, master_hash)
        .await
        .expect("device view")
        .expect("registered device");
    assert_eq!(master.tier, Tier::Master);
    assert_eq!(master.roles, 1);
    assert!(!master.revoked);
    assert_eq!(master.device.0, device.address().into_array());
    let operator = master.operator;

    let evs = expect_events(
        chain,
        &mut rx,
        mined.tx_hash,
        &["OperatorRegistered", "MasterDeviceRegistered"],
    )
    .await;
    assert!(evs.iter().all(|e| e.operator == Some(operator)));
    assert!(evs.iter().all(|e| e.block_number == mined.block_number));

    // Registering again is refused by the dry run, with the contract's error.
    match chain
        .tx_params(device.address(), contracts.registry, register.clone())
        .await
    {
        Err(ChainError::Reverted { data }) => {
            let e =
                SidecarRegistry::OperatorAlreadyRegistered::abi_decode(&data).unwrap_or_else(|e| {
                    panic!("revert data {data} is not OperatorAlreadyRegistered: {e}")
                });
            assert_eq!(e.operatorOmni, views::b256(&operator));
        }
        other => panic!("second registration: expected a revert, got {other:?}"),
    }

    // The same signed transaction again: its nonce is spent.
    match chain.submit_signed(tx.clone()).await {
        Err(ChainError::InvalidTx(_)) => {}
        other => panic!("replay: expected InvalidTx, got {other:?}"),
    }

    // Registering an agent needs SCOPE_MGMT, which comes with a passkey.
    let domain = Domain {
        chain_id: chain.chain_id(),
        contract: agentkeys_core::identity::Address(contracts.registry.into_array()),
    };
    let me = agentkeys_core::identity::Address(device.address().into_array());
    let attach = agents::attach_passkey(domain, &operator, &me);
    let tx = prepare(chain, &device, contracts.registry, attach.into())
        .await
        .expect("attach parameters");
    let mined = chain.submit_signed(tx).await.expect("attach");
    assert!(mined.success, "attachPasskey reverted: {mined:?}");
    let agent = DeviceKey::generate();
    let register_agent: Bytes =
        agents::agent_registration(domain, &operator, &agent, "bot", 1).into();

    // A transaction signed for another chain never reaches the adapter.
    let p = chain
        .tx_params(device.address(), contracts.registry, register_agent.clone())
        .await
        .expect("parameters");
    let foreign = sign(&device, &p, 1, contracts.registry, Bytes::new());
    assert!(matches!(
        SignedTx::decode(&foreign, chain.chain_id()),
        Err(ChainError::InvalidTx(_))
    ));

    // The master registers an agent device and revokes it.
    let actor = Omni::agent(&operator, "bot", 1).expect("label");
    let tx = prepare(chain, &device, contracts.registry, register_agent)
        .await
        .expect("agent registration parameters");
    let mined = chain.submit_signed(tx).await.expect("agent registration");
    assert!(mined.success, "agent registration reverted: {mined:?}");
    let agent_hash = B256::from(agent.address().device_key_hash());
    let view = views::device(chain, agent_hash)
        .await
        .expect("device view")
        .expect("agent registered");
    assert_eq!(view.tier, Tier::Agent);
    assert_eq!(view.operator, operator);
    assert_eq!(view.actor, actor);
    assert!(!view.revoked);
    expect_events(chain, &mut rx, mined.tx_hash, &["AgentDeviceRegistered"]).await;

    // Two revocations signed back to back: the second passes no dry run of its own and
    // reverts, and the adapter reports the contract's error.
    let revoke: Bytes = SidecarRegistry::revokeAgentDeviceCall {
        deviceKeyHash: agent_hash,
    }
    .abi_encode()
    .into();
    let mut p = chain
        .tx_params(device.address(), contracts.registry, revoke.clone())
        .await
        .expect("revocation parameters");
    let first = sign(&device, &p, p.chain_id, contracts.registry, revoke.clone());
    p.nonce += 1;
    let second = sign(&device, &p, p.chain_id, contracts.registry, revoke.clone());
    let tx = SignedTx::decode(&first, chain.chain_id()).expect("decode");
    let mined = chain.submit_signed(tx).await.expect("revocation");
    assert!(mined.success, "revocation reverted: {mined:?}");
    let tx = SignedTx::decode(&second, chain.chain_id()).expect("decode");
    let revert_data = match chain.submit_signed(tx).await {
        // The embedded chain costs nothing to revert on: it mines the call.
        Ok(failed) => {
            assert!(!failed.success, "second revocation succeeded: {failed:?}");
            assert!(failed.block_number > mined.block_number);
            failed.revert_data
        }
        // A fee chain's adapter re-estimates before it pays for gas, so a call that now
        // reverts is refused unmined, with the contract's error all the same.
        Err(ChainError::Reverted { data }) => data,
        Err(e) => panic!("second revocation: {e:?}"),
    };
    let e = SidecarRegistry::NotActiveAgentOfOperator::abi_decode(&revert_data)
        .unwrap_or_else(|e| panic!("revert data {revert_data} of the second revocation: {e}"));
    assert_eq!(e.deviceKeyHash, agent_hash);
    let view = views::device(chain, agent_hash)
        .await
        .expect("device view")
        .expect("agent still known");
    assert!(view.revoked);
    let evs = expect_events(chain, &mut rx, mined.tx_hash, &["AgentDeviceRevoked"]).await;
    assert_eq!(
        evs[0].device_key_hash.as_deref(),
        Some(views::hex32(agent_hash).as_str())
    );

    // Revoking it once more is refused by the dry run.
    match chain
        .tx_params(
            device.address(),
            contracts.registry,
            SidecarRegistry::revokeAgentDeviceCall {
                deviceKeyHash: agent_hash,
            }
            .abi_encode()
            .into(),
        )
        .await
    {
        Err(ChainError::Reverted { data }) => {
            SidecarRegistry::NotActiveAgentOfOperator::abi_decode(&data)
                .expect("NotActiveAgentOfOperator");
        }
        other => panic!("second revocation: expected a revert, got {other:?}"),
    }

    // The relay anchors an audit root for the operator from its own account.
    let root = keccak256(b"agentkeys-test-root");
    let mined = chain
        .submit_own(
            contracts.audit,
            CredentialAudit::appendRootCall {
                operatorOmni: views::b256(&operator),
                root,
                count: 1,
            }
            .abi_encode()
            .into(),
        )
        .await
        .expect("appendRoot");
    assert!(mined.success, "appendRoot reverted: {mined:?}");
    let anchored = views::audit_root(chain, &operator, 0)
        .await
        .expect("audit root view")
        .expect("root 0");
    assert_eq!(anchored.root, views::hex32(root));
    assert_eq!(anchored.count, 1);
    assert!(views::audit_root(chain, &operator, 1)
        .await
        .expect("audit root view")
        .is_none());
    expect_events(chain, &mut rx, mined.tx_hash, &["RootAppended"]).await;

    // A call that reverts reports the contract's error.
    match chain
        .call(
            contracts.audit,
            CredentialAudit::getRootCall {
                operatorOmni: views::b256(&operator),
                index: U256::from(5),
            }
            .abi_encode()
            .into(),
        )
        .await
    {
        Err(ChainError::Reverted { data }) => {
            CredentialAudit::RootIndexOutOfRange::abi_decode(&data).expect("RootIndexOutOfRange");
        }
        other => panic!("out-of-range root: expected a revert, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let chain = tokio::task::spawn_blocking(move || EmbeddedChain::open(&path, 31337))
        .await
        .expect("join")
        .expect("open the embedded chain");
    suite(chain).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardhat() {
    let node = HardhatNode::start();
    let key: PrivateKeySigner = hardhat::ACCOUNT0_KEY.parse().expect("account #0 key");
    let started = Instant::now();
    let contracts = rpc::deploy(node.url(), node.chain_id(), &key)
        .await
        .unwrap_or_else(|e| panic!("deploy: {e}\nhardhat log:\n{}", node.log()));
    let chain = RpcChain::connect(
        node.url(),
        node.chain_id(),
        contracts,
        key,
        Duration::from_millis(100),
    )
    .await
    .expect("connect");
    suite(chain.clone()).await;
    eprintln!("hardhat: deploy and suite took {:?}", started.elapsed());

    // On a fee chain the relay pays for device transactions, within bounds: an oversized gas
    // limit, a limit padded beyond the call's own estimate (the unused top-up would stay with
    // the device) or a fee far above the node's estimate is refused before any funding.
    let device = PrivateKeySigner::random();
    let registry = chain.contracts().registry;
    let data: Bytes = SidecarRegistry::registerFirstMasterDeviceWithoutPasskeyCall {}
        .abi_encode()
        .into();
    let p = chain
        .tx_params(device.address(), registry, data.clone())
        .await
        .expect("tx params");
    let greedy_gas = agentkeys_core::chain::TxParams {
        gas_limit: rpc::MAX_SPONSORED_GAS + 1,
        ..p.clone()
    };
    let padded_gas = agentkeys_core::chain::TxParams {
        gas_limit: p.gas_limit + p.gas_limit / 2,
        ..p.clone()
    };
    let fee: u128 = p.max_fee_per_gas.parse().expect("fee");
    let greedy_fee = agentkeys_core::chain::TxParams {
        max_fee_per_gas: (fee * 100).to_string(),
        ..p.clone()
    };
    for params in [greedy_gas, padded_gas, greedy_fee] {
        let raw = sign(&device, &params, params.chain_id, registry, data.clone());
        let tx = SignedTx::decode(&raw, chain.chain_id()).expect("decode");
        match chain.submit_signed(tx).await {
            Err(ChainError::InvalidTx(why)) => assert!(why.contains("sponsors"), "{why}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    let raw = sign(&device, &p, p.chain_id, registry, data);
    let mined = chain
        .submit_signed(SignedTx::decode(&raw, chain.chain_id()).expect("decode"))
        .await
        .expect("a sane transaction is sponsored");
    assert!(mined.success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_connect_checks_chain_and_code() {
    let node = HardhatNode::start();
    let key: PrivateKeySigner = hardhat::ACCOUNT0_KEY.parse().expect("account #0 key");
    let contracts = rpc::deploy(node.url(), node.chain_id(), &key)
        .await
        .expect("deploy");
    let poll = Duration::from_millis(100);
    let err = RpcChain::connect(node.url(), 1, contracts, key.clone(), poll)
        .await
        .expect_err("wrong chain id");
    assert!(err.contains("31337"), "{err}");
    let mut missing = contracts;
    missing.scope = Address::repeat_byte(0x42);
    let err = RpcChain::connect(node.url(), node.chain_id(), missing, key.clone(), poll)
        .await
        .expect_err("no code");
    assert!(err.contains("chain_scope"), "{err}");
    let dead = format!("http://127.0.0.1:{}", agentkeys_tests::free_port());
    let err = RpcChain::connect(&dead, node.chain_id(), contracts, key, poll)
        .await
        .expect_err("no node");
    assert!(err.contains("eth_chainId"), "{err}");
}

/// `agentkeys-relay chain deploy` against Hardhat: the printed lines configure a working
/// `rpc` chain; failures are one line on stderr with a non-zero exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_command() {
    use std::os::unix::fs::PermissionsExt;
    let node = HardhatNode::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("submitter.key");
    std::fs::write(&key_file, format!("{}\n", hardhat::ACCOUNT0_KEY)).expect("key file");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let relay = agentkeys_tests::bin("agentkeys-relay");
    let run = |chain_id: u64| {
        std::process::Command::new(&relay)
            .args(["chain", "deploy", "--rpc-url", node.url(), "--chain-id"])
            .arg(chain_id.to_string())
            .arg("--submitter-key-file")
            .arg(&key_file)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run agentkeys-relay")
    };

    let out = run(31337);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chain deploy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table: toml::Table = stdout.parse().expect("TOML lines");
    let addr = |name: &str| -> Address {
        table
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{name} missing from:\n{stdout}"))
            .parse()
            .expect("address")
    };
    let contracts = agentkeys_relay::chain::Contracts {
        p256_verifier: addr("chain_p256_verifier"),
        k11_verifier: addr("chain_k11_verifier"),
        registry: addr("chain_registry"),
        scope: addr("chain_scope"),
        epoch: addr("chain_epoch"),
        audit: addr("chain_audit"),
    };
    assert_eq!(table.len(), 6, "{stdout}");
    let key: PrivateKeySigner = hardhat::ACCOUNT0_KEY.parse().expect("key");
    let chain = RpcChain::connect(
        node.url(),
        31337,
        contracts,
        key,
        Duration::from_millis(100),
    )
    .await
    .expect("connect with the printed addresses");
    assert_eq!(views::epoch(chain.as_ref()).await.expect("epoch"), 1);

    let out = run(5);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("31337"), "{stderr}");
    assert!(out.stdout.is_empty());

    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run(31337);
    assert!(!out.status.success(), "a 0644 key file was accepted");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim().lines().count(),
        1
    );
}
