//! One member of a classic group, as the coordinator tracks it.

use bytes::Bytes;

use super::types::{Protocol, RequestId};

/// A JoinGroup parked until the join phase completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PendingJoin {
    /// Where the reply goes.
    pub(crate) request: RequestId,
    /// Whether the client understands `skip_assignment` (v9+).
    pub(crate) supports_skip_assignment: bool,
}

/// A member of a classic group.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// The id the coordinator gave it.
    pub(crate) id: String,
    /// Its static instance id, if static.
    pub(crate) instance_id: Option<String>,
    /// Client id, for DescribeGroups.
    pub(crate) client_id: String,
    /// Client host, for DescribeGroups.
    pub(crate) client_host: String,
    /// How long it may take to rejoin during a rebalance.
    pub(crate) rebalance_timeout_ms: i32,
    /// How long it may go without a heartbeat.
    pub(crate) session_timeout_ms: i32,
    /// Its protocol type.
    pub(crate) protocol_type: String,
    /// Its protocols in order of preference.
    pub(crate) protocols: Vec<Protocol>,
    /// The assignment the leader gave it in the current generation.
    pub(crate) assignment: Bytes,
    /// Its parked JoinGroup, while the join phase runs.
    pub(crate) awaiting_join: Option<PendingJoin>,
    /// Its parked SyncGroup, while the leader's assignment is awaited.
    pub(crate) awaiting_sync: Option<RequestId>,
    /// Joined in the current join phase for the first time: not yet given an id it could
    /// heartbeat with, so it expires on the new-member join timeout.
    pub(crate) is_new: bool,
    /// When its session (or new-member join timeout) runs out.
    pub(crate) heartbeat_deadline_ms: i64,
}

impl Member {
    /// The member's metadata for `protocol`, empty if it does not offer it.
    pub(crate) fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| p.metadata.clone())
            .unwrap_or_default()
    }

    /// Whether `protocols` are exactly what the member offered before.
    pub(crate) fn matches(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    /// The member's first preference among `candidates`.
    pub(crate) fn vote<'a>(&'a self, candidates: &[&str]) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|p| p.name.as_str())
            .find(|name| candidates.contains(name))
    }

    /// Whether a missed heartbeat deadline removes the member. Members parked in a rebalance
    /// are kept (the rebalance timeout governs them), except new members, which have no id to
    /// heartbeat with and expire on their join timeout.
    pub(crate) fn expires_on_missed_heartbeat(&self) -> bool {
        self.is_new || (self.awaiting_join.is_none() && self.awaiting_sync.is_none())
    }
}
