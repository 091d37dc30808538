//! The command line, declared with clap.

use std::ffi::OsString;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "agentkeys",
    version,
    about = "Give AI agents the secrets they need, through the AgentKeys daemon"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the embedded relay and the daemon (reuses what is already running).
    Up,
    /// Stop the daemon and the embedded relay.
    Down,
    /// Show the daemon's and the relay's state.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create this device's identity (once), sign in to the relay and register the device on
    /// chain as its operator's first master.
    Init,
    /// Store a secret. The value is read from stdin when it is piped (one trailing newline is
    /// removed), else prompted for twice without echo.
    Store {
        service: String,
        /// The value itself (visible in shell history and process listings; prefer stdin).
        #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
        value: Option<String>,
    },
    /// Print a secret's value followed by a newline.
    Read {
        service: String,
        /// Print {"service": .., "value": ..}.
        #[arg(long)]
        json: bool,
    },
    /// List the names of stored secrets.
    List {
        /// Print {"names": [..]}.
        #[arg(long)]
        json: bool,
    },
    /// Remove a secret.
    Rm { service: String },
    /// Run a command with secrets in its environment.
    Run {
        /// NAME=SERVICE puts the secret SERVICE in variable NAME; a bare SERVICE uses its
        /// name uppercased with '-' and '.' turned into '_' (openrouter → OPENROUTER).
        #[arg(long = "env", value_name = "NAME=SERVICE")]
        env: Vec<String>,
        /// Do not replace secret values in the command's output with asterisks.
        #[arg(long)]
        no_masking: bool,
        /// The command and its arguments (after `--`).
        #[arg(
            value_name = "COMMAND",
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        command: Vec<OsString>,
    },
    /// Agent memory: small named values kept apart from credentials.
    Memory {
        #[command(subcommand)]
        command: MemoryCommand,
    },
    /// Manage the daemon as a user service.
    Daemon {
        #[command(subcommand)]
        command: DaemonCommand,
    },
    /// The chain that holds devices, scopes, the key epoch and audit roots.
    Chain {
        #[command(subcommand)]
        command: ChainCommand,
    },
    /// The operator's audit trail: what was released or refused, and proof of it on chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// List the operator's audit records, oldest first.
    Log {
        /// Only records with a larger id.
        #[arg(long, value_name = "ID")]
        after: Option<u64>,
        /// At most this many records (default 50, at most 1000).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Print {"records": [..]} with every field.
        #[arg(long)]
        json: bool,
    },
    /// Check a record against the chain: its hash, its Merkle proof and the anchored root.
    Verify {
        /// The record's id (from `agentkeys audit log`).
        #[arg(value_name = "RECORD_ID")]
        id: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ChainCommand {
    /// Show the adapter, chain id, block, contract addresses and this device's entry.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum MemoryCommand {
    /// Store a value under a namespace (same input rules as `store`).
    Put {
        namespace: String,
        #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
        value: Option<String>,
    },
    /// Print the value of a namespace followed by a newline.
    Get {
        namespace: String,
        /// Print {"namespace": .., "value": ..}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum DaemonCommand {
    /// Write the daemon's systemd user unit (Linux) or LaunchAgent (macOS) and load it.
    Install {
        /// Write the unit but do not load or start it.
        #[arg(long)]
        no_load: bool,
        /// Print the unit and where it would go; change nothing.
        #[arg(long)]
        print: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_everything_after_the_separator() {
        let cli = Cli::try_parse_from([
            "agentkeys",
            "run",
            "--env",
            "A=b",
            "--",
            "sh",
            "-c",
            "echo $A",
            "--env",
        ])
        .unwrap();
        match cli.command {
            Command::Run {
                env,
                no_masking,
                command,
            } => {
                assert_eq!(env, ["A=b"]);
                assert!(!no_masking);
                assert_eq!(command, ["sh", "-c", "echo $A", "--env"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["agentkeys", "run", "--env", "A=b"]).is_err());
    }
}
