//! The listener: accepts connections up to a limit, hands each to its own task, and shuts down
//! gracefully: stop accepting, let in-flight requests finish, then flush and close the logs.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;

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
        let mut backoff = AcceptBackoff::default();
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
            let mut pause = None;
            match accepted {
                Ok((socket, peer)) => {
                    backoff.succeeded();
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
                // Accept errors are transient; keep serving, but pause while resources are
                // exhausted (see `AcceptBackoff`).
                Err(e) => {
                    pause = backoff.failed(&e);
                    let pause_ms = pause.map_or(0, |p| p.as_millis());
                    warn!(error = %e, pause_ms, open = connections.len(), "accept failed");
                }
            }
            // Reap finished connection tasks so the set does not grow without bound (and, after
            // EMFILE, so their descriptors are seen to be free).
            while let Some(done) = connections.try_join_next() {
                reaped(done);
            }
            if let Some(pause) = pause {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = shutdown.changed() => break,
                }
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

/// First pause after an accept fails for want of resources.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest pause: a second keeps the log quiet and costs little once descriptors free up.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Pauses between failed accepts. Out of descriptors (EMFILE, ENFILE) or kernel memory, accept
/// fails again at once: retrying immediately spins a core and floods the log while the pending
/// connection stays in the backlog. Pausing, doubling from 100 ms to 1 s as tokio's mini-redis
/// does (but never giving up: the server must outlive the storm), lets connections close and
/// free descriptors. Other errors (a connection aborted before it was accepted) concern one
/// connection and are retried at once.
#[derive(Debug, Default)]
struct AcceptBackoff {
    /// The pause after the next failure; `None` until a failure since the last success.
    next: Option<Duration>,
}

impl AcceptBackoff {
    /// The pause after failure `e`, if any.
    fn failed(&mut self, e: &io::Error) -> Option<Duration> {
        let exhausted = e.raw_os_error().map(Errno::from_raw).is_some_and(|errno| {
            matches!(
                errno,
                Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM
            )
        });
        if !exhausted {
            return None;
        }
        let pause = self.next.unwrap_or(ACCEPT_BACKOFF_MIN);
        self.next = Some(pause.saturating_mul(2).min(ACCEPT_BACKOFF_MAX));
        Some(pause)
    }

    /// An accept worked: the next failure starts from the shortest pause again.
    fn succeeded(&mut self) {
        self.next = None;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn os_error(errno: Errno) -> io::Error {
        io::Error::from_raw_os_error(errno as i32)
    }

    #[test]
    fn accept_pauses_double_up_to_a_second_while_descriptors_run_out() {
        let mut backoff = AcceptBackoff::default();
        let pauses: Vec<u64> = (0..6)
            .filter_map(|_| backoff.failed(&os_error(Errno::EMFILE)))
            .map(|p| u64::try_from(p.as_millis()).unwrap_or(u64::MAX))
            .collect();
        assert_eq!(pauses, [100, 200, 400, 800, 1000, 1000]);
        backoff.succeeded();
        assert_eq!(
            backoff.failed(&os_error(Errno::ENFILE)),
            Some(Duration::from_millis(100))
        );
    }

    #[test]
    fn errors_of_one_connection_are_retried_at_once() {
        let mut backoff = AcceptBackoff::default();
        assert_eq!(backoff.failed(&os_error(Errno::ECONNABORTED)), None);
        assert_eq!(backoff.failed(&io::Error::other("no errno")), None);
    }
}
