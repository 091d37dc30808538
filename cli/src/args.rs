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
    /// Create this device's identity (once), enroll its passkey, sign in to the relay and
    /// register the device on chain as its operator's first master. Run again on a device
    /// registered without a passkey to add one.
    Init {
        /// Register without a passkey: the device may store and read its own secrets only
        /// (agents, scopes and recovery need a passkey; `agentkeys init` adds one later).
        #[arg(long, conflicts_with_all = ["approver", "approver_socket"])]
        no_passkey: bool,
        /// On a machine without a browser: a file with `agentkeys companion whoami --json` of a
        /// companion elsewhere (a laptop), whose passkey becomes this device's and approves
        /// every grant through the relay.
        #[arg(long, value_name = "FILE", conflicts_with = "approver_socket")]
        approver: Option<std::path::PathBuf>,
        /// The same, from a companion's socket on this machine.
        #[arg(long, value_name = "PATH")]
        approver_socket: Option<std::path::PathBuf>,
        /// Pin the relay's keys and chain again when they differ from the pinned ones (a
        /// relay replaced on purpose). Shows the old and new key fingerprints.
        #[arg(long)]
        repin: bool,
        /// Make a new device identity when this machine's recorded device key is gone from the
        /// keychain. The old device's secrets stay unreadable to the new one.
        #[arg(long)]
        new_identity: bool,
    },
    /// Store a secret. The value is read from stdin when it is piped (one trailing newline is
    /// removed), else prompted for twice without echo.
    Store {
        service: String,
        /// Store it for an agent, in the agent's own space (the service must be in its scope).
        #[arg(long = "for", value_name = "AGENT")]
        for_agent: Option<String>,
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
        /// Run it as this agent: the secrets are the agent's, and the child gets a token that
        /// lets it (and only it) read the agent's in-scope secrets through the daemon.
        #[arg(long, value_name = "NAME")]
        agent: Option<String>,
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
    /// Agents: each has its own key, identity and on-chain registration.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Which services an agent may read (changes need the passkey).
    Scope {
        #[command(subcommand)]
        command: ScopeCommand,
    },
    /// The companion daemon on this machine (`agentkeys-daemon serve --companion`): a second
    /// master device with its own key and passkey (RP ID companion.localhost).
    Companion {
        /// The companion's socket (default: companion.sock beside the daemon's).
        #[arg(long, value_name = "PATH", global = true)]
        socket: Option<std::path::PathBuf>,
        #[command(subcommand)]
        command: CompanionCommand,
    },
    /// Temporary cloud credentials for programs that speak AWS (S3 SDKs, the aws CLI).
    Aws {
        #[command(subcommand)]
        command: AwsCommand,
    },
    /// This operator's master devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// M-of-N recovery: the threshold, and revoking a lost master device.
    Recover {
        #[command(subcommand)]
        command: RecoverCommand,
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
pub enum AgentCommand {
    /// Create an agent: its own device key in the keychain, registered on chain.
    Create { name: String },
    /// List this device's agents with their on-chain state and scope.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an agent on chain; its capabilities and tokens stop working at once.
    Revoke {
        name: String,
        /// First delete the agent's credentials and memory (each deletion is audited).
        #[arg(long)]
        purge: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ScopeCommand {
    /// Replace the agent's services (comma-separated), approved with the passkey.
    Set {
        agent: String,
        #[arg(value_name = "SERVICE[,SERVICE...]")]
        services: String,
    },
    /// Show the agent's services as the chain holds them.
    Show {
        agent: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove every service from the agent's scope, approved with the passkey.
    Revoke { agent: String },
}

#[derive(clap::Args, Debug, Clone)]
pub struct AwsTarget {
    /// As this agent (its own prefix); the credentials are minted with a one-off token.
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// The data class whose bucket the credentials reach: credentials or memory.
    #[arg(long, value_name = "CLASS", default_value = "credentials")]
    pub class: String,
}

#[derive(Subcommand, Debug)]
pub enum AwsCommand {
    /// Run a command with temporary credentials in its environment (AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; on the embedded stack AWS_ENDPOINT_URL_S3),
    /// plus AGENTKEYS_S3_BUCKET and AGENTKEYS_S3_PREFIX: all they may reach.
    Exec {
        #[command(flatten)]
        target: AwsTarget,
        /// Do not replace the secret values in the command's output with asterisks.
        #[arg(long)]
        no_masking: bool,
        /// Instead of keys in the environment, a loopback credential endpoint for this child
        /// (AWS_CONTAINER_CREDENTIALS_FULL_URI and a per-child token), which the AWS SDKs ask
        /// again before their credentials expire: for long-running programs.
        #[arg(long)]
        endpoint: bool,
        #[arg(
            value_name = "COMMAND",
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        command: Vec<OsString>,
    },
    /// Print the JSON an AWS profile's `credential_process` expects.
    CredentialProcess {
        #[command(flatten)]
        target: AwsTarget,
    },
    /// Print `export` lines for a shell (the values are secrets: do not log them).
    Env {
        #[command(flatten)]
        target: AwsTarget,
    },
}

#[derive(Subcommand, Debug)]
pub enum CompanionCommand {
    /// Start the companion daemon in the background (on the primary's relay).
    Start,
    /// Stop the companion daemon started by `companion start` (`agentkeys down` stops it too).
    Stop,
    /// Create the companion's key and enroll its passkey.
    Init,
    /// What `agentkeys device add` needs: its address and passkey (JSON with --json, to copy
    /// to the primary machine).
    Whoami {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum DeviceCommand {
    /// Add a companion as a master: approved with this device's passkey (and the threshold's
    /// other RECOVERY masters), proven by the companion's own passkey through the relay.
    Add {
        /// The companion's socket on this machine (default: companion.sock).
        #[arg(long, value_name = "PATH")]
        companion_socket: Option<std::path::PathBuf>,
        /// A file with the companion's `agentkeys companion whoami --json` (another machine).
        #[arg(long, value_name = "FILE", conflicts_with = "companion_socket")]
        whoami: Option<std::path::PathBuf>,
    },
    /// List the operator's devices (masters and agents) as the chain holds them.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum RecoverCommand {
    /// How many RECOVERY masters must approve adding or revoking a master.
    Threshold { n: u32 },
    /// Revoke a master device (lost or stolen) with the threshold's approvals. Refused, before
    /// anything is submitted, when it would leave fewer RECOVERY masters than the threshold.
    RevokeDevice {
        #[arg(value_name = "ADDRESS")]
        device: String,
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
        /// Read the root from this chain node (JSON-RPC; http only on this machine) instead of
        /// through the relay; default: the daemon's `chain_rpc_url`.
        #[arg(long, value_name = "URL")]
        rpc_url: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ChainCommand {
    /// Show the adapter, chain id, block, contract addresses and this device's entry.
    Status {
        /// Also read this device's and its operator's records from this chain node (JSON-RPC;
        /// http only on this machine) and refuse any difference from the relay's account;
        /// default: the daemon's `chain_rpc_url`.
        #[arg(long, value_name = "URL")]
        rpc_url: Option<String>,
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
                agent,
                env,
                no_masking,
                command,
            } => {
                assert_eq!(agent, None);
                assert_eq!(env, ["A=b"]);
                assert!(!no_masking);
                assert_eq!(command, ["sh", "-c", "echo $A", "--env"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["agentkeys", "run", "--env", "A=b"]).is_err());
    }
}
