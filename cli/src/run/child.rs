//! Spawning the child, pumping its output through maskers and forwarding
//! signals to it.

use std::ffi::OsStr;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use zeroize::Zeroizing;

use super::mask::Masker;
use super::{ChildSpec, LateSecrets, RunError};

/// After the child exits, how long to keep draining its pipes. A background
/// grandchild may hold them open indefinitely; we stop waiting rather than
/// hang, and once we are gone its writes fail instead of leaking unmasked.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

const READ_BUF: usize = 16 * 1024;

pub(super) enum Output<O, E> {
    /// The child writes straight to our stdout/stderr.
    Inherit,
    /// The child's output is piped, masked when the spec asks for it, and
    /// written to these sinks.
    Pipe { out: O, err: E },
}

impl Output<tokio::io::Sink, tokio::io::Sink> {
    pub(super) fn inherit() -> Self {
        Output::Inherit
    }
}

pub(super) async fn execute<O, E>(spec: ChildSpec, output: Output<O, E>) -> Result<i32, RunError>
where
    O: AsyncWrite + Unpin,
    E: AsyncWrite + Unpin,
{
    // Listen before spawning: from here on these signals no longer kill us
    // while the child would live on unsupervised.
    let mut forwarder = Forwarder::new()?;

    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args).stdin(Stdio::inherit());
    for name in &spec.remove_env {
        cmd.env_remove(name);
    }
    for (name, value) in &spec.env {
        cmd.env(name, value.as_str());
    }
    for (name, value) in &spec.plain_env {
        cmd.env(name, value);
    }
    let (mut out, mut err) = match output {
        Output::Inherit => {
            cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
            (None, None)
        }
        Output::Pipe { out, err } => {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            (Some(out), Some(err))
        }
    };
    let spawned = cmd.spawn();
    // Command keeps its own copy of the environment; let it go now rather
    // than for the whole lifetime of the child.
    drop(cmd);
    let mut child = spawned.map_err(|e| spawn_error(e, &spec.program))?;

    let masker = || {
        let secrets: Vec<&[u8]> = if spec.masking {
            spec.env.iter().map(|(_, v)| v.as_bytes()).collect()
        } else {
            Vec::new()
        };
        Masker::new(secrets)
    };
    let late = spec.late_secrets.clone().filter(|_| spec.masking);
    let (stop_tx, stop_rx) = watch::channel(false);
    let child_out = child.stdout.take();
    let child_err = child.stderr.take();
    let pumps = async {
        let out_pump = async {
            if let (Some(from), Some(to)) = (child_out, out.as_mut()) {
                pump(from, to, masker(), late.clone(), stop_rx.clone()).await;
            }
        };
        let err_pump = async {
            if let (Some(from), Some(to)) = (child_err, err.as_mut()) {
                pump(from, to, masker(), late.clone(), stop_rx.clone()).await;
            }
        };
        tokio::join!(out_pump, err_pump);
    };
    tokio::pin!(pumps);

    let mut pumps_done = false;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            () = &mut pumps, if !pumps_done => pumps_done = true,
            Some(sig) = forwarder.recv() => forward(&child, sig),
        }
    };
    if !pumps_done && tokio::time::timeout(DRAIN_GRACE, &mut pumps).await.is_err() {
        // Ignored error: the receivers live inside `pumps`, which we still own.
        let _ = stop_tx.send(true);
        pumps.await;
    }
    Ok(exit_code(status))
}

fn spawn_error(e: io::Error, program: &OsStr) -> RunError {
    match e.kind() {
        io::ErrorKind::NotFound => RunError::NotFound(program.to_owned()),
        io::ErrorKind::PermissionDenied => RunError::PermissionDenied(program.to_owned()),
        _ => RunError::Io(e),
    }
}

/// Shell convention, so callers and scripts cannot tell us from the child.
fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|sig| 128 + sig))
        .unwrap_or(1)
}

/// Copies `from` to `to` through `masker` until end of stream or `stop`.
/// Errors end the pump silently: if our own output is gone (say `| head`),
/// closing the read end gives the child the same EPIPE/SIGPIPE it would have
/// got writing there directly.
async fn pump<R, W>(
    mut from: R,
    to: &mut W,
    mut masker: Masker,
    late: Option<LateSecrets>,
    mut stop: watch::Receiver<bool>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // The raw reads contain the secrets in clear.
    let mut buf = Zeroizing::new(vec![0u8; READ_BUF]);
    let mut masked = Vec::with_capacity(READ_BUF);
    let mut late_seen = 0;
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf[..]) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = stop.changed() => break,
        };
        // Checked after the read: a value handed out before the child wrote these bytes
        // is in the list by now.
        if let Some(late) = &late {
            let new = late.since(late_seen);
            if !new.is_empty() {
                late_seen += new.len();
                masker.add(new.iter().map(|v| &v[..]));
            }
        }
        masked.clear();
        masker.feed(&buf[..n], &mut masked);
        if write_now(to, &masked).await.is_err() {
            return;
        }
    }
    masked.clear();
    masker.finish(&mut masked);
    // Nothing left to do if this fails; the stream is over either way.
    let _ = write_now(to, &masked).await;
}

async fn write_now<W: AsyncWrite + Unpin>(to: &mut W, bytes: &[u8]) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    to.write_all(bytes).await?;
    // Flush every chunk: prompts and progress output must appear as the
    // child writes them, not when some buffer fills.
    to.flush().await
}

/// The signals a terminal or service manager uses to stop a program; the
/// child must get them too, or it would outlive us.
///
/// Note that a terminal sends Ctrl-C/Ctrl-\ to the whole foreground process
/// group, so the child may see SIGINT/SIGQUIT twice: once from the terminal
/// and once from us. Programs treat repeated interrupts as "stop", which is
/// what the user asked for.
struct Forwarder {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

impl Forwarder {
    fn new() -> io::Result<Self> {
        Ok(Forwarder {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    async fn recv(&mut self) -> Option<Signal> {
        tokio::select! {
            Some(()) = self.int.recv() => Some(Signal::SIGINT),
            Some(()) = self.term.recv() => Some(Signal::SIGTERM),
            Some(()) = self.hup.recv() => Some(Signal::SIGHUP),
            Some(()) = self.quit.recv() => Some(Signal::SIGQUIT),
            else => None,
        }
    }
}

fn forward(child: &Child, sig: Signal) {
    // `id()` is None once the child has been reaped, so the pid cannot have
    // been reused by an unrelated process.
    let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) else {
        return;
    };
    // ESRCH just means it exited in the meantime.
    let _ = kill(Pid::from_raw(pid), sig);
}
