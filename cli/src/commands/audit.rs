//! `agentkeys audit log` and `agentkeys audit verify`: the operator's audit trail as the relay
//! recorded it, and one record checked against the chain by the daemon.

use agentkeys_core::chain::{
    AuditLogResponse, AuditRecordView, AuditVerifyRequest, AuditVerifyResponse,
};
use agentkeys_core::routes::daemon as route;

use crate::daemon_client::DaemonClient;
use crate::error::CliError;
use crate::output;

pub async fn log(after: Option<u64>, limit: Option<usize>, json: bool) -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let mut path = format!("{}?after={}", route::AUDIT_LOG, after.unwrap_or(0));
    if let Some(limit) = limit {
        path.push_str(&format!("&limit={limit}"));
    }
    let resp: AuditLogResponse = client.get(&path).await?;
    if json {
        output::json(&resp)?;
    } else {
        for line in table(&resp.records) {
            output::line(&line)?;
        }
    }
    Ok(0)
}

pub async fn verify(id: u64, rpc_url: Option<String>, json: bool) -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let resp: AuditVerifyResponse = client
        .post(route::AUDIT_VERIFY, &AuditVerifyRequest { id, rpc_url })
        .await?;
    if json {
        output::json(&resp)?;
    } else {
        output::line(&describe(&resp))?;
    }
    Ok(0)
}

/// One line for a verified record.
fn describe(v: &AuditVerifyResponse) -> String {
    let place = match (v.block_number, &v.tx_hash) {
        (Some(block), Some(tx)) => format!(" in block {block}, tx {tx}"),
        (Some(block), None) => format!(" in block {block}"),
        _ => format!(" at {}", utc_iso_millis(v.anchored_at as i64 * 1000)),
    };
    format!(
        "record {} is anchored: root #{} ({}){place}; proof checked against the chain",
        v.id, v.root_index, v.root
    )
}

const HEADERS: [&str; 8] = [
    "ID", "TIME", "DEVICE", "ACTOR", "SERVICE", "OP", "CLASS", "OUTCOME",
];

/// The records as aligned columns, a header first. Actors are 64 hex characters; they are
/// shortened to their first 12 so a row fits a terminal (`--json` has them whole).
fn table(records: &[AuditRecordView]) -> Vec<String> {
    let rows: Vec<[String; 8]> = records
        .iter()
        .map(|r| {
            [
                r.id.to_string(),
                utc_iso_millis(r.time_ms),
                r.device.clone(),
                shorten(&r.actor, 12),
                r.service.clone(),
                r.op.clone(),
                r.data_class.clone(),
                r.outcome.clone(),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let render = |cells: [&str; 8]| {
        let mut line = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  "));
            }
        }
        line
    };
    let mut out = vec![render(HEADERS)];
    for row in &rows {
        out.push(render(row.each_ref().map(String::as_str)));
    }
    out
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// `2024-05-01T12:34:56.789Z` for Unix milliseconds.
fn utc_iso_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse() {
        use crate::args::{AuditCommand, Cli, Command};
        use clap::Parser;
        let parse = |args: &[&str]| match Cli::try_parse_from(args).map(|c| c.command) {
            Ok(Command::Audit { command }) => Some(command),
            _ => None,
        };
        assert!(matches!(
            parse(&[
                "agentkeys",
                "audit",
                "log",
                "--after",
                "3",
                "--limit",
                "5",
                "--json"
            ]),
            Some(AuditCommand::Log {
                after: Some(3),
                limit: Some(5),
                json: true
            })
        ));
        assert!(matches!(
            parse(&["agentkeys", "audit", "log"]),
            Some(AuditCommand::Log {
                after: None,
                limit: None,
                json: false
            })
        ));
        assert!(matches!(
            parse(&["agentkeys", "audit", "verify", "12"]),
            Some(AuditCommand::Verify {
                id: 12,
                rpc_url: None,
                json: false
            })
        ));
        assert!(matches!(
            parse(&["agentkeys", "audit", "verify", "12", "--rpc-url", "http://127.0.0.1:8545"]),
            Some(AuditCommand::Verify {
                id: 12,
                rpc_url: Some(u),
                json: false
            }) if u == "http://127.0.0.1:8545"
        ));
        assert!(parse(&["agentkeys", "audit", "verify"]).is_none());
        assert!(parse(&["agentkeys", "audit", "verify", "-1"]).is_none());
    }

    #[test]
    fn utc_times() {
        assert_eq!(utc_iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            utc_iso_millis(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(utc_iso_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(utc_iso_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    fn view(id: u64, service: &str) -> AuditRecordView {
        AuditRecordView {
            id,
            time_ms: 1_700_000_000_000,
            operator: "ab".repeat(32),
            device: format!("0x{}", "cd".repeat(20)),
            actor: "ef".repeat(32),
            service: service.into(),
            op: "fetch".into(),
            data_class: "credentials".into(),
            outcome: "ok".into(),
            cap_jti_hash: "00".repeat(32),
            prev_hash: "00".repeat(32),
            hash: "11".repeat(32),
        }
    }

    #[test]
    fn table_aligns_columns() {
        let lines = table(&[view(9, "github"), view(10, "openrouter")]);
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("ID  TIME"), "{}", lines[0]);
        assert!(lines[1].starts_with("9   2023-11-14T22:13:20.000Z  0xcdcd"));
        assert!(lines[2].contains("efefefefefef…  openrouter  fetch"));
        let col = |l: &str| l.find("fetch").unwrap();
        assert_eq!(col(&lines[1]), col(&lines[2]));
        assert_eq!(table(&[]).len(), 1);
    }

    #[test]
    fn verified_line() {
        let mut v = AuditVerifyResponse {
            id: 12,
            record_hash: "11".repeat(32),
            anchored: true,
            operator: "ab".repeat(32).parse().unwrap(),
            root_index: 3,
            root: format!("0x{}", "22".repeat(32)),
            count: 5,
            anchored_at: 1_700_000_000,
            block_number: Some(45),
            tx_hash: Some(format!("0x{}", "33".repeat(32))),
        };
        assert_eq!(
            describe(&v),
            format!(
                "record 12 is anchored: root #3 (0x{}) in block 45, tx 0x{}; proof checked \
                 against the chain",
                "22".repeat(32),
                "33".repeat(32)
            )
        );
        v.block_number = None;
        v.tx_hash = None;
        assert!(describe(&v).contains(" at 2023-11-14T22:13:20.000Z; proof checked"));
    }
}
