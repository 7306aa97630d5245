//! The listener: accepts connections up to a limit, hands each to its own task, and shuts down
//! gracefully: stop accepting, let in-flight requests finish, then flush and close the logs.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinError, JoinSet};
use tracing::{error, info, warn};

use crate::broker::Broker;
use crate::connection::Connection;
use crate::limits::{self, ConnectionsPerIp};

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
        let config = self.broker.config.limits;
        // Past `max.connections`, further clients wait in the accept backlog.
        let limit = Arc::new(Semaphore::new(config.max_connections));
        let per_ip = Arc::new(ConnectionsPerIp::default());
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
                    let Some(slot) = per_ip.try_open(peer.ip(), config.max_connections_per_ip)
                    else {
                        // As Kafka does: close at once; the client backs off and retries.
                        warn!(
                            %peer,
                            max = config.max_connections_per_ip,
                            "too many connections from this address (max.connections.per.ip)"
                        );
                        continue;
                    };
                    if let Err(e) = socket.set_nodelay(true) {
                        warn!(%peer, error = %e, "cannot set TCP_NODELAY");
                    }
                    let connection = Connection::new(socket, peer, self.broker.clone());
                    let shutdown = shutdown.clone();
                    connections.spawn(async move {
                        connection.serve(shutdown).await;
                        drop(slot);
                        drop(permit);
                    });
                }
                // Accept errors (EMFILE and the like) are transient; keep serving.
                Err(e) => warn!(error = %e, "accept failed"),
            }
            // Reap finished connection tasks so the set does not grow without bound.
            while let Some(done) = connections.try_join_next() {
                reaped(done);
            }
        }
        info!(
            open = connections.len(),
            "stopped accepting; waiting for connections to finish"
        );
        while let Some(done) = connections.join_next().await {
            reaped(done);
        }
    }
}

/// Notes how a connection task ended. Requests run under a panic guard in the connection, so a
/// panic here escaped it (while reading or writing); it is still confined to its task.
fn reaped(done: Result<(), JoinError>) {
    if let Err(e) = done {
        if e.is_panic() {
            limits::count_panic();
            error!(error = %e, "a connection task panicked");
        }
    }
}
