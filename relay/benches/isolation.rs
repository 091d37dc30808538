//! Cost of embedded storage isolation per request: minting an actor's temporary keys (once
//! per `mint-aws-creds`), and what the embedded S3 server adds to every request made with
//! them (deriving the key's secret for SigV4, then the policy: token MAC, expiry, prefix).
//! `cargo bench -p agentkeys-relay --bench isolation`.

use std::sync::Arc;

use agentkeys_core::envelope::object_key;
use agentkeys_core::identity::Omni;
use agentkeys_core::names::DataClass;
use agentkeys_core::time_util::now_secs;
use agentkeys_relay::isolation::{ActorScopedPolicy, SessionKeyring};
use agentkeys_relay::s3server::{AccessPolicy, AccessRequest, S3Op, TemporaryKeys};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keyring = SessionKeyring::load(dir.path()).expect("keyring");
    let actor = Omni([1; 32]);
    let minted = keyring.mint(actor, actor, DataClass::Credentials, 3600, now_secs());
    let policy = ActorScopedPolicy {
        keyring: Arc::clone(&keyring),
        root_access_key: "ROOT".into(),
        credentials_bucket: "cred".into(),
        memory_bucket: "mem".into(),
    };
    let request = AccessRequest {
        access_key: Some(minted.access_key_id.clone()),
        session_token: Some(minted.session_token.to_string()),
        op: S3Op::GetObject,
        bucket: "cred".into(),
        key_or_prefix: Some(object_key(DataClass::Credentials, &actor, "openrouter")),
    };
    c.bench_function("isolation/mint temporary keys", |b| {
        b.iter(|| keyring.mint(actor, actor, DataClass::Credentials, 3600, black_box(1_000)))
    });
    c.bench_function("isolation/derive the secret of a key (SigV4)", |b| {
        b.iter(|| keyring.secret_for(black_box(&minted.access_key_id)))
    });
    c.bench_function("isolation/policy check of one request", |b| {
        b.iter(|| policy.check(black_box(&request)).is_ok())
    });
}

criterion_group!(group, benches);
criterion_main!(group);
