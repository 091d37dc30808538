//! The hostile co-tenant: a second operator on the same relay, with its own passkey and its
//! own agents, tries every way found into the first operator's secrets: registering an agent
//! whose actor is the victim's, squatting the victim's agent key, reusing the victim's consent,
//! capabilities for the victim's operator or actor, and storage credentials aimed at the
//! victim's objects. Each attempt is refused with its exact code, and the victim's objects are
//! the same bytes afterwards. The first test drives the relay's API directly; the second is the
//! stranger as a person: the real CLI, its own daemon and its own passkey in Chromium.

use agentkeys_core::identity::Omni;
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::routes;
use agentkeys_core::wire::CapRequest;
use agentkeys_daemon::chain_ops::challenge::Domain;
use agentkeys_tests::agents::{agent_registration, ensure_scope_mgmt, register_agent};
use agentkeys_tests::browser::{AuthenticatorOptions, Browser};
use agentkeys_tests::passkey_flow::{self, ok, refused, relay_url, with_passkey, Recorder};
use agentkeys_tests::relay::RelayProc;
use agentkeys_tests::relay_client::{code, RelayClient};
use agentkeys_tests::stack::Stack;
use agentkeys_tests::storage::{get_put_delete_codes, s3_code, StorageCreds};
use serde_json::{json, Value};

/// The actor's temporary storage credentials for `class`, as an S3 client, its bucket and
/// its own prefix.
async fn storage(c: &RelayClient, class: DataClass) -> (aws_sdk_s3::Client, String, String) {
    let (s, v) = post(
        c,
        routes::MINT_AWS_CREDS,
        json!({"data_class": class.as_str()}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let creds = StorageCreds::from_minted(&v);
    (
        creds.client(),
        creds.bucket().to_string(),
        creds.prefix().to_string(),
    )
}

async fn post(c: &RelayClient, path: &str, body: Value) -> (u16, Value) {
    let auth = [(
        "authorization",
        format!("Bearer {}", c.session.as_deref().expect("signed in")),
    )];
    c.post_raw(path, &auth, body.to_string().into_bytes()).await
}

async fn object_bytes(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    s3.get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("the victim reads its own object")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes()
        .to_vec()
}

fn reverted_with(s: u16, v: &Value, error: &str) {
    assert_eq!((s, code(v).as_str()), (409, "chain_reverted"), "{v}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(error), "expected {error}: {v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_operator_gets_nothing_of_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(dir.path(), &[]);

    // The victim: a master with a passkey, a secret of its own and an agent with a copy.
    let mut victim = RelayClient::new(&relay.url);
    victim.sign_in().await;
    ensure_scope_mgmt(&victim).await;
    let (s, v) = victim
        .store(DataClass::Credentials, "openrouter", b"sk-victim-1")
        .await;
    assert_eq!(s, 200, "{v}");
    let (victim_agent, victim_actor) = register_agent(&victim, "coder").await;
    let (victim_s3, bucket, victim_prefix) = storage(&victim, DataClass::Credentials).await;
    let victim_key = format!("{victim_prefix}openrouter.enc");
    let before = object_bytes(&victim_s3, &bucket, &victim_key).await;

    // The attacker: its own operator on the same relay, with a passkey and every role.
    let mut attacker = RelayClient::new(&relay.url);
    attacker.sign_in().await;
    ensure_scope_mgmt(&attacker).await;
    let chain = attacker.chain_status().await;
    let domain = Domain::registry(&chain);
    let registry = chain.contracts.registry;

    // An agent of the attacker's always has an actor of the attacker's: the chain derives it
    // from the submitting operator, so the victim's actors cannot even be named.
    let (attacker_agent, attacker_actor) = register_agent(&attacker, "coder").await;
    assert_eq!(
        attacker_actor,
        Omni::agent(&attacker.operator(), "coder", 1).unwrap()
    );
    assert_ne!(attacker_actor, victim_actor);
    assert_ne!(attacker_actor, victim.operator());

    // Squatting a key the victim is about to register as an agent: a registration signed by
    // another key, and the consent that key gave the victim's operator, are both refused, and
    // the victim registers it afterwards. A key already registered cannot be taken either.
    let pending = agentkeys_core::device_key::DeviceKey::generate();
    let mut forged = agent_registration(
        domain,
        &attacker.operator(),
        &agentkeys_core::device_key::DeviceKey::generate(),
        "squat",
        1,
    );
    // The agent address is the call's first word: point it at the victim's key.
    forged[4 + 12..4 + 32].copy_from_slice(&pending.address().0);
    let (s, v) = attacker.send_call(&registry, forged).await;
    reverted_with(s, &v, "InvalidDeviceConsent");
    let victims_consent = agent_registration(domain, &victim.operator(), &pending, "writer", 1);
    let (s, v) = attacker.send_call(&registry, victims_consent.clone()).await;
    reverted_with(s, &v, "InvalidDeviceConsent");
    let (s, v) = victim.send_call(&registry, victims_consent).await;
    assert_eq!((s, v["success"].as_bool()), (200, Some(true)), "{v}");
    let taken = agent_registration(domain, &attacker.operator(), &victim_agent.key, "coder", 2);
    let (s, v) = attacker.send_call(&registry, taken).await;
    reverted_with(s, &v, "DeviceAlreadyRegistered");

    // Capabilities for the victim's operator, or the victim's agent's actor, from the
    // attacker's master and from the attacker's agent.
    for (who, session) in [
        ("master", attacker.session.as_deref()),
        ("agent", attacker_agent.session.as_deref()),
    ] {
        // The victim's operator is not the session's (operator_mismatch); under the
        // attacker's own operator, the victim's actors are not this device's (actor_not_permitted).
        for (operator, actor, expected) in [
            (victim.operator(), victim.operator(), "operator_mismatch"),
            (victim.operator(), victim_actor, "operator_mismatch"),
            (attacker.operator(), victim_actor, "actor_not_permitted"),
            (
                attacker.operator(),
                victim.operator(),
                "actor_not_permitted",
            ),
        ] {
            let req = CapRequest {
                operator,
                actor,
                service: "openrouter".into(),
                ttl_secs: None,
            };
            for op in [Op::Fetch, Op::Store, Op::Teardown, Op::List] {
                let (s, v) = attacker
                    .cap_request(DataClass::Credentials, op, &req, session)
                    .await;
                assert_eq!(
                    (s, code(&v).as_str()),
                    (403, expected),
                    "{who} {op:?} for ({operator}, {actor}): {v}"
                );
            }
        }
    }

    // Storage credentials of the attacker and its agent reach their own prefixes only.
    for c in [&attacker, &attacker_agent] {
        let (s3, b, prefix) = storage(c, DataClass::Credentials).await;
        assert_ne!(prefix, victim_prefix);
        assert_eq!(
            get_put_delete_codes(&s3, &b, &victim_key).await,
            ["AccessDenied"; 3]
        );
        let list = s3
            .list_objects_v2()
            .bucket(&b)
            .prefix(&victim_prefix)
            .send()
            .await;
        assert_eq!(s3_code(list), "AccessDenied");
    }

    // An actor the chain does not give the victim is not written into its trail as named.
    let made_up = Omni([0x77; 32]);
    let req = CapRequest {
        operator: victim.operator(),
        actor: made_up,
        service: "openrouter".into(),
        ttl_secs: None,
    };
    let (s, v) = attacker
        .cap_request(
            DataClass::Credentials,
            Op::Fetch,
            &req,
            attacker.session.as_deref(),
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (403, "operator_mismatch"), "{v}");

    // The victim's trail shows who tried to mint for its operator, and what was refused.
    let log: Value = reqwest::Client::new()
        .get(format!("{}{}?limit=1000", relay.url, routes::AUDIT_LOG))
        .bearer_auth(victim.session.as_deref().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let attacker_device = attacker.key.address().to_string();
    let tried = log["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["device"] == attacker_device.as_str() && r["outcome"] == "operator_mismatch")
        .count();
    // Four operations for each of two actors, from the attacker's master (its agent's are
    // recorded under its own device), and the made-up actor as "?".
    assert_eq!(tried, 9, "{log}");
    assert!(
        !log.to_string().contains(&made_up.to_hex()),
        "a made-up actor is named in the victim's trail: {log}"
    );
    assert_eq!(
        log["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["actor"] == "?" && r["outcome"] == "operator_mismatch")
            .count(),
        1,
        "{log}"
    );
    // And who reached for its objects with storage credentials: get, put, delete and list,
    // from the attacker's master and from its agent, each on the victim's actor.
    let agent_device = attacker_agent.key.address().to_string();
    let reached: Vec<&Value> = log["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["outcome"] == "storage_access_denied")
        .collect();
    assert_eq!(reached.len(), 8, "{log}");
    for device in [&attacker_device, &agent_device] {
        let mut ops: Vec<&str> = reached
            .iter()
            .filter(|r| r["device"] == device.as_str())
            .map(|r| r["op"].as_str().unwrap())
            .collect();
        ops.sort_unstable();
        assert_eq!(ops, ["fetch", "list", "store", "teardown"], "{log}");
    }
    assert!(reached
        .iter()
        .all(|r| r["actor"] == victim.operator().to_hex().as_str()
            && (r["service"] == "openrouter" || r["op"] == "list")));

    // The victim's object is the same bytes, and still reads as its secret.
    assert_eq!(object_bytes(&victim_s3, &bucket, &victim_key).await, before);
    assert_eq!(
        victim
            .fetch_value(DataClass::Credentials, "openrouter")
            .await,
        b"sk-victim-1"
    );
}

/// The victim's agent's stored object, read with that agent's own storage credentials.
async fn agent_object(s: &Stack, agent: &str, name: &str) -> (StorageCreds, Vec<u8>) {
    let creds = StorageCreds::parse(&s.ok(&["aws", "env", "--agent", agent], None));
    let key = format!("{}{name}.enc", creds.prefix());
    let bytes = object_bytes(&creds.client(), creds.bucket(), &key).await;
    (creds, bytes)
}

/// The same stranger as a person would be one: the real CLI and its own daemon, with its own
/// passkey in Chromium, on the victim's relay. Everything it can name lands in its own
/// operator's space, its storage credentials reach nothing of the victim's, and the victim's
/// objects are the same bytes afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_operator_with_its_own_daemon_and_passkey_gets_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let browser = Browser::start().await;

    let mut victim_urls = Recorder::new(tmp.path(), "victim");
    let victim = Stack::new().with_env("BROWSER", &victim_urls.script);
    victim.ok(&["up"], None);
    let victim_page = browser.new_page().await;
    victim_page
        .enable_virtual_authenticator(AuthenticatorOptions::default())
        .await;
    ok(&with_passkey(&victim, &victim_page, &mut victim_urls, &["init"], 2).await);
    victim.ok(&["store", "openrouter"], Some(b"sk-victim-own"));
    victim.ok(&["agent", "create", "coder"], None);
    ok(&with_passkey(
        &victim,
        &victim_page,
        &mut victim_urls,
        &["scope", "set", "coder", "openrouter"],
        1,
    )
    .await);
    victim.ok(
        &["store", "--for", "coder", "openrouter"],
        Some(b"sk-victim-agent"),
    );
    let (victim_creds, before) = agent_object(&victim, "coder", "openrouter").await;

    // The stranger: its own home, daemon, keychain entry and passkey; the victim's relay.
    let url = relay_url(&victim);
    let mut stranger_urls = Recorder::new(tmp.path(), "stranger");
    let stranger = Stack::new().with_env("BROWSER", &stranger_urls.script);
    let _daemon = passkey_flow::daemon(stranger.home(), &url, &stranger_urls.script, false);
    let stranger_page = browser.new_page().await;
    stranger_page
        .enable_virtual_authenticator(AuthenticatorOptions::default())
        .await;
    let init = ok(&with_passkey(&stranger, &stranger_page, &mut stranger_urls, &["init"], 2).await);
    assert!(
        init.contains("registered on chain as the first master"),
        "{init}"
    );
    let victim_status = victim.ok(&["status", "--json"], None);
    let stranger_status = stranger.ok(&["status", "--json"], None);
    let operator =
        |s: &str| serde_json::from_str::<Value>(s).unwrap()["daemon"]["operator"].clone();
    assert!(operator(&victim_status).is_string(), "{victim_status}");
    assert_ne!(operator(&victim_status), operator(&stranger_status));

    // Names are per operator: the victim's secret is not there to read or remove.
    refused(
        &stranger.run(&["read", "openrouter"], None),
        5,
        "secret_not_found",
    );
    refused(
        &stranger.run(&["rm", "openrouter"], None),
        5,
        "secret_not_found",
    );
    // The same agent label is another actor; what it stores is its own.
    stranger.ok(&["agent", "create", "coder"], None);
    ok(&with_passkey(
        &stranger,
        &stranger_page,
        &mut stranger_urls,
        &["scope", "set", "coder", "openrouter"],
        1,
    )
    .await);
    stranger.ok(
        &["store", "--for", "coder", "openrouter"],
        Some(b"sk-planted"),
    );
    stranger.ok(&["store", "openrouter"], Some(b"sk-stranger-own"));
    let (stranger_creds, planted) = agent_object(&stranger, "coder", "openrouter").await;
    assert_ne!(stranger_creds.prefix(), victim_creds.prefix());
    assert_ne!(planted, before);

    // The stranger's storage credentials, master's and agent's, at the victim's agent object.
    let victim_key = format!("{}openrouter.enc", victim_creds.prefix());
    let stranger_master = StorageCreds::parse(&stranger.ok(&["aws", "env"], None));
    for creds in [&stranger_master, &stranger_creds] {
        assert_eq!(
            get_put_delete_codes(&creds.client(), victim_creds.bucket(), &victim_key).await,
            ["AccessDenied"; 3]
        );
    }
    stranger.ok(&["rm", "openrouter"], None);

    // The victim's objects are the same bytes, and read as before.
    let (_, after) = agent_object(&victim, "coder", "openrouter").await;
    assert_eq!(after, before);
    assert_eq!(victim.ok(&["read", "openrouter"], None), "sk-victim-own\n");
}
