//! Companions and M-of-N recovery end to end, with a real headless Chromium and a virtual
//! authenticator. Three real daemons share one embedded relay: the primary, a companion on
//! the same machine (RP ID companion.localhost, its own key, socket and files) and a spare
//! master in another home. Each opens its ceremony pages through its own recording `$BROWSER`,
//! so the test knows which device asks; approvals between devices travel through the relay.
//!
//! init → companion init → device add (primary's passkey + the companion's own proof) →
//! spare added the same way → threshold 2 → stranding refused before anything is shown →
//! the spare revoked by 2-of-2 (primary + companion) → the spare's requests refused.

use agentkeys_tests::browser::{AuthenticatorOptions, Browser};
use agentkeys_tests::passkey_flow::*;
use agentkeys_tests::socket::call;
use agentkeys_tests::stack::Stack;

#[tokio::test(flavor = "multi_thread")]
async fn companions_approve_additions_and_a_two_of_two_revocation() {
    let tmp = tempfile::tempdir().unwrap();
    let mut primary = Recorder::new(tmp.path(), "primary");
    let mut comp = Recorder::new(tmp.path(), "companion");
    let mut spare_rec = Recorder::new(tmp.path(), "spare");
    let s = Stack::new().with_env("BROWSER", &primary.script);
    s.ok(&["up"], None);
    let relay_url = relay_url(&s);

    let browser = Browser::start().await;
    let page = browser.new_page().await;
    page.enable_virtual_authenticator(AuthenticatorOptions::default())
        .await;

    ok(&with_passkey(&s, &page, &mut primary, &["init"], 2).await);

    // The companion on this machine, and a spare master in another home.
    // The same-machine companion through the CLI (stopped by `down` when the stack drops).
    let started = s
        .command(&["companion", "start"])
        .env("BROWSER", &comp.script)
        .output()
        .unwrap();
    assert!(
        ok(&started).contains("companion: started"),
        "{}",
        text(&started)
    );
    let again = s.ok(&["companion", "start"], None);
    assert!(again.contains("already running"), "{again}");
    let spare_home = tempfile::Builder::new()
        .prefix("ak")
        .tempdir_in("/tmp")
        .unwrap();
    let _spare = companion(spare_home.path(), &relay_url, &spare_rec.script);

    let out = companion_init(&s, s.home(), &mut comp, &page).await;
    assert!(ok(&out).contains("companion device: 0x"), "{}", text(&out));
    let comp_who: serde_json::Value =
        serde_json::from_str(&companion_whoami(&s, s.home())).unwrap();
    assert_eq!(comp_who["rp_id"], "companion.localhost");
    let comp_addr = comp_who["device"].as_str().unwrap().to_string();

    // No socket API of the companion signs a challenge its caller chose: it approves only
    // relay requests, whose challenge it recomputes (below), and no page opens for this.
    let sock = s.home().join("run/companion.sock");
    let opened = comp.opened();
    let body = serde_json::json!({
        "operation": "Approve a test challenge",
        "challenge": format!("0x{}", "ab".repeat(32)),
    });
    let (status, answer) = call(&sock, "POST", "/v1/companion/approve", &body.to_string()).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("route_not_found")),
        "{answer}"
    );
    assert_eq!(comp.opened(), opened);

    ok(&companion_init(&s, spare_home.path(), &mut spare_rec, &page).await);
    let spare_who_file = tmp.path().join("spare-whoami.json");
    let spare_who = companion_whoami(&s, spare_home.path());
    std::fs::write(&spare_who_file, &spare_who).unwrap();
    let spare_who: serde_json::Value = serde_json::from_str(&spare_who).unwrap();
    let spare_addr = spare_who["device"].as_str().unwrap().to_string();

    // device add: the primary's passkey approves, the companion proves its own (via the relay).
    let child = spawn(&s, &["device", "add"]);
    primary.approve_next(&page).await;
    comp.approve_next(&page).await;
    let out = finish(child).await;
    let added = ok(&out);
    eprintln!("device add: {added}");
    assert!(
        added.contains(&format!("added master {comp_addr}")),
        "{}",
        text(&out)
    );
    assert!(added.contains("recovery: 1 of 2"), "{added}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("passkey needed [primary · localhost]: Add device"),
        "{err}"
    );

    // The spare, from its pasted whoami (as from another machine).
    let child = spawn(
        &s,
        &[
            "device",
            "add",
            "--whoami",
            spare_who_file.to_str().unwrap(),
        ],
    );
    primary.approve_next(&page).await;
    spare_rec.approve_next(&page).await;
    let out = finish(child).await;
    assert!(ok(&out).contains("recovery: 1 of 3"), "{}", text(&out));
    // A device registered already is refused before any page.
    refused(
        &s.run(
            &[
                "device",
                "add",
                "--whoami",
                spare_who_file.to_str().unwrap(),
            ],
            None,
        ),
        6,
        "device_already_registered",
    );

    // The spare is a master of the same operator: it reads the operator's secrets.
    s.ok(&["store", "openrouter"], Some(b"sk-or-shared-1"));
    let spare_read = companion_cli(&s, spare_home.path(), &["read", "openrouter"])
        .output()
        .unwrap();
    assert_eq!(ok(&spare_read).trim(), "sk-or-shared-1");

    // Threshold 2: the current threshold (1) needs this device's passkey only.
    let out = with_passkey(&s, &page, &mut primary, &["recover", "threshold", "2"], 1).await;
    let changed = ok(&out);
    eprintln!("threshold: {changed}");
    assert!(changed.contains("recovery: 2 of 3"), "{}", text(&out));
    refused(
        &s.run(&["recover", "threshold", "4"], None),
        7,
        "threshold_invalid",
    );

    // The spare is revoked by 2-of-2: this device, then the companion through the relay.
    let opened_by_spare = spare_rec.opened();
    let child = spawn(&s, &["recover", "revoke-device", &spare_addr]);
    primary.approve_next(&page).await;
    comp.approve_next(&page).await;
    let out = finish(child).await;
    let revoked = ok(&out);
    eprintln!("revoke-device: {revoked}");
    assert!(
        revoked.contains(&format!("revoked master {spare_addr}")),
        "{}",
        text(&out)
    );
    assert!(
        revoked.contains(&comp_addr),
        "the companion approved: {revoked}"
    );
    assert!(revoked.contains("recovery: 2 of 2"), "{revoked}");
    assert_eq!(
        spare_rec.opened(),
        opened_by_spare,
        "the target is never asked"
    );

    // The revoked device is refused by the relay at once.
    let spare_read = companion_cli(&s, spare_home.path(), &["read", "openrouter"])
        .output()
        .unwrap();
    refused(&spare_read, 6, "device_revoked");

    // Now revoking the companion would strand the operator: refused before any page.
    let before = primary.opened();
    refused(
        &s.run(&["recover", "revoke-device", &comp_addr], None),
        6,
        "would_strand",
    );
    assert_eq!(primary.opened(), before, "nothing was shown");
    // A master of another operator cannot ask this operator's companion for anything: the
    // relay refuses to deliver the request.
    let other_home = tempfile::Builder::new()
        .prefix("ak")
        .tempdir_in("/tmp")
        .unwrap();
    let other_pages = Recorder::new(tmp.path(), "other");
    let _other = daemon(other_home.path(), &relay_url, &other_pages.script, false);
    let other = |args: &[&str]| {
        s.command(args)
            .env("AGENTKEYS_HOME", other_home.path())
            .output()
            .unwrap()
    };
    ok(&other(&["init", "--no-passkey"]));
    let comp_who_file = tmp.path().join("companion-whoami.json");
    std::fs::write(&comp_who_file, companion_whoami(&s, s.home())).unwrap();
    let opened_by_companion = comp.opened();
    refused(
        &other(&["init", "--approver", comp_who_file.to_str().unwrap()]),
        6,
        "approver_not_permitted",
    );
    assert_eq!(
        comp.opened(),
        opened_by_companion,
        "the companion showed nothing"
    );
    assert_eq!(other_pages.opened(), 0);

    let devices = s.ok(&["device", "list"], None);
    assert!(devices.contains("2 of 2 RECOVERY masters"), "{devices}");
    assert!(
        devices.contains(&format!("{spare_addr} master revoked")),
        "{devices}"
    );

    page.close().await;
    drop(browser);
}
