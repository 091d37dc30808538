//! The ceremony page: HTML and inline JS, no external resources. It shows the role (label and
//! colour), the RP ID and the operation in words, fetches the options, runs
//! `navigator.credentials.create()` or `.get()`, posts the result and shows the outcome.
//!
//! For automation (the headless-Chromium tests), `document.body.dataset.state` moves through
//! `loading`, `waiting`, `verifying`, then `done` or `failed` (`error` while a browser failure
//! waits for Try again / Cancel), and `#status` holds the text shown.

use super::Role;

pub(crate) struct PageSpec<'a> {
    pub role: Role,
    pub title: &'a str,
    pub operation: &'a str,
    pub nonce: &'a str,
}

/// Only the page's own nonce-tagged script and style run; it may talk to its own origin only.
pub(crate) fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

pub(crate) fn render(spec: &PageSpec<'_>) -> String {
    let role = spec.role;
    let mut html = String::with_capacity(8 * 1024);
    html.push_str(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>AgentKeys: "#,
    );
    html.push_str(&escape(spec.title));
    html.push_str("</title>\n<style nonce=\"");
    html.push_str(spec.nonce);
    html.push_str("\">\n:root { --accent: ");
    html.push_str(role.colour());
    html.push_str(";}\n");
    html.push_str(STYLE);
    html.push_str("</style></head>\n<body data-state=\"loading\" data-role=\"");
    html.push_str(match role {
        Role::Primary => "primary",
        Role::Companion => "companion",
    });
    html.push_str("\">\n<main>\n<p class=\"role\" id=\"role\">");
    html.push_str(&escape(role.label()));
    html.push_str("</p>\n<h1>");
    html.push_str(&escape(spec.title));
    html.push_str("</h1>\n<p class=\"operation\" id=\"operation\">");
    html.push_str(&escape(spec.operation));
    html.push_str("</p>\n<p class=\"rp\">Passkey for <code id=\"rp-id\">");
    html.push_str(&escape(role.rp_id()));
    html.push_str(
        "</code></p>\n<p id=\"status\" role=\"status\" aria-live=\"polite\">Loading…</p>\n\
         <p class=\"buttons\"><button id=\"retry\" hidden>Try again</button> \
         <button id=\"cancel\" hidden>Cancel</button></p>\n\
         <p class=\"hint\">This page serves one approval and then stops. Only approve an \
         operation you started.</p>\n</main>\n<script nonce=\"",
    );
    html.push_str(spec.nonce);
    html.push_str("\">\n");
    html.push_str(SCRIPT);
    html.push_str("</script>\n</body></html>\n");
    html
}

/// HTML text and attribute escaping.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body { font-family: system-ui, sans-serif; margin: 0; background: #f8fafc; color: #0f172a; }
main { max-width: 36rem; margin: 3rem auto; padding: 2rem; background: #fff;
  border-top: 0.5rem solid var(--accent); border-radius: 0.5rem;
  box-shadow: 0 1px 4px rgba(0,0,0,.15); }
.role { display: inline-block; margin: 0; padding: .2rem .7rem; border-radius: 1rem;
  background: var(--accent); color: #fff; font-weight: 600; letter-spacing: .03em; }
h1 { font-size: 1.4rem; }
.operation { font-size: 1.2rem; font-weight: 600; white-space: pre-wrap; }
.rp code { background: #f1f5f9; padding: .1rem .3rem; border-radius: .2rem; }
#status { padding: .6rem; border-radius: .3rem; background: #f1f5f9; }
body[data-state="done"] #status { background: #dcfce7; color: #14532d; }
body[data-state="failed"] #status, body[data-state="error"] #status {
  background: #fee2e2; color: #7f1d1d; }
.hint { color: #64748b; font-size: .85rem; }
button { font-size: 1rem; padding: .4rem 1rem; }
"#;

const SCRIPT: &str = r#"(() => {
  'use strict';
  const base = location.pathname;
  const statusEl = document.getElementById('status');
  const retry = document.getElementById('retry');
  const cancel = document.getElementById('cancel');
  let lastError = null;
  const show = (state, text) => {
    document.body.dataset.state = state;
    statusEl.textContent = text;
  };
  const enc = (buf) => {
    const bytes = new Uint8Array(buf);
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  const dec = (text) => {
    const s = text.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(s + '='.repeat((4 - s.length % 4) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  };
  const buttons = (visible) => { retry.hidden = !visible; cancel.hidden = !visible; };
  const post = async (body) => {
    buttons(false);
    let resp;
    try {
      resp = await fetch(base + '/result', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (e) {
      show('failed', 'Could not reach the AgentKeys daemon: ' + e.message);
      return;
    }
    const answer = await resp.json().catch(() => ({}));
    if (resp.ok) {
      show('done', (answer.message || 'Done.') + ' You can close this page.');
    } else if (answer.error) {
      show('failed', answer.error.message + ' (' + answer.error.code + ')');
    } else {
      show('failed', 'The daemon answered HTTP ' + resp.status);
    }
  };
  const run = async () => {
    buttons(false);
    show('loading', 'Loading…');
    if (!window.PublicKeyCredential || !navigator.credentials) {
      lastError = { name: 'NotSupportedError', message: 'this browser has no WebAuthn' };
      show('error', 'This browser does not support passkeys (WebAuthn).');
      buttons(true);
      return;
    }
    let opts;
    try {
      const resp = await fetch(base + '/options', { cache: 'no-store' });
      opts = await resp.json();
      if (!resp.ok) throw new Error(opts.error ? opts.error.message : 'HTTP ' + resp.status);
    } catch (e) {
      show('failed', 'Could not load the ceremony: ' + e.message);
      return;
    }
    const pk = opts.publicKey;
    let cred;
    show('waiting', 'Waiting for your passkey…');
    try {
      pk.challenge = dec(pk.challenge);
      if (opts.kind === 'create') {
        pk.user.id = dec(pk.user.id);
        (pk.excludeCredentials || []).forEach((c) => { c.id = dec(c.id); });
        cred = await navigator.credentials.create({ publicKey: pk });
      } else {
        (pk.allowCredentials || []).forEach((c) => { c.id = dec(c.id); });
        cred = await navigator.credentials.get({ publicKey: pk });
      }
      if (!cred) throw { name: 'NotAllowedError', message: 'no credential was returned' };
    } catch (e) {
      lastError = { name: String(e.name || 'Error'), message: String(e.message || e) };
      show('error', 'The passkey did not answer: ' + lastError.name + ': ' + lastError.message);
      buttons(true);
      return;
    }
    const r = cred.response;
    const out = { id: cred.id, rawId: enc(cred.rawId), type: cred.type };
    if (opts.kind === 'create') {
      out.response = {
        attestationObject: enc(r.attestationObject),
        clientDataJSON: enc(r.clientDataJSON),
      };
    } else {
      out.response = {
        authenticatorData: enc(r.authenticatorData),
        clientDataJSON: enc(r.clientDataJSON),
        signature: enc(r.signature),
        userHandle: r.userHandle ? enc(r.userHandle) : null,
      };
    }
    show('verifying', 'Verifying…');
    await post({ credential: out });
  };
  retry.addEventListener('click', run);
  cancel.addEventListener('click', () => post({
    error: lastError || { name: 'AbortError', message: 'cancelled on the page' },
  }));
  run();
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_operation_and_shows_role_and_rp_id() {
        let html = render(&PageSpec {
            role: Role::Companion,
            title: "Approve",
            operation: "Allow agent <b>coder</b> to read \"x\"",
            nonce: "abc",
        });
        assert!(html.contains("Allow agent &lt;b&gt;coder&lt;/b&gt; to read &quot;x&quot;"));
        assert!(html.contains("Companion device"));
        assert!(html.contains("companion.localhost"));
        assert!(html.contains(Role::Companion.colour()));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }
}
