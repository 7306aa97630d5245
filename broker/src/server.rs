//! The listener: accepts connections up to a limit, hands each to its own task, and shuts down
//! gracefully: stop accepting, let in-flight requests finish, then flush and close the logs.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::broker::Broker;
use crate::connection::Connection;

/// Most connections served at once; a further one waits in the accept backlog.
const MAX_CONNECTIONS: usize = 10_000;

/// A bound listener, ready to serve.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    broker: Arc<Broker>,
}

impl Server {
    /// Wraps a bound listener and the broker state.
    pub fn new(listener: TcpListener, broker: Arc<Broker>) -> Self {
        Self { listener, broker }
    }

    /// The address actually bound (useful when the port was 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` becomes true, then waits for connections to finish their
    /// current request.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut connections = JoinSet::new();
        loop {
            let permit = tokio::select! {
                permit = limit.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                _ = shutdown.changed() => break,
            };
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = shutdown.changed() => break,
            };
            match accepted {
                Ok((socket, peer)) => {
                    if let Err(e) = socket.set_nodelay(true) {
                        warn!(%peer, error = %e, "cannot set TCP_NODELAY");
                    }
                    let connection = Connection::new(socket, peer, self.broker.clone());
                    let shutdown = shutdown.clone();
                    connections.spawn(async move {
                        connection.serve(shutdown).await;
                        drop(permit);
                    });
                }
                // Accept errors (EMFILE and the like) are transient; keep serving.
                Err(e) => warn!(error = %e, "accept failed"),
            }
            // Reap finished connection tasks so the set does not grow without bound.
            while connections.try_join_next().is_some() {}
        }
        info!(
            open = connections.len(),
            "stopped accepting; waiting for connections to finish"
        );
        while connections.join_next().await.is_some() {}
    }
}
