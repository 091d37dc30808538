//! The vault against moto_server as its S3: the same aws-sdk-s3 code path as the embedded
//! store. Objects land at the documented keys, hold no plaintext, and tampering with any byte,
//! or moving an object to another service or actor, makes the read fail with a clear error.

use agentkeys_core::envelope::object_key;
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::wire::ListRequest;
use agentkeys_tests::moto::Moto;
use agentkeys_tests::relay::RelayProc;
use agentkeys_tests::relay_client::{code, Pop, RelayClient};
use aws_sdk_s3::primitives::ByteStream;

const CRED_BUCKET: &str = "ak-test-credentials";
const MEM_BUCKET: &str = "ak-test-memory";

fn start(dir: &std::path::Path, moto: &Moto) -> RelayProc {
    RelayProc::start(
        &dir.join("relay"),
        &[
            ("AGENTKEYS_STORAGE", "s3"),
            ("AGENTKEYS_S3_ENDPOINT", &moto.url),
            ("AGENTKEYS_S3_ACCESS_KEY_ID", "test"),
            ("AGENTKEYS_S3_SECRET_ACCESS_KEY", "test"),
            ("AGENTKEYS_S3_CREATE_BUCKETS", "true"),
            ("AGENTKEYS_CREDENTIALS_BUCKET", CRED_BUCKET),
            ("AGENTKEYS_MEMORY_BUCKET", MEM_BUCKET),
        ],
    )
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let o = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("object exists in moto");
    o.body.collect().await.unwrap().into_bytes().to_vec()
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, bytes: Vec<u8>) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .expect("put to moto");
}

#[tokio::test(flavor = "multi_thread")]
async fn vault_roundtrip_on_moto() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let relay = start(dir.path(), &moto);
    let mut c = RelayClient::new(&relay.url);
    c.sign_in().await;
    let s3 = moto.s3().await;

    let (s, v) = c
        .store(DataClass::Credentials, "openrouter", b"sk-test")
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = c
        .store(DataClass::Memory, "notes", b"remember the milk")
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        c.fetch_value(DataClass::Credentials, "openrouter").await,
        b"sk-test"
    );
    assert_eq!(
        c.fetch_value(DataClass::Memory, "notes").await,
        b"remember the milk"
    );

    // Layout of ARCHITECTURE §4, one bucket per class, ciphertext only.
    let key = object_key(DataClass::Credentials, &c.operator(), "openrouter");
    assert!(key.starts_with(&format!("bots/{}/credentials/", c.operator().to_hex())));
    let stored = get(&s3, CRED_BUCKET, &key).await;
    assert_eq!(&stored[..3], b"AKE");
    assert!(!stored.windows(7).any(|w| w == b"sk-test"));
    let mem_key = object_key(DataClass::Memory, &c.operator(), "notes");
    let _ = get(&s3, MEM_BUCKET, &mem_key).await;
    assert!(s3
        .head_object()
        .bucket(CRED_BUCKET)
        .key(&mem_key)
        .send()
        .await
        .is_err());

    // List and teardown.
    let cap = c.cap(DataClass::Credentials, Op::List, "*").await;
    let (s, v) = c
        .vault(
            DataClass::Credentials,
            Op::List,
            Some(&cap),
            serde_json::to_vec(&ListRequest {}).unwrap(),
            Pop::Valid,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["names"], serde_json::json!(["openrouter"]));
    let cap = c
        .cap(DataClass::Credentials, Op::Teardown, "openrouter")
        .await;
    let (s, v) = c
        .vault(
            DataClass::Credentials,
            Op::Teardown,
            Some(&cap),
            br#"{"name":"openrouter"}"#.to_vec(),
            Pop::Valid,
        )
        .await;
    assert_eq!((s, v["deleted"].as_bool()), (200, Some(true)), "{v}");
    let (s, v) = c.fetch(DataClass::Credentials, "openrouter").await;
    assert_eq!((s, code(&v).as_str()), (404, "secret_not_found"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_or_moved_objects_fail_to_read() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let relay = start(dir.path(), &moto);
    let mut alice = RelayClient::new(&relay.url);
    alice.sign_in().await;
    let mut bob = RelayClient::new(&relay.url);
    bob.sign_in().await;
    let s3 = moto.s3().await;

    assert_eq!(
        alice
            .store(DataClass::Credentials, "openrouter", b"sk-alice-secret")
            .await
            .0,
        200
    );
    assert_eq!(
        bob.store(DataClass::Credentials, "anthropic", b"sk-bob-secret")
            .await
            .0,
        200
    );
    let key = object_key(DataClass::Credentials, &alice.operator(), "openrouter");
    let original = get(&s3, CRED_BUCKET, &key).await;

    // Every single flipped byte is detected.
    for i in 0..original.len() {
        let mut bad = original.clone();
        bad[i] ^= 0x01;
        put(&s3, CRED_BUCKET, &key, bad).await;
        let (s, v) = alice.fetch(DataClass::Credentials, "openrouter").await;
        assert_eq!(
            (s, code(&v).as_str()),
            (500, "object_integrity_failed"),
            "flip at byte {i}: {v}"
        );
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("openrouter"));
    }
    // Truncated.
    put(
        &s3,
        CRED_BUCKET,
        &key,
        original[..original.len() - 1].to_vec(),
    )
    .await;
    let (s, v) = alice.fetch(DataClass::Credentials, "openrouter").await;
    assert_eq!((s, code(&v).as_str()), (500, "object_integrity_failed"));
    put(&s3, CRED_BUCKET, &key, original.clone()).await;
    assert_eq!(
        alice
            .fetch_value(DataClass::Credentials, "openrouter")
            .await,
        b"sk-alice-secret"
    );

    // Copied to another service of the same actor.
    let other_service = object_key(DataClass::Credentials, &alice.operator(), "anthropic");
    put(&s3, CRED_BUCKET, &other_service, original.clone()).await;
    let (s, v) = alice.fetch(DataClass::Credentials, "anthropic").await;
    assert_eq!((s, code(&v).as_str()), (500, "object_integrity_failed"));

    // Copied into another actor's prefix under the name that actor reads.
    let bobs = object_key(DataClass::Credentials, &bob.operator(), "anthropic");
    put(&s3, CRED_BUCKET, &bobs, original.clone()).await;
    let (s, v) = bob.fetch(DataClass::Credentials, "anthropic").await;
    assert_eq!((s, code(&v).as_str()), (500, "object_integrity_failed"));

    // Copied to the other data class.
    let as_memory = object_key(DataClass::Memory, &alice.operator(), "openrouter");
    put(&s3, MEM_BUCKET, &as_memory, original).await;
    let (s, v) = alice.fetch(DataClass::Memory, "openrouter").await;
    assert_eq!((s, code(&v).as_str()), (500, "object_integrity_failed"));
}
