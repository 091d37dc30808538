//! A machine without a browser approving through a companion elsewhere (ARCHITECTURE §10):
//! the "server" daemon never opens a page; its K11 is the companion's passkey, and every
//! grant it makes (its own registration, an agent's scope) is approved on the companion, with
//! the request travelling through the relay. Real CLI, daemons and embedded relay; the
//! companion's pages run in headless Chromium with a virtual authenticator.

use agentkeys_tests::browser::{AuthenticatorOptions, Browser};
use agentkeys_tests::passkey_flow::*;
use agentkeys_tests::stack::Stack;

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_a_browser_is_approved_from_a_companion() {
    let tmp = tempfile::tempdir().unwrap();
    let server_pages = Recorder::new(tmp.path(), "server");
    let mut laptop = Recorder::new(tmp.path(), "laptop");
    let s = Stack::new().with_env("BROWSER", &server_pages.script);
    s.ok(&["up"], None);
    let relay_url = relay_url(&s);

    let browser = Browser::start().await;
    let page = browser.new_page().await;
    page.enable_virtual_authenticator(AuthenticatorOptions::default())
        .await;

    // The laptop: a companion with its passkey, in its own home.
    let laptop_home = tempfile::Builder::new()
        .prefix("ak")
        .tempdir_in("/tmp")
        .unwrap();
    let _laptop = companion(laptop_home.path(), &relay_url, &laptop.script);
    ok(&companion_init(&s, laptop_home.path(), &mut laptop, &page).await);
    let who = tmp.path().join("laptop-whoami.json");
    std::fs::write(&who, companion_whoami(&s, laptop_home.path())).unwrap();

    // The server registers with the laptop's passkey; the laptop's page names the asker.
    let child = spawn(&s, &["init", "--approver", who.to_str().unwrap()]);
    laptop.approve_next(&page).await;
    let shown = page_text_when_done(&page).await;
    assert!(
        shown.contains("Register this device as your first master"),
        "{shown}"
    );
    assert!(shown.contains("asked by device 0x"), "{shown}");
    assert!(shown.contains("companion.localhost"), "{shown}");
    let out = finish(child).await;
    let init = ok(&out);
    assert!(
        init.contains("CAP_MINT, RECOVERY, SCOPE_MGMT"),
        "{}",
        text(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("waiting for 1 approval(s)"), "{err}");

    // An agent's scope, approved on the laptop; the agent then reads its secret.
    s.ok(&["agent", "create", "coder"], None);
    let child = spawn(&s, &["scope", "set", "coder", "openrouter"]);
    laptop.approve_next(&page).await;
    // The laptop recomputed the challenge from the request's parameters and says so.
    let shown = page_text_when_done(&page).await;
    assert!(
        shown.contains("Allow agent coder to read openrouter"),
        "{shown}"
    );
    assert!(shown.contains("may read openrouter"), "{shown}");
    assert!(shown.contains("checked:"), "{shown}");
    let out = finish(child).await;
    assert!(
        ok(&out).contains("agent coder: openrouter"),
        "{}",
        text(&out)
    );
    s.ok(
        &["store", "--for", "coder", "openrouter"],
        Some(b"sk-or-server-1"),
    );
    let out = s.run(
        &[
            "run",
            "--agent",
            "coder",
            "--no-masking",
            "--env",
            "K=openrouter",
            "--",
            "sh",
            "-c",
            "printf %s \"$K\"",
        ],
        None,
    );
    assert_eq!(ok(&out), "sk-or-server-1");

    // The server never opened a page of its own.
    assert_eq!(server_pages.opened(), 0);
    page.close().await;
    drop(browser);
}
