//! `agentkeys`: the command-line client of the AgentKeys daemon.
//!
//! Every failure prints exactly one line, `agentkeys: <message> (<code>)`, on stderr and
//! exits with the code's exit status (`docs/errors.md`); usage errors exit 2.

mod agent_token;
mod args;
mod commands;
mod daemon_client;
mod error;
mod http1;
mod input;
mod jobs;
mod output;
mod run;
mod spinner;
mod stack;
mod units;

use clap::Parser;

use crate::error::CliError;

fn main() {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        // Prints usage (exit 2) or help/version (exit 0).
        Err(e) => e.exit(),
    };
    let code = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => {
            let result = runtime.block_on(commands::dispatch(cli.command));
            // Stop leftover tasks (connection drivers) before exiting.
            drop(runtime);
            match result {
                Ok(code) => code,
                Err(e) => report(&e),
            }
        }
        Err(e) => report(&CliError::new(
            agentkeys_core::ErrorCode::Internal,
            format!("cannot start the async runtime: {e}"),
        )),
    };
    std::process::exit(code);
}

fn report(e: &CliError) -> i32 {
    output::note(&format!("agentkeys: {e}"));
    e.exit
}
