//! One shutdown signal shared by every server of a process: SIGTERM or Ctrl-C trigger it,
//! and so can a test.

use std::sync::Arc;

use tokio::sync::watch;

/// A cloneable shutdown trigger; every clone sees the same signal.
#[derive(Debug, Clone)]
pub struct Shutdown {
    sender: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        Self {
            sender: Arc::new(watch::channel(false).0),
        }
    }

    /// Starts shutting down everything waiting on this signal.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Whether shutdown has begun.
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once shutdown has begun.
    pub async fn triggered(&self) {
        let mut receiver = self.sender.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = receiver.wait_for(|triggered| *triggered).await;
    }

    /// Triggers this signal on SIGTERM or Ctrl-C (SIGINT).
    pub fn on_process_signals(&self) {
        let shutdown = self.clone();
        tokio::spawn(async move {
            wait_for_process_signal().await;
            tracing::info!("shutdown signal received, draining calls");
            shutdown.trigger();
        });
    }
}

#[cfg(unix)]
async fn wait_for_process_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut sigterm) => {
            tokio::select! {
                _ = sigterm.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM, only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_process_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
