//! One module per command group; `dispatch` maps the parsed command line onto them. Each
//! command returns the process exit code.

mod agent;
mod audit;
mod aws;
mod aws_endpoint;
mod chain;
mod companion;
mod daemon;
mod device;
mod init;
mod lifecycle;
mod memory;
mod run;
mod scope;
mod secrets;
mod status;
mod values;

use crate::args::{
    AgentCommand, AuditCommand, AwsCommand, ChainCommand, Command, CompanionCommand, DaemonCommand,
    DeviceCommand, MemoryCommand, RecoverCommand, ScopeCommand,
};
use crate::error::CliError;

pub async fn dispatch(command: Command) -> Result<i32, CliError> {
    match command {
        Command::Up => lifecycle::up().await,
        Command::Down => lifecycle::down().await,
        Command::Status { json } => status::status(json).await,
        Command::Init {
            no_passkey,
            approver,
            approver_socket,
            repin,
            new_identity,
        } => init::init(!no_passkey, approver, approver_socket, repin, new_identity).await,
        Command::Store {
            service,
            for_agent,
            value,
        } => secrets::store(&service, for_agent.as_deref(), value).await,
        Command::Read { service, json } => secrets::read(&service, json).await,
        Command::List { json } => secrets::list(json).await,
        Command::Rm { service } => secrets::rm(&service).await,
        Command::Run {
            agent,
            env,
            no_masking,
            command,
        } => run::run_command(agent.as_deref(), &env, no_masking, command).await,
        Command::Agent { command } => match command {
            AgentCommand::Create { name } => agent::create(&name).await,
            AgentCommand::List { json } => agent::list(json).await,
            AgentCommand::Revoke { name, purge } => agent::revoke(&name, purge).await,
        },
        Command::Companion { socket, command } => match command {
            CompanionCommand::Start => {
                lifecycle::companion_start(&companion::socket(socket)?).await
            }
            CompanionCommand::Stop => lifecycle::companion_stop().await,
            CompanionCommand::Init => companion::init(socket).await,
            CompanionCommand::Whoami { json } => companion::whoami(socket, json).await,
        },
        Command::Aws { command } => match command {
            AwsCommand::Exec {
                target,
                no_masking,
                endpoint,
                command,
            } => aws::exec(&target, no_masking, endpoint, command).await,
            AwsCommand::CredentialProcess { target } => aws::credential_process(&target).await,
            AwsCommand::Env { target } => aws::env(&target).await,
        },
        Command::Device { command } => match command {
            DeviceCommand::Add {
                companion_socket,
                whoami,
            } => device::add(companion_socket, whoami).await,
            DeviceCommand::List { json } => device::list(json).await,
        },
        Command::Recover { command } => match command {
            RecoverCommand::Threshold { n } => device::threshold(n).await,
            RecoverCommand::RevokeDevice { device } => device::revoke(&device).await,
        },
        Command::Scope { command } => match command {
            ScopeCommand::Set { agent, services } => scope::set(&agent, &services).await,
            ScopeCommand::Show { agent, json } => scope::show(&agent, json).await,
            ScopeCommand::Revoke { agent } => scope::revoke(&agent).await,
        },
        Command::Memory { command } => match command {
            MemoryCommand::Put { namespace, value } => memory::put(&namespace, value).await,
            MemoryCommand::Get { namespace, json } => memory::get(&namespace, json).await,
        },
        Command::Daemon { command } => match command {
            DaemonCommand::Install { no_load, print } => daemon::install(no_load, print),
        },
        Command::Chain { command } => match command {
            ChainCommand::Status { rpc_url, json } => chain::status(rpc_url, json).await,
        },
        Command::Audit { command } => match command {
            AuditCommand::Log { after, limit, json } => audit::log(after, limit, json).await,
            AuditCommand::Verify { id, rpc_url, json } => audit::verify(id, rpc_url, json).await,
        },
    }
}
