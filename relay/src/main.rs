//! `agentkeys-relay serve`: runs the configured roles until SIGTERM or SIGINT.

use agentkeys_relay::{app, config};
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
            for (name, what) in config::ENV_VARS {
                println!("{name:32} {what}");
            }
            ExitCode::SUCCESS
        }
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
