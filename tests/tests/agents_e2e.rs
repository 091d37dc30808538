//! The approval story end to end with a real headless Chromium and a virtual authenticator:
//! the real CLI, daemon and embedded relay in a temporary home; the daemon opens each passkey
//! page through `$BROWSER` (a script that records the URL), and the test drives Chromium there.
//!
//! init (enroll + register with every role) → agent create → scope set → store --for → the
//! agent's child reads its in-scope secret and is refused an out-of-scope one, another agent's
//! token and no token → user verification off refuses a scope change → revoking the agent
//! stops it at once.

use std::time::Duration;

use agentkeys_tests::browser::{AuthenticatorOptions, Browser};
use agentkeys_tests::passkey_flow::{finish, ok, refused, spawn, text, with_passkey, Recorder};
use agentkeys_tests::stack::Stack;
use agentkeys_tests::storage::{denied_within, get_code, list_code, s3_code, StorageCreds};

#[tokio::test(flavor = "multi_thread")]
async fn init_agents_scopes_and_children_with_a_chromium_passkey() {
    let tmp = tempfile::tempdir().unwrap();
    let mut urls = Recorder::new(tmp.path(), "primary");
    let s = Stack::new().with_env("BROWSER", &urls.script);
    s.ok(&["up"], None);

    let browser = Browser::start().await;
    let page = browser.new_page().await;
    let auth = page
        .enable_virtual_authenticator(AuthenticatorOptions::default())
        .await;

    // init: enroll, then approve the registration with the new passkey (two pages).
    let out = with_passkey(&s, &page, &mut urls, &["init"], 2).await;
    let init = ok(&out);
    assert!(
        init.contains("registered on chain as the first master"),
        "{init}"
    );
    assert!(init.contains("CAP_MINT, RECOVERY, SCOPE_MGMT"), "{init}");
    assert!(init.contains("passkey: enrolled"), "{init}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("passkey needed [primary · localhost]"),
        "{err}"
    );
    assert_eq!(page.credentials(&auth).await.len(), 1);

    // Two agents, each with its own key and actor.
    let coder = s.ok(&["agent", "create", "coder"], None);
    assert!(
        coder.contains("created agent coder (generation 1)"),
        "{coder}"
    );
    s.ok(&["agent", "create", "writer"], None);
    refused(
        &s.run(&["agent", "create", "coder"], None),
        7,
        "agent_exists",
    );
    refused(
        &s.run(&["agent", "create", "Bad_Name"], None),
        7,
        "invalid_agent_label",
    );

    // The scope change is approved with the passkey; the page says what it allows. Opened at
    // an IP address (not a valid RP ID), the page refuses to run at all.
    let child = spawn(&s, &["scope", "set", "coder", "openrouter"]);
    let url = urls.next().await;
    page.navigate(&url.replacen("localhost", "127.0.0.1", 1))
        .await;
    let body = page.eval("document.body.innerText").await;
    assert!(
        body.as_str()
            .unwrap_or_default()
            .contains("not a valid RP ID"),
        "{body}"
    );
    page.navigate(&url).await;
    let out = finish(child).await;
    assert!(
        ok(&out).contains("agent coder: openrouter"),
        "{}",
        text(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Allow agent coder to read openrouter"),
        "{err}"
    );
    let shown = s.ok(&["scope", "show", "coder"], None);
    assert!(shown.contains("agent coder: openrouter"), "{shown}");

    // Secrets for the agent go to its own space; outside its scope they are refused.
    s.ok(
        &["store", "--for", "coder", "openrouter"],
        Some(b"sk-or-for-coder-123"),
    );
    refused(
        &s.run(&["store", "--for", "coder", "anthropic"], Some(b"sk-ant-1")),
        6,
        "service_not_in_scope",
    );
    s.ok(&["store", "openrouter"], Some(b"sk-or-of-the-operator"));
    s.ok(&["store", "anthropic"], Some(b"sk-ant-of-the-operator"));

    // The agent's own storage credentials reach its in-scope object only: storage asks the
    // chain too, so an object of another service under its own prefix is refused.
    let creds = StorageCreds::parse(&s.ok(&["aws", "env", "--agent", "coder"], None));
    let s3 = creds.client();
    assert_eq!(get_code(&s3, &creds, "openrouter.enc").await, "ok");
    assert_eq!(get_code(&s3, &creds, "anthropic.enc").await, "AccessDenied");
    let put = s3
        .put_object()
        .bucket(creds.bucket())
        .key(format!("{}anthropic.enc", creds.prefix()))
        .body(b"planted".to_vec().into())
        .send()
        .await;
    assert_eq!(s3_code(put), "AccessDenied");
    let delete = s3
        .delete_object()
        .bucket(creds.bucket())
        .key(format!("{}anthropic.enc", creds.prefix()))
        .send()
        .await;
    assert_eq!(s3_code(delete), "AccessDenied");

    // The agent's child: its own in-scope secret, nothing else, and only with its token.
    let ak = agentkeys_tests::bin("agentkeys");
    let ak = ak.display();
    let script = format!(
        "printf 'env=%s\\n' \"$OPENROUTER\"; \
         printf 'read=%s\\n' \"$({ak} read openrouter)\"; \
         {ak} read anthropic; echo \"out_of_scope=$?\"; \
         AGENTKEYS_AGENT=writer {ak} read openrouter; echo \"other_agent=$?\"; \
         env -u AGENTKEYS_AGENT_TOKEN {ak} read openrouter; echo \"no_token=$?\"; \
         AGENTKEYS_AGENT_TOKEN=akt_forged {ak} read openrouter; echo \"forged=$?\"; \
         {ak} agent create evil; echo \"manage=$?\"; \
         {ak} run --agent writer -- true; echo \"nested=$?\""
    );
    let out = s.run(
        &[
            "run",
            "--agent",
            "coder",
            "--no-masking",
            "--env",
            "OPENROUTER=openrouter",
            "--",
            "sh",
            "-c",
            &script,
        ],
        None,
    );
    let stdout = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(stdout.contains("env=sk-or-for-coder-123"), "{}", text(&out));
    assert!(
        stdout.contains("read=sk-or-for-coder-123"),
        "{}",
        text(&out)
    );
    assert!(stdout.contains("out_of_scope=6"), "{}", text(&out));
    assert!(stderr.contains("(service_not_in_scope)"), "{stderr}");
    assert!(stdout.contains("other_agent=6"), "{}", text(&out));
    assert!(stderr.contains("(agent_token_invalid)"), "{stderr}");
    assert!(stdout.contains("no_token=6"), "{}", text(&out));
    assert!(stderr.contains("(agent_token_missing)"), "{stderr}");
    assert!(stdout.contains("forged=6"), "{}", text(&out));
    assert!(stdout.contains("manage=6"), "{}", text(&out));
    assert!(stdout.contains("nested=6"), "{}", text(&out));
    assert!(stderr.contains("(agent_not_permitted)"), "{stderr}");
    // The token died with the child.
    let out = s
        .command(&["read", "openrouter"])
        .env("AGENTKEYS_AGENT", "coder")
        .env("AGENTKEYS_AGENT_TOKEN", "akt_0")
        .output()
        .unwrap();
    refused(&out, 6, "agent_token_invalid");

    // Another agent's child sees nothing of coder's.
    let out = s.run(
        &[
            "run",
            "--agent",
            "writer",
            "--env",
            "openrouter",
            "--",
            "true",
        ],
        None,
    );
    refused(&out, 6, "service_not_in_scope");

    // User verification off: the browser refuses, the person cancels, nothing changes.
    page.set_user_verified(&auth, false).await;
    let child = spawn(&s, &["scope", "set", "coder", "openrouter,anthropic"]);
    urls.approve_next(&page).await;
    page.wait_for(
        "document.body.dataset.state === 'error'",
        Duration::from_secs(30),
    )
    .await;
    page.eval("document.getElementById('cancel').click()").await;
    refused(&finish(child).await, 6, "ceremony_failed");
    page.set_user_verified(&auth, true).await;
    let shown = s.ok(&["scope", "show", "coder"], None);
    assert!(shown.contains("agent coder: openrouter\n"), "{shown}");

    // Revoking the scope (the passkey again) leaves the agent nothing to read.
    let out = with_passkey(&s, &page, &mut urls, &["scope", "revoke", "coder"], 1).await;
    assert!(ok(&out).contains("agent coder: (none)"), "{}", text(&out));
    // The credentials minted while it was in scope stop reaching the object within a second.
    let took = denied_within(Duration::from_secs(1), || {
        get_code(&s3, &creds, "openrouter.enc")
    })
    .await;
    println!(
        "storage refused an out-of-scope object {} ms after the scope revoke",
        took.as_millis()
    );
    refused(
        &s.run(
            &[
                "run",
                "--agent",
                "coder",
                "--env",
                "openrouter",
                "--",
                "true",
            ],
            None,
        ),
        6,
        "service_not_in_scope",
    );

    // Revocation: the agent's children are refused at once.
    assert_eq!(list_code(&s3, &creds).await, "ok");
    // With --purge, the master then deletes the agent's objects, out of scope or not, each
    // through the vault and so into the audit trail.
    let revoked = s.ok(&["agent", "revoke", "coder", "--purge"], None);
    assert!(
        revoked.contains("revoked agent coder on chain"),
        "{revoked}"
    );
    assert!(
        revoked.contains("deleted credentials openrouter"),
        "{revoked}"
    );
    let log: serde_json::Value =
        serde_json::from_str(&s.ok(&["audit", "log", "--json"], None)).unwrap();
    let agents: serde_json::Value =
        serde_json::from_str(&s.ok(&["agent", "list", "--json"], None)).unwrap();
    let coder_actor = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "coder")
        .unwrap()["actor"]
        .clone();
    assert!(
        log["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["op"] == "teardown"
                && r["service"] == "openrouter"
                && r["actor"] == coder_actor
                && r["outcome"] == "ok"),
        "{log}"
    );
    // Its storage credentials, which needed no scope to list its own prefix, stop too.
    let took = denied_within(Duration::from_secs(1), || list_code(&s3, &creds)).await;
    println!(
        "storage refused a revoked agent's credentials {} ms after the revocation",
        took.as_millis()
    );
    refused(
        &s.run(&["run", "--agent", "coder", "--", "true"], None),
        6,
        "agent_revoked",
    );
    let list = s.ok(&["agent", "list"], None);
    assert!(list.contains("revoked"), "{list}");

    page.close().await;
    drop(browser);
}
