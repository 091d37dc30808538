//! Cost of the per-request cryptography: envelope seal/open, capability sign/verify, proof of
//! possession sign/verify. `cargo bench -p agentkeys-core`.

use agentkeys_core::cap::{verify_cap, CapClaims, CapExpectation, Confirmation};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::envelope::{self, Dek, EnvelopeHeader, ObjectContext};
use agentkeys_core::es256::{Es256Key, Jwks, KeyPurpose};
use agentkeys_core::identity::Omni;
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::{kek, pop};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn benches(c: &mut Criterion) {
    let device = DeviceKey::from_bytes(&[7; 32]).expect("key");
    let op = Omni::operator(&device.address());
    let k3 = [3u8; 32];
    let dek = Dek::from_bytes([4; 32]);
    let ctx = ObjectContext {
        data_class: DataClass::Credentials,
        operator: &op,
        actor: &op,
        name: "openrouter",
    };
    let wrapped = kek::wrap_dek(&k3, 1, &ctx, &dek);
    let header = EnvelopeHeader::new(1, wrapped.clone());
    let value = vec![b'x'; 64];
    let sealed = envelope::seal(&dek, &header, &ctx, &value);
    c.bench_function("envelope_seal_64B", |b| {
        b.iter(|| envelope::seal(&dek, &header, &ctx, black_box(&value)))
    });
    c.bench_function("envelope_open_64B", |b| {
        b.iter(|| envelope::open(&dek, black_box(&sealed), &ctx))
    });
    c.bench_function("kek_unwrap_dek", |b| {
        b.iter(|| kek::unwrap_dek(&k3, 1, &ctx, black_box(&wrapped)))
    });

    let k1 = Es256Key::from_secret(KeyPurpose::Session, &[0x11; 32]).expect("k1");
    let jwks = Jwks {
        keys: vec![k1.jwk().clone()],
    };
    let claims = CapClaims {
        iss: "broker".into(),
        aud: "vault".into(),
        sub: op,
        opr: op,
        op: Op::Fetch,
        dc: DataClass::Credentials,
        svc: "openrouter".into(),
        dkh: "0x00".into(),
        epoch: 1,
        iat: 1_760_000_000,
        exp: 1_760_000_300,
        jti: "AAECAwQFBgcICQoLDA0ODw".into(),
        cnf: Confirmation {
            eth_addr: device.address(),
        },
    };
    let token = claims.sign(&k1).expect("sign");
    let expect = CapExpectation {
        issuer: "broker",
        audience: "vault",
        op: Op::Fetch,
        data_class: DataClass::Credentials,
        now: 1_760_000_100,
    };
    c.bench_function("cap_sign", |b| b.iter(|| claims.sign(&k1)));
    c.bench_function("cap_verify", |b| {
        b.iter(|| verify_cap(black_box(&token), &jwks, &expect))
    });

    let body = br#"{"name":"openrouter"}"#;
    let header = pop::sign(
        &device,
        &claims.jti,
        "POST",
        "/v1/cred/fetch",
        body,
        1_760_000_100,
    );
    c.bench_function("pop_sign", |b| {
        b.iter(|| {
            pop::sign(
                &device,
                &claims.jti,
                "POST",
                "/v1/cred/fetch",
                body,
                1_760_000_100,
            )
        })
    });
    c.bench_function("pop_verify", |b| {
        b.iter(|| {
            pop::verify(
                black_box(&header),
                &claims.jti,
                &claims.cnf.eth_addr,
                "POST",
                "/v1/cred/fetch",
                body,
                1_760_000_100,
            )
        })
    });
}

criterion_group!(formats, benches);
criterion_main!(formats);
