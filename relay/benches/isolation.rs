//! Cost of embedded storage isolation per request: minting an actor's temporary keys (once
//! per `mint-aws-creds`), and what the embedded S3 server adds to every request made with
//! them (deriving the key's secret for SigV4, then the policy: token MAC, expiry, prefix, and
//! the chain's cached answer for the minting device). The token-only check, which was the
//! whole policy before storage asked the chain, runs beside the full one as the baseline.
//! `cargo bench -p agentkeys-relay --bench isolation`.

use std::sync::Arc;

use agentkeys_core::envelope::object_key;
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::names::DataClass;
use agentkeys_core::time_util::now_secs;
use agentkeys_relay::audit::foreign::ForeignAttempts;
use agentkeys_relay::chain::authz::{Authority, DEFAULT_CACHE_TTL};
use agentkeys_relay::chain::embedded::EmbeddedChain;
use agentkeys_relay::isolation::{ActorScopedPolicy, Holder, SessionKeyring};
use agentkeys_relay::s3server::{AccessPolicy, AccessRequest, S3Op, TemporaryKeys};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let keyring = SessionKeyring::load(dir.path()).expect("keyring");
    let actor = Omni([1; 32]);
    let holder = Holder {
        device: Address([7; 20]),
        operator: actor,
        actor,
    };
    let minted = keyring.mint(holder, DataClass::Credentials, 3600, now_secs());
    let chain = EmbeddedChain::open(&dir.path().join("chain"), 31337).expect("chain");
    let authority = rt.block_on(async { Authority::new(chain, DEFAULT_CACHE_TTL) });
    let policy = ActorScopedPolicy {
        keyring: Arc::clone(&keyring),
        root_access_key: "ROOT".into(),
        credentials_bucket: "cred".into(),
        memory_bucket: "mem".into(),
        authority,
        foreign: Arc::new(ForeignAttempts::new(None, 0)),
    };
    let request = AccessRequest {
        access_key: Some(minted.access_key_id.clone()),
        session_token: Some(minted.session_token.to_string()),
        op: S3Op::GetObject,
        bucket: "cred".into(),
        key_or_prefix: Some(object_key(DataClass::Credentials, &actor, "openrouter")),
    };
    c.bench_function("isolation/mint temporary keys", |b| {
        b.iter(|| keyring.mint(holder, DataClass::Credentials, 3600, black_box(1_000)))
    });
    c.bench_function("isolation/derive the secret of a key (SigV4)", |b| {
        b.iter(|| keyring.secret_for(black_box(&minted.access_key_id)))
    });
    c.bench_function("isolation/token checks of one request (baseline)", |b| {
        b.iter(|| policy.check_token(black_box(&request)).is_ok())
    });
    // The device is not on this chain, so the answer (cached after the first request) refuses;
    // the cost is the same cache lookup and decision an allowed request makes.
    rt.block_on(policy.check(&request))
        .expect_err("not on chain");
    c.bench_function(
        "isolation/policy check of one request, chain answer cached",
        |b| b.iter(|| rt.block_on(policy.check(black_box(&request))).is_err()),
    );
}

criterion_group!(group, benches);
criterion_main!(group);
