//! One module per command group; `dispatch` maps the parsed command line onto them. Each
//! command returns the process exit code.

mod audit;
mod chain;
mod daemon;
mod init;
mod lifecycle;
mod memory;
mod run;
mod secrets;
mod status;
mod values;

use crate::args::{AuditCommand, ChainCommand, Command, DaemonCommand, MemoryCommand};
use crate::error::CliError;

pub async fn dispatch(command: Command) -> Result<i32, CliError> {
    match command {
        Command::Up => lifecycle::up().await,
        Command::Down => lifecycle::down().await,
        Command::Status { json } => status::status(json).await,
        Command::Init => init::init().await,
        Command::Store { service, value } => secrets::store(&service, value).await,
        Command::Read { service, json } => secrets::read(&service, json).await,
        Command::List { json } => secrets::list(json).await,
        Command::Rm { service } => secrets::rm(&service).await,
        Command::Run {
            env,
            no_masking,
            command,
        } => run::run_command(&env, no_masking, command).await,
        Command::Memory { command } => match command {
            MemoryCommand::Put { namespace, value } => memory::put(&namespace, value).await,
            MemoryCommand::Get { namespace, json } => memory::get(&namespace, json).await,
        },
        Command::Daemon { command } => match command {
            DaemonCommand::Install { no_load, print } => daemon::install(no_load, print),
        },
        Command::Chain { command } => match command {
            ChainCommand::Status { json } => chain::status(json).await,
        },
        Command::Audit { command } => match command {
            AuditCommand::Log { after, limit, json } => audit::log(after, limit, json).await,
            AuditCommand::Verify { id, json } => audit::verify(id, json).await,
        },
    }
}
