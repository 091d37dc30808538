//! The Unix socket: a private folder (checked, never adopted from someone else), a 0600
//! socket, a peer uid check on every connection, HTTP/1.1 served by hyper on the axum router,
//! and a graceful stop that drains connections and removes the socket and the pid file.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use agentkeys_core::local_user::{self, PrivateDirError};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{UnixListener, UnixStream};
use tower::ServiceExt;

use crate::api;
use crate::shutdown::Shutdown;
use crate::state::SharedState;

/// A client that opens a connection and sends nothing must not hold it forever.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests (each bounded by the relay client's timeouts) may finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(35);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("another agentkeys daemon is already answering on {0}")]
    AlreadyRunning(PathBuf),
    #[error("{0} exists and is not a socket; refusing to replace it")]
    NotASocket(PathBuf),
    #[error("{0} ({code})", code = .0.code())]
    Dir(#[from] PrivateDirError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SocketError + '_ {
    move |source| SocketError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub struct SocketServer {
    listener: UnixListener,
    socket: PathBuf,
    pid_file: PathBuf,
}

impl SocketServer {
    /// Prepares the folder, replaces a stale socket, binds, and writes the pid file.
    pub async fn bind(socket: &Path, pid_file: &Path) -> Result<SocketServer, SocketError> {
        private_dir(socket)?;
        clear_stale_socket(socket).await?;
        let listener = UnixListener::bind(socket).map_err(io_err(socket))?;
        // The folder is 0700, so nobody else could reach the socket in the moment before
        // this chmod; the mode is belt and braces for folders shared by mistake.
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
            .map_err(io_err(socket))?;
        write_pid_file(pid_file)?;
        tracing::info!(socket = %socket.display(), "listening");
        Ok(SocketServer {
            listener,
            socket: socket.to_path_buf(),
            pid_file: pid_file.to_path_buf(),
        })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Serves until `shutdown` triggers, then drains and cleans up.
    pub async fn serve(self, state: SharedState, shutdown: Shutdown) {
        let app = api::router(state);
        let deny = api::deny_router();
        let graceful = GracefulShutdown::new();
        let stop = shutdown.wait();
        tokio::pin!(stop);
        loop {
            let stream = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Usually EMFILE: back off instead of spinning on the error.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = &mut stop => break,
            };
            let cred = stream.peer_cred().ok();
            let peer_uid = cred.map(|c| c.uid());
            let allowed = local_user::peer_is_us(peer_uid);
            if !allowed {
                tracing::warn!(?peer_uid, "refusing a socket peer of another user");
            }
            let peer = SocketPeer {
                pid: cred.and_then(|c| c.pid()).filter(|pid| *pid > 0),
            };
            let router = if allowed { app.clone() } else { deny.clone() };
            // Handlers that bind something to the asking process (agent tokens) read it here,
            // from the kernel's credentials, never from anything the caller says.
            let router =
                router.map_request(move |mut req: http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(peer);
                    req
                });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                // A refused peer gets its one answer and the connection closes.
                .keep_alive(allowed)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
        // Stop accepting first, so clients see "not running" rather than a hanging connect.
        drop(self.listener);
        remove_if_exists(&self.socket);
        tokio::select! {
            _ = graceful.shutdown() => tracing::info!("connections drained"),
            _ = tokio::time::sleep(DRAIN_TIMEOUT) => {
                tracing::warn!("connections still open after the drain timeout; stopping anyway");
            }
        }
        remove_own_pid_file(&self.pid_file);
        tracing::info!("stopped");
    }
}

/// The process at the other end of a connection, as the kernel reported it at `connect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketPeer {
    /// None when the peer is in another pid namespace (the kernel reports 0) or unknown.
    pub pid: Option<i32>,
}

/// The socket's folder is created 0700 when absent; one that is a link, another user's, or
/// open to others is refused as it is (a squatter could swap the socket or, through a link,
/// make us create or change files elsewhere).
fn private_dir(socket: &Path) -> Result<(), SocketError> {
    match socket.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => Ok(local_user::ensure_private_dir(dir, local_user::euid())?),
        None => Ok(()),
    }
}

/// Fails when another daemon answers on `socket`; checked before anything else at start-up so
/// that a second daemon stops with that one line instead of touching the keychain first. The
/// folder is checked before the probe, so nothing connects to a socket a squatter planted.
pub async fn refuse_if_running(socket: &Path) -> Result<(), SocketError> {
    private_dir(socket)?;
    let is_socket = std::fs::symlink_metadata(socket)
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false);
    if is_socket && listener_answers(socket).await {
        return Err(SocketError::AlreadyRunning(socket.to_path_buf()));
    }
    Ok(())
}

/// A connect that hangs means a listener that is alive but stuck: still not a stale socket.
async fn listener_answers(socket: &Path) -> bool {
    !matches!(
        tokio::time::timeout(PROBE_TIMEOUT, UnixStream::connect(socket)).await,
        Ok(Err(_))
    )
}

/// A socket left by a crashed daemon is removed; one that still answers is another daemon.
async fn clear_stale_socket(socket: &Path) -> Result<(), SocketError> {
    let meta = match std::fs::symlink_metadata(socket) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(socket)(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(SocketError::NotASocket(socket.to_path_buf()));
    }
    if listener_answers(socket).await {
        return Err(SocketError::AlreadyRunning(socket.to_path_buf()));
    }
    tracing::info!(socket = %socket.display(), "removing a stale socket");
    std::fs::remove_file(socket).map_err(io_err(socket))
}

fn write_pid_file(pid_file: &Path) -> Result<(), SocketError> {
    if let Some(dir) = pid_file.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err(dir))?;
    }
    std::fs::write(pid_file, format!("{}\n", std::process::id())).map_err(io_err(pid_file))
}

fn remove_if_exists(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "could not remove");
        }
    }
}

/// Another daemon may have taken over the pid file (after a crash of ours); leave theirs.
fn remove_own_pid_file(pid_file: &Path) {
    let ours = std::fs::read_to_string(pid_file)
        .map(|text| text.trim() == std::process::id().to_string())
        .unwrap_or(false);
    if ours {
        remove_if_exists(pid_file);
    }
}
