//! `agentkeys-relay serve`: runs the configured roles until SIGTERM or SIGINT.

use agentkeys_relay::{app, chain, config};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "agentkeys-relay",
    version,
    about = "AgentKeys relay: broker, signer, vault and audit roles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the configured roles (all of them by default, with embedded storage).
    Serve {
        /// TOML configuration file; AGENTKEYS_* environment variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on, e.g. 127.0.0.1:8787 (port 0 picks a free port).
        #[arg(long)]
        listen: Option<String>,
        /// Directory for keys, the audit log and embedded objects.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Comma-separated subset of broker,signer,vault,audit.
        #[arg(long)]
        roles: Option<String>,
    },
    /// List the environment variables the relay reads.
    Env,
    /// Chain administration for the `rpc` adapter.
    Chain {
        #[command(subcommand)]
        command: ChainCommand,
    },
}

#[derive(Subcommand)]
enum ChainCommand {
    /// Deploy the AgentKeys contracts to an EVM JSON-RPC node from a funded key, and print the
    /// configuration lines for their addresses.
    Deploy {
        /// JSON-RPC URL of the node.
        #[arg(long)]
        rpc_url: String,
        /// The chain id the node must serve.
        #[arg(long)]
        chain_id: u64,
        /// The relay's funded submitter key (0600): it deploys, governs the epoch counter and
        /// owns the audit contract.
        #[arg(long)]
        submitter_key_file: PathBuf,
    },
}

/// `chain deploy`: the TOML lines for the deployed addresses on stdout.
fn chain_deploy(rpc_url: &str, chain_id: u64, key_file: &std::path::Path) -> ExitCode {
    let result = (|| {
        let key = chain::submitter::load(key_file, false)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        runtime.block_on(chain::rpc::deploy(rpc_url, chain_id, &key))
    })();
    match result {
        Ok(contracts) => {
            for (name, address) in chain::rpc::contract_names(&contracts) {
                println!("{name} = \"{address}\"");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("chain deploy failed: {}", e.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
    tracing::info!("shutdown requested; draining");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Env => {
            for (name, what) in config::ENV_VARS
                .iter()
                .chain(config::CHAIN_ENV_VARS)
                .chain(config::CLOUD_ENV_VARS)
                .chain(config::SIGNIN_ENV_VARS)
                .chain(config::SPONSOR_ENV_VARS)
            {
                println!("{name:32} {what}");
            }
            ExitCode::SUCCESS
        }
        Command::Chain {
            command:
                ChainCommand::Deploy {
                    rpc_url,
                    chain_id,
                    submitter_key_file,
                },
        } => chain_deploy(&rpc_url, chain_id, &submitter_key_file),
        Command::Serve {
            config: file,
            listen,
            data_dir,
            roles,
        } => {
            let overrides = config::Overrides {
                listen,
                data_dir,
                roles,
            };
            let cfg = match config::load(file.as_deref(), &overrides) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(78);
                }
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("BOOT_FAIL: runtime: {e}");
                    return ExitCode::from(78);
                }
            };
            match runtime.block_on(app::run(cfg, shutdown_signal())) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(78)
                }
            }
        }
    }
}
