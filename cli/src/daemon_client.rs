//! The daemon's socket API, as seen from the CLI: JSON over HTTP/1.1 on the Unix socket, one
//! connection per request. Before a request goes out, the socket's folder must be private to
//! this user and the process listening must run as this user: a secret is never sent to a
//! socket another user planted or listens on.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use agentkeys_core::daemon_api::{AGENT_HEADER, AGENT_TOKEN_HEADER};
use agentkeys_core::error::{ErrorBody, ErrorCode};
use agentkeys_core::local_user::{self, PrivateDirError};
use agentkeys_core::paths::Paths;
use agentkeys_core::wire::MAX_BODY_BYTES;
use bytes::Bytes;
use http::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::UnixStream;
use zeroize::Zeroizing;

use crate::error::CliError;
use crate::http1;

/// Operations go through the relay (sign-in, capability, vault), each bounded by the daemon's
/// own 30 s timeouts; this only guards against a daemon that hangs.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct DaemonClient {
    socket: PathBuf,
    timeout: Duration,
    /// Sent with every request: the agent a child acts as and its token.
    headers: Vec<(&'static str, Zeroizing<String>)>,
}

/// Set by `agentkeys run --agent` in the child's environment.
pub const ENV_AGENT: &str = "AGENTKEYS_AGENT";
pub const ENV_AGENT_TOKEN: &str = "AGENTKEYS_AGENT_TOKEN";

pub fn resolve_paths() -> Result<Paths, CliError> {
    Paths::resolve().ok_or_else(|| {
        CliError::new(
            ErrorCode::Internal,
            "cannot determine the home directory; set AGENTKEYS_HOME",
        )
    })
}

impl DaemonClient {
    pub fn new(socket: PathBuf) -> DaemonClient {
        DaemonClient {
            socket,
            timeout: REQUEST_TIMEOUT,
            headers: Vec::new(),
        }
    }

    /// The socket from the environment; inside `agentkeys run --agent` also the agent and its
    /// token, so the child acts as that agent.
    pub fn from_env() -> Result<DaemonClient, CliError> {
        let mut client = DaemonClient::new(resolve_paths()?.socket());
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(agent) = var(ENV_AGENT) {
            client = client.with_header(AGENT_HEADER, agent);
        }
        if let Some(token) = var(ENV_AGENT_TOKEN) {
            client = client.with_header(AGENT_TOKEN_HEADER, token);
        }
        Ok(client)
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> DaemonClient {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, Zeroizing::new(value)));
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> DaemonClient {
        self.timeout = timeout;
        self
    }

    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// Fails fast with `daemon_not_running` (or a refusal of the socket) before the user is
    /// prompted for anything.
    pub async fn ensure_reachable(&self) -> Result<(), CliError> {
        self.connect().await.map(drop)
    }

    /// Refuses a socket folder that is not private to this user; an absent one is fine here
    /// (the daemon makes it). For `up`, before anything is started.
    pub fn refuse_insecure_folder(&self) -> Result<(), CliError> {
        match self.check_folder() {
            Err(e) if !e.is_not_found() => Err(CliError::new(e.code(), e.to_string())),
            _ => Ok(()),
        }
    }

    fn check_folder(&self) -> Result<(), PrivateDirError> {
        match self.socket.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => local_user::check_private_dir(dir, local_user::euid()),
            None => Ok(()),
        }
    }

    /// A connection to our own daemon: the folder checked first (so nothing connects to a
    /// planted socket), then the peer's uid as the kernel reports it.
    async fn connect(&self) -> Result<UnixStream, CliError> {
        self.check_folder().map_err(|e| self.dir_error(e))?;
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|e| self.connect_error(&e))?;
        let peer_uid = stream.peer_cred().ok().map(|c| c.uid());
        if !local_user::peer_is_us(peer_uid) {
            let who =
                peer_uid.map_or_else(|| "an unknown user".to_string(), |u| format!("uid {u}"));
            return Err(CliError::new(
                ErrorCode::DaemonPeerForeign,
                format!(
                    "the process listening on {} runs as {who}, not as this user (uid {}); \
                     refusing to talk to it",
                    self.socket.display(),
                    local_user::euid()
                ),
            ));
        }
        Ok(stream)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.request(Method::GET, path, Bytes::new()).await
    }

    pub async fn post<Req: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        req: &Req,
    ) -> Result<T, CliError> {
        let body = serde_json::to_vec(req).map_err(|e| {
            CliError::new(
                ErrorCode::Internal,
                format!("cannot encode the request: {e}"),
            )
        })?;
        // Request bodies can carry a secret: wipe the buffer once hyper is done with it.
        self.request(Method::POST, path, Bytes::from_owner(Zeroizing::new(body)))
            .await
    }

    async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<T, CliError> {
        let work = async {
            let stream = self.connect().await?;
            let headers: Vec<(&str, &str)> =
                self.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            http1::exchange(
                stream,
                method,
                "agentkeys-daemon",
                path,
                body,
                &headers,
                4 * MAX_BODY_BYTES,
            )
            .await
            .map_err(|e| {
                CliError::new(
                    ErrorCode::Internal,
                    format!("talking to the daemon failed: {e}"),
                )
            })
        };
        let reply = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| {
                CliError::new(
                    ErrorCode::Timeout,
                    format!(
                        "the daemon did not answer within {} s",
                        self.timeout.as_secs()
                    ),
                )
            })??;
        if (200..300).contains(&reply.status) {
            // Position only: serde quotes offending strings, which could be a secret value.
            return serde_json::from_slice(&reply.body).map_err(|e| {
                CliError::new(
                    ErrorCode::Internal,
                    format!(
                        "the daemon's answer to {path} is not the expected JSON (line {}, column {})",
                        e.line(),
                        e.column()
                    ),
                )
            });
        }
        match serde_json::from_slice::<ErrorBody>(&reply.body) {
            Ok(body) => Err(CliError::from_body(body)),
            Err(_) => Err(CliError::new(
                ErrorCode::Internal,
                format!("the daemon answered {path} with HTTP {}", reply.status),
            )),
        }
    }

    /// A missing folder means no daemon has run there yet.
    fn dir_error(&self, e: PrivateDirError) -> CliError {
        if e.is_not_found() {
            return CliError::daemon_not_running();
        }
        CliError::new(e.code(), e.to_string())
    }

    fn connect_error(&self, e: &io::Error) -> CliError {
        match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                CliError::daemon_not_running()
            }
            _ => CliError::new(
                ErrorCode::DaemonNotRunning,
                format!(
                    "cannot connect to the daemon socket {}: {e}; start it with `agentkeys up`",
                    self.socket.display()
                ),
            ),
        }
    }
}
