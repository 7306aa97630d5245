//! Bounds on what one client may make the broker hold or do, and the count of panics caught.
//!
//! Kafka's equivalents: `max.connections`, `max.connections.per.ip`, `connections.max.idle.ms`
//! and `socket.request.max.bytes` (the last one lives in [`crate::config::Config`] and is
//! enforced by [`crate::frame`]). A request naming more partitions than
//! [`Limits::max_partitions_per_request`] closes its connection: such a request can only come
//! from a broken or hostile client, and answering it would cost memory in proportion to it.
//! Where each limit is enforced and which test proves it is listed in `docs/reliability.md`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fjord_protocol::messages::RequestBody;

/// Connection and request limits, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most connections served at once (`max.connections`); a further one waits in the accept
    /// backlog until another closes.
    pub max_connections: usize,
    /// Most connections from one IP address (`max.connections.per.ip`); a further one is
    /// closed right after accept, as Kafka does.
    pub max_connections_per_ip: usize,
    /// A connection that sends no complete request, or does not take a response, for this
    /// long is closed (`connections.max.idle.ms`).
    pub connections_max_idle_ms: u64,
    /// Most partition entries one request may name, summed over its topics.
    pub max_partitions_per_request: usize,
}

impl Limits {
    /// Default of `max.connections` (Kafka's is unbounded; file descriptors are not).
    pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
    /// Kafka's default `connections.max.idle.ms`: 10 minutes.
    pub const DEFAULT_CONNECTIONS_MAX_IDLE_MS: u64 = 600_000;
    /// Default bound on partition entries per request: ten times a large broker's partition
    /// count, far above what any client sends.
    pub const DEFAULT_MAX_PARTITIONS_PER_REQUEST: usize = 100_000;

    /// The idle timeout as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.connections_max_idle_ms)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            // Kafka's default is unbounded per IP; the total limit still applies.
            max_connections_per_ip: Self::DEFAULT_MAX_CONNECTIONS,
            connections_max_idle_ms: Self::DEFAULT_CONNECTIONS_MAX_IDLE_MS,
            max_partitions_per_request: Self::DEFAULT_MAX_PARTITIONS_PER_REQUEST,
        }
    }
}

/// A request that exceeds a limit; its connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// The request names too many partitions.
    #[error("request names {count} partitions, more than the limit of {max}")]
    TooManyPartitions {
        /// Partition entries in the request.
        count: usize,
        /// The configured limit.
        max: usize,
    },
}

/// Refuses a request that names more than `max` partitions.
pub fn check_request(request: &RequestBody, max: usize) -> Result<(), LimitError> {
    let count = partition_count(request);
    if count > max {
        return Err(LimitError::TooManyPartitions { count, max });
    }
    Ok(())
}

/// Partition entries a request names (for CreateTopics and CreatePartitions, the partitions it
/// asks to exist). APIs that name no partitions count 0.
pub fn partition_count(request: &RequestBody) -> usize {
    fn sum<T>(items: &[T], f: impl Fn(&T) -> usize) -> usize {
        items.iter().map(f).fold(0, usize::saturating_add)
    }
    fn non_negative(n: i32) -> usize {
        usize::try_from(n).unwrap_or(0)
    }
    match request {
        RequestBody::Produce(r) => sum(&r.topic_data, |t| t.partition_data.len()),
        RequestBody::Fetch(r) => sum(&r.topics, |t| t.partitions.len())
            .saturating_add(sum(&r.forgotten_topics_data, |t| t.partitions.len())),
        RequestBody::ListOffsets(r) => sum(&r.topics, |t| t.partitions.len()),
        RequestBody::OffsetCommit(r) => sum(&r.topics, |t| t.partitions.len()),
        RequestBody::OffsetFetch(r) => sum(r.topics.as_deref().unwrap_or_default(), |t| {
            t.partition_indexes.len()
        })
        .saturating_add(sum(&r.groups, |g| {
            sum(g.topics.as_deref().unwrap_or_default(), |t| {
                t.partition_indexes.len()
            })
        })),
        RequestBody::OffsetDelete(r) => sum(&r.topics, |t| t.partitions.len()),
        RequestBody::DeleteRecords(r) => sum(&r.topics, |t| t.partitions.len()),
        RequestBody::OffsetForLeaderEpoch(r) => sum(&r.topics, |t| t.partitions.len()),
        RequestBody::DescribeProducers(r) => sum(&r.topics, |t| t.partition_indexes.len()),
        RequestBody::TxnOffsetCommit(r) => sum(&r.topics, |t| t.partitions.len()),
        RequestBody::AddPartitionsToTxn(r) => {
            sum(&r.transactions, |x| sum(&x.topics, |t| t.partitions.len()))
                .saturating_add(sum(&r.v3_and_below_topics, |t| t.partitions.len()))
        }
        RequestBody::CreateTopics(r) => sum(&r.topics, |t| {
            non_negative(t.num_partitions).max(t.assignments.len())
        }),
        RequestBody::CreatePartitions(r) => sum(&r.topics, |t| non_negative(t.count)),
        _ => 0,
    }
}

/// Open connections per client IP address, shared by the listener and its connections.
#[derive(Debug, Default)]
pub struct ConnectionsPerIp {
    /// Open connections by address; an address leaves the map when its count drops to zero.
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl ConnectionsPerIp {
    /// Counts a new connection from `ip`, or returns `None` when `ip` already has `max`.
    pub fn try_open(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut counts = self.lock();
        let count = counts.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(IpSlot {
            owner: self.clone(),
            ip,
        })
    }

    /// The table; a panic elsewhere while it was held cannot leave a count half-updated (each
    /// change is one statement), so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Open connections from `ip`.
    pub fn open(&self, ip: IpAddr) -> usize {
        self.lock().get(&ip).copied().unwrap_or(0)
    }
}

/// One counted connection; dropping it (when the connection ends) uncounts it.
#[derive(Debug)]
pub struct IpSlot {
    /// The table to uncount in.
    owner: Arc<ConnectionsPerIp>,
    /// The connection's address.
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut counts = self.owner.lock();
        if let Some(count) = counts.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// Panics caught while serving requests since the process started (each closed only its own
/// connection). Exported as a metric.
static PANICS_CAUGHT: AtomicU64 = AtomicU64::new(0);

/// Panics caught while serving requests since the process started.
pub fn panics_caught() -> u64 {
    PANICS_CAUGHT.load(Ordering::Relaxed)
}

/// Counts one caught panic.
pub(crate) fn count_panic() {
    PANICS_CAUGHT.fetch_add(1, Ordering::Relaxed);
}

/// The open-file limit (RLIMIT_NOFILE) after start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFilesLimit {
    /// The soft limit the process started with.
    pub before: u64,
    /// The soft limit in force now: what EMFILE will be reported at.
    pub soft: u64,
    /// The hard limit, the most the soft limit could be raised to.
    pub hard: u64,
}

/// Raises the soft limit on open files to the hard limit. Every connection, segment and index
/// holds a descriptor, and the usual default soft limit (1024) would make EMFILE the real
/// connection limit long before `max.connections`; the hard limit is what the administrator
/// allows, so the process takes all of it, as Kafka's start scripts expect of `ulimit -n`.
pub fn raise_open_files_limit() -> Result<OpenFilesLimit, nix::Error> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (before, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if before < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    Ok(OpenFilesLimit { before, soft, hard })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
    use fjord_protocol::messages::{CreateTopicsRequest, FetchRequest};

    #[test]
    fn per_ip_slots_are_released_on_drop() {
        let table = Arc::new(ConnectionsPerIp::default());
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let a = table.try_open(ip, 2).unwrap();
        let _b = table.try_open(ip, 2).unwrap();
        assert!(table.try_open(ip, 2).is_none(), "third from one ip");
        assert!(table.try_open(other, 2).is_some(), "another ip is separate");
        drop(a);
        assert_eq!(table.open(ip), 1);
        assert!(table.try_open(ip, 2).is_some(), "a freed slot is reusable");
    }

    #[test]
    fn fetch_counts_partitions_and_forgotten_ones() {
        let topic = FetchTopic {
            partitions: vec![FetchPartition::default(); 3],
            ..Default::default()
        };
        let request = RequestBody::Fetch(FetchRequest {
            topics: vec![topic.clone(), topic],
            forgotten_topics_data: vec![ForgottenTopic {
                partitions: vec![1, 2],
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(partition_count(&request), 8);
        assert!(check_request(&request, 8).is_ok());
        let err = check_request(&request, 7).unwrap_err();
        assert!(err.to_string().contains("8 partitions"), "{err}");
    }

    #[test]
    fn create_topics_counts_requested_partitions() {
        let mut request = CreateTopicsRequest::default();
        request.topics.push(Default::default());
        request.topics[0].num_partitions = 1_000_000;
        let request = RequestBody::CreateTopics(request);
        assert_eq!(partition_count(&request), 1_000_000);
        assert!(check_request(&request, Limits::default().max_partitions_per_request).is_err());
    }

    #[test]
    fn panics_are_counted() {
        let before = panics_caught();
        count_panic();
        assert!(panics_caught() > before);
    }
}
