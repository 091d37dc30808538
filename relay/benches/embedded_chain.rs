//! What mining one transaction on the embedded chain costs as its history grows: transaction
//! #10 against #1,000 (a relay's `appendRoot`: a new storage slot and a log each), end to end
//! through `submit_own` (EVM, persistence, fsync). The journal (a record appended and
//! fsync'd per transaction) runs beside the full rewrite of `state.json` after every
//! transaction, which is what the chain did before the journal: the baseline.
//! `cargo bench -p agentkeys-relay --bench embedded_chain`.
//!
//! Each measured transaction runs on a copy of a chain prepared with the given history, and
//! a copy serves at most `WINDOW` transactions, so "#1,000" means #1,000 to #1,009.

use std::path::Path;
use std::time::{Duration, Instant};

use agentkeys_contracts::bindings::{CredentialAudit, SidecarRegistry};
use agentkeys_core::chain::AdapterKind;
use agentkeys_relay::chain::embedded::{EmbeddedChain, Persistence};
use agentkeys_relay::chain::{views, ChainAdapter};
use alloy::primitives::{keccak256, B256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use tokio::runtime::Runtime;

const CHAIN_ID: u64 = 31_337;
const WINDOW: u64 = 10;

/// A data directory whose chain has mined `history` transactions after its deployment, the
/// first an operator's registration (so the relay may anchor for it), the rest anchors.
fn prepare(rt: &Runtime, dir: &Path, history: u64) -> B256 {
    let chain = EmbeddedChain::open(dir, CHAIN_ID).expect("chain");
    assert_eq!(chain.kind(), AdapterKind::Embedded);
    let operator = rt.block_on(async {
        let registry = chain.contracts().registry;
        let device = PrivateKeySigner::random();
        let call = SidecarRegistry::registerFirstMasterDeviceWithoutPasskeyCall {};
        // An operator on chain, registered by its device's own transaction.
        let params = chain
            .tx_params(device.address(), registry, call.abi_encode().into())
            .await
            .expect("tx params");
        let raw = sign(&device, &params, registry, call.abi_encode().into());
        let tx = agentkeys_relay::chain::SignedTx::decode(&raw, CHAIN_ID).expect("decode");
        assert!(chain.submit_signed(tx).await.expect("register").success);
        let d = views::device(&*chain, keccak256(device.address()))
            .await
            .expect("device")
            .expect("registered");
        views::b256(&d.operator)
    });
    for n in 1..history {
        rt.block_on(anchor(&chain, operator, n));
    }
    operator
}

fn sign(
    device: &PrivateKeySigner,
    p: &agentkeys_core::chain::TxParams,
    to: alloy::primitives::Address,
    input: alloy::primitives::Bytes,
) -> Vec<u8> {
    use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy::eips::eip2718::Encodable2718;
    use alloy::network::TxSignerSync;
    use alloy::primitives::{TxKind, U256};
    let mut tx = TxEip1559 {
        chain_id: p.chain_id,
        nonce: p.nonce,
        gas_limit: p.gas_limit,
        max_fee_per_gas: 0,
        max_priority_fee_per_gas: 0,
        to: TxKind::Call(to),
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    };
    let sig = device.sign_transaction_sync(&mut tx).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
}

async fn anchor(chain: &EmbeddedChain, operator: B256, count: u64) {
    let call = CredentialAudit::appendRootCall {
        operatorOmni: operator,
        root: keccak256(count.to_be_bytes()),
        count,
    };
    let mined = chain
        .submit_own(chain.contracts().audit, call.abi_encode().into())
        .await
        .expect("anchor");
    assert!(mined.success);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Under the target directory rather than a tmpfs, so that fsync costs what it costs.
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let mut group = c.benchmark_group("embedded_chain");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    for history in [10u64, 1_000, 10_000] {
        let template = tempfile::tempdir_in(root).expect("tempdir");
        // The transaction measured is #history: history - 1 mined before it.
        let operator = prepare(&rt, template.path(), history - 1);
        for (name, persistence) in [
            ("journal", Persistence::default()),
            ("full rewrite (before)", Persistence::FullRewrite),
        ] {
            let label = format!("{name}/transaction #{history}");
            group.bench_function(label, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut current: Option<(Arc<EmbeddedChain>, tempfile::TempDir)> = None;
                    let mut used = WINDOW;
                    for _ in 0..iters {
                        if used == WINDOW {
                            drop(current.take());
                            let dir = tempfile::tempdir_in(root).expect("tempdir");
                            copy_dir(template.path(), dir.path());
                            let chain = EmbeddedChain::open_with(dir.path(), CHAIN_ID, persistence)
                                .expect("open copy");
                            current = Some((chain, dir));
                            used = 0;
                        }
                        let Some((chain, _)) = &current else {
                            unreachable!("opened above")
                        };
                        let start = Instant::now();
                        rt.block_on(anchor(chain, operator, 1_000_000 + used));
                        total += start.elapsed();
                        used += 1;
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches_group, benches);
criterion_main!(benches_group);
