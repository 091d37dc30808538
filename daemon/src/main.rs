//! `agentkeys-daemon serve [--relay-url URL] [--socket PATH] [--keychain MODE] [--companion]`

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use agentkeys_daemon::config::{DaemonConfig, Overrides};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "agentkeys-daemon",
    version,
    about = "AgentKeys per-machine daemon"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the CLI and agents on the Unix socket until SIGTERM or SIGINT.
    Serve {
        /// Relay base URL (overrides AGENTKEYS_RELAY_URL and daemon.toml).
        #[arg(long, value_name = "URL")]
        relay_url: Option<String>,
        /// Socket path (overrides AGENTKEYS_SOCKET).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// Where the device key lives: auto, os or file (overrides AGENTKEYS_KEYCHAIN).
        #[arg(long, value_name = "MODE")]
        keychain: Option<String>,
        /// Run as a companion device: its own key, passkey (RP ID companion.localhost),
        /// socket (companion.sock) and files; it approves what the primary asks.
        #[arg(long)]
        companion: bool,
        /// `relay` (default: the vault seals and stores) or `direct` (this daemon seals and
        /// stores with its own actor-scoped credentials; overrides
        /// AGENTKEYS_CREDENTIAL_BACKEND).
        #[arg(long, value_name = "BACKEND")]
        credential_backend: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in log files.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let Command::Serve {
        relay_url,
        socket,
        keychain,
        companion,
        credential_backend,
    } = cli.command;
    let config = match DaemonConfig::load(Overrides {
        relay_url,
        keychain,
        socket,
        credential_backend,
        companion,
        chain_rpc_url: None,
    }) {
        Ok(config) => config,
        Err(e) => return fail(&format!("configuration: {e}")),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(agentkeys_daemon::server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    // Not eprintln!: it panics when stderr is closed.
    let _ = writeln!(std::io::stderr(), "agentkeys-daemon: {message}");
    ExitCode::FAILURE
}
