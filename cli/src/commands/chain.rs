//! `agentkeys chain status`: the adapter, chain id, block, epoch and contract addresses of the
//! relay's chain, and this device's entry on it.

use agentkeys_core::chain::{roles, ChainStatusReport, Tier};
use agentkeys_core::routes;

use crate::daemon_client::DaemonClient;
use crate::error::CliError;
use crate::output;

pub async fn status(rpc_url: Option<String>, json: bool) -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let path = match &rpc_url {
        Some(url) => format!(
            "{}?rpc_url={}",
            routes::daemon::CHAIN_STATUS,
            query_escape(url)
        ),
        None => routes::daemon::CHAIN_STATUS.to_string(),
    };
    let r: ChainStatusReport = client.get(&path).await?;
    if json {
        output::json(&r)?;
        return Ok(0);
    }
    let c = &r.chain;
    let lines = [
        format!("adapter:        {}", c.adapter.as_str()),
        format!("chain id:       {}", c.chain_id),
        format!("block:          {}", c.block_number),
        format!("key epoch:      {}", c.epoch),
        format!("registry:       {}", c.contracts.registry),
        format!("scope:          {}", c.contracts.scope),
        format!("epoch counter:  {}", c.contracts.epoch),
        format!("audit:          {}", c.contracts.audit),
        format!("k11 verifier:   {}", c.contracts.k11_verifier),
        format!("p256 verifier:  {}", c.contracts.p256_verifier),
        format!("relay account:  {}", c.submitter),
    ];
    for l in lines {
        output::line(&l)?;
    }
    match &r.device {
        Some(d) => {
            let tier = match d.tier {
                Tier::Master => "master",
                Tier::Agent => "agent",
            };
            let state = if d.revoked { "revoked" } else { "active" };
            output::line(&format!(
                "this device:    {} {tier}, {state}, roles {}{}",
                d.device,
                roles::names(d.roles).join("+"),
                if d.has_passkey {
                    ", passkey"
                } else {
                    ", no passkey"
                }
            ))?;
        }
        None => output::line("this device:    not registered (run `agentkeys init`)")?,
    }
    if let Some(c) = &r.checked {
        output::line(&format!(
            "checked:        read from the chain at {} (chain {}, block {}): this device's \
             record matches; its operator has {} device(s) on chain",
            c.rpc_url,
            c.chain_id,
            c.block_number,
            c.operator_devices.len()
        ))?;
    }
    Ok(0)
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for a query value.
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_escaped() {
        assert_eq!(
            super::query_escape("http://127.0.0.1:8545/a?b=c&d"),
            "http%3A%2F%2F127.0.0.1%3A8545%2Fa%3Fb%3Dc%26d"
        );
    }
}
