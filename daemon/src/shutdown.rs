//! One shutdown signal shared by the signal handlers, `POST /v1/shutdown` and the accept loop.

use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

#[derive(Clone)]
pub struct Shutdown(Arc<watch::Sender<bool>>);

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown(Arc::new(watch::channel(false).0))
    }

    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    /// Resolves once `trigger` has been called, even if that happened before this call.
    pub async fn wait(&self) {
        let mut rx = self.0.subscribe();
        // Err means every sender is gone, which cannot happen while `self` holds one.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    /// Triggers on SIGTERM (service managers, `agentkeys down`) and SIGINT (Ctrl-C).
    pub fn listen_for_signals(&self) -> std::io::Result<()> {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let this = self.clone();
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(signal = name, "shutting down");
            this.trigger();
        });
        Ok(())
    }
}
