//! Incremental fetch sessions (KIP-227): the broker remembers what a fetcher asked for, so
//! later requests name only what changed and responses carry only partitions with news.
//!
//! A fetch with session epoch 0 is a full fetch that (room permitting) opens a session and
//! returns its id; the fetcher then sends epochs 1, 2, ... with the partitions it adds or
//! whose fetch position moved, and the partitions it no longer wants as "forgotten". An
//! incremental response holds only partitions with records, an error, or a changed high
//! watermark, last stable offset or log start offset. Epoch -1 closes the session (with id 0,
//! it is a plain full fetch without one).
//!
//! The cache is bounded like Kafka's (`max.incremental.fetch.session.cache.slots`, 1000): when
//! full, a session idle longer than the eviction time is dropped for a new one, or failing
//! that the session with the fewest partitions, if the new one has more. Otherwise the new
//! fetcher simply gets no session (id 0) and keeps doing full fetches.
//!
//! This module is pure bookkeeping: [`FetchSessionCache::plan`] turns a request into the list
//! of partitions to read, and [`FetchSessionCache::complete`] records what was answered and
//! says which partitions the response includes. Time comes in as an argument.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use fjord_protocol::error_code::ErrorCode;
use uuid::Uuid;

/// Kafka's default `max.incremental.fetch.session.cache.slots`.
pub const DEFAULT_MAX_SESSIONS: usize = 1000;

/// How long a session must be idle before a new session may take its slot (Kafka's
/// `MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS`).
pub const DEFAULT_EVICTION_MS: i64 = 120_000;

/// The session id meaning "no session".
pub const NO_SESSION: i32 = 0;

/// The epoch of a full fetch that opens a session.
const INITIAL_EPOCH: i32 = 0;

/// The epoch that closes a session, or asks for none.
const FINAL_EPOCH: i32 = -1;

/// How a fetch names a topic: by name before Fetch v13, by id from v13.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TopicRef {
    /// Fetch v7-v12.
    Name(String),
    /// Fetch v13+.
    Id(Uuid),
}

/// One partition of a fetch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartitionKey {
    /// The topic.
    pub topic: TopicRef,
    /// The partition index.
    pub partition: i32,
}

/// What the fetcher asked of one partition; a session keeps it until the fetcher changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchParams {
    /// Where to read from.
    pub fetch_offset: i64,
    /// Most bytes to return for this partition.
    pub partition_max_bytes: i32,
    /// The leader epoch the fetcher believes current (-1: unknown).
    pub current_leader_epoch: i32,
}

/// The offsets a response reported for a partition. A session remembers the last ones sent,
/// so an unchanged partition can be left out of the next response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported {
    /// High watermark.
    pub high_watermark: i64,
    /// Last stable offset.
    pub last_stable_offset: i64,
    /// Log start offset.
    pub log_start_offset: i64,
}

/// What reading one partition produced, as far as sessions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    /// The offsets the answer carries.
    pub reported: Reported,
    /// Whether the answer carries record bytes.
    pub has_records: bool,
    /// Whether the answer carries an error code.
    pub has_error: bool,
}

/// A fetch request, as far as sessions care.
#[derive(Debug, Clone)]
pub struct SessionRequest {
    /// The session id (0: none).
    pub session_id: i32,
    /// The session epoch.
    pub epoch: i32,
    /// Whether topics are named by id (Fetch v13+).
    pub uses_topic_ids: bool,
    /// The partitions in the request, in request order.
    pub partitions: Vec<(PartitionKey, FetchParams)>,
    /// Partitions to drop from the session.
    pub forgotten: Vec<PartitionKey>,
}

/// What kind of fetch a request turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchKind {
    /// A full fetch without a session (epoch -1); the response has session id 0.
    Sessionless,
    /// A full fetch that opens a session if there is room.
    Full,
    /// An incremental fetch in an open session.
    Incremental {
        /// The session.
        session_id: i32,
    },
}

/// The partitions a fetch reads, in the order it reads them.
#[derive(Debug, Clone)]
pub struct FetchPlan {
    /// The kind of fetch.
    pub kind: FetchKind,
    /// Every partition to read and how.
    pub partitions: Vec<(PartitionKey, FetchParams)>,
    /// Whether topics are named by id.
    pub uses_topic_ids: bool,
}

/// The session side of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The session id to send back (0: none).
    pub session_id: i32,
    /// For each planned partition, whether the response includes it.
    pub include: Vec<bool>,
}

#[derive(Debug, Clone)]
struct CachedPartition {
    params: FetchParams,
    /// What the last response said, if it included this partition yet.
    reported: Option<Reported>,
}

#[derive(Debug)]
struct Session {
    /// The epoch the next request must carry.
    next_epoch: i32,
    uses_topic_ids: bool,
    /// Read order: partitions that returned records move to the back, so a partition early in
    /// the list cannot starve the others of the response's byte budget.
    order: Vec<PartitionKey>,
    partitions: HashMap<PartitionKey, CachedPartition>,
    last_used_ms: i64,
}

impl Session {
    fn planned(&self) -> Vec<(PartitionKey, FetchParams)> {
        self.order
            .iter()
            .filter_map(|k| self.partitions.get(k).map(|c| (k.clone(), c.params)))
            .collect()
    }

    fn upsert(&mut self, key: PartitionKey, params: FetchParams) {
        match self.partitions.get_mut(&key) {
            Some(cached) => cached.params = params,
            None => {
                self.order.push(key.clone());
                self.partitions.insert(
                    key,
                    CachedPartition {
                        params,
                        reported: None,
                    },
                );
            }
        }
    }

    fn forget(&mut self, keys: &[PartitionKey]) {
        if keys.is_empty() {
            return;
        }
        for key in keys {
            self.partitions.remove(key);
        }
        let partitions = &self.partitions;
        self.order.retain(|k| partitions.contains_key(k));
    }
}

/// Kafka's successor of an epoch: wraps from `i32::MAX` to 1, never back to 0.
fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

#[derive(Debug, Default)]
struct Sessions {
    by_id: HashMap<i32, Session>,
}

/// The broker's bounded set of open fetch sessions.
#[derive(Debug)]
pub struct FetchSessionCache {
    max_sessions: usize,
    eviction_ms: i64,
    sessions: Mutex<Sessions>,
}

impl Default for FetchSessionCache {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_SESSIONS, DEFAULT_EVICTION_MS)
    }
}

impl FetchSessionCache {
    /// A cache of at most `max_sessions` sessions; one idle for `eviction_ms` may be evicted.
    pub fn new(max_sessions: usize, eviction_ms: i64) -> Self {
        Self {
            max_sessions,
            eviction_ms,
            sessions: Mutex::new(Sessions::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many sessions are open.
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Turns a request into the partitions to read, updating its session. An `Err` is the
    /// top-level error of the whole response (unknown session, wrong epoch, topic-id mix-up).
    pub fn plan(&self, request: SessionRequest, now_ms: i64) -> Result<FetchPlan, ErrorCode> {
        let mut sessions = self.lock();
        if request.epoch == FINAL_EPOCH || request.epoch == INITIAL_EPOCH {
            if request.session_id != NO_SESSION {
                sessions.by_id.remove(&request.session_id);
            }
            return Ok(FetchPlan {
                kind: if request.epoch == FINAL_EPOCH {
                    FetchKind::Sessionless
                } else {
                    FetchKind::Full
                },
                partitions: request.partitions,
                uses_topic_ids: request.uses_topic_ids,
            });
        }
        let session = sessions
            .by_id
            .get_mut(&request.session_id)
            .ok_or(ErrorCode::FetchSessionIdNotFound)?;
        if session.next_epoch != request.epoch {
            return Err(ErrorCode::InvalidFetchSessionEpoch);
        }
        if session.uses_topic_ids != request.uses_topic_ids {
            return Err(ErrorCode::FetchSessionTopicIdError);
        }
        for (key, params) in request.partitions {
            session.upsert(key, params);
        }
        session.forget(&request.forgotten);
        session.next_epoch = next_epoch(request.epoch);
        session.last_used_ms = now_ms;
        Ok(FetchPlan {
            kind: FetchKind::Incremental {
                session_id: request.session_id,
            },
            partitions: session.planned(),
            uses_topic_ids: request.uses_topic_ids,
        })
    }

    /// Records what was read for each planned partition (same order as `plan.partitions`)
    /// and decides which partitions the response includes and under which session id.
    pub fn complete(&self, plan: &FetchPlan, observed: &[Observed], now_ms: i64) -> Completion {
        match plan.kind {
            FetchKind::Sessionless => Completion {
                session_id: NO_SESSION,
                include: vec![true; observed.len()],
            },
            FetchKind::Full => Completion {
                session_id: self.open(plan, observed, now_ms),
                include: vec![true; observed.len()],
            },
            FetchKind::Incremental { session_id } => Completion {
                session_id,
                include: self.record(session_id, plan, observed),
            },
        }
    }

    /// Opens a session for a full fetch, evicting another if the cache is full and Kafka's
    /// rules allow; returns its id, or [`NO_SESSION`] when there is no room.
    fn open(&self, plan: &FetchPlan, observed: &[Observed], now_ms: i64) -> i32 {
        let mut sessions = self.lock();
        let size = plan.partitions.len();
        if sessions.by_id.len() >= self.max_sessions && !self.evict_one(&mut sessions, size, now_ms)
        {
            return NO_SESSION;
        }
        let mut session = Session {
            next_epoch: next_epoch(INITIAL_EPOCH),
            uses_topic_ids: plan.uses_topic_ids,
            order: Vec::with_capacity(size),
            partitions: HashMap::with_capacity(size),
            last_used_ms: now_ms,
        };
        for ((key, params), seen) in plan.partitions.iter().zip(observed) {
            session.upsert(key.clone(), *params);
            if let Some(cached) = session.partitions.get_mut(key) {
                cached.reported = Some(seen.reported);
            }
        }
        let id = loop {
            let candidate = random_session_id();
            if !sessions.by_id.contains_key(&candidate) {
                break candidate;
            }
        };
        sessions.by_id.insert(id, session);
        id
    }

    /// Makes room for a session of `size` partitions: the least recently used session if it
    /// is stale, else the smallest session if it is smaller than the new one.
    fn evict_one(&self, sessions: &mut Sessions, size: usize, now_ms: i64) -> bool {
        let oldest = sessions
            .by_id
            .iter()
            .min_by_key(|(id, s)| (s.last_used_ms, **id))
            .map(|(id, s)| (*id, s.last_used_ms));
        if let Some((id, last_used)) = oldest {
            if now_ms - last_used > self.eviction_ms {
                sessions.by_id.remove(&id);
                return true;
            }
        }
        let smallest = sessions
            .by_id
            .iter()
            .min_by_key(|(id, s)| (s.partitions.len(), **id))
            .map(|(id, s)| (*id, s.partitions.len()));
        match smallest {
            Some((id, smallest)) if size > smallest => {
                sessions.by_id.remove(&id);
                true
            }
            _ => false,
        }
    }

    /// Compares an incremental fetch's results with what the session last sent, remembers the
    /// new values, and moves partitions that returned records to the back.
    fn record(&self, session_id: i32, plan: &FetchPlan, observed: &[Observed]) -> Vec<bool> {
        let mut sessions = self.lock();
        let mut session = sessions.by_id.get_mut(&session_id);
        let mut rotated = HashSet::new();
        let include = plan
            .partitions
            .iter()
            .zip(observed)
            .map(|((key, _), seen)| {
                let cached = session
                    .as_deref_mut()
                    .and_then(|s| s.partitions.get_mut(key));
                let changed = cached
                    .as_ref()
                    .is_none_or(|c| c.reported != Some(seen.reported));
                if let Some(cached) = cached {
                    cached.reported = Some(seen.reported);
                }
                if seen.has_records {
                    rotated.insert(key.clone());
                }
                seen.has_records || seen.has_error || changed
            })
            .collect();
        if let Some(session) = session {
            if !rotated.is_empty() {
                // Keep the rotated partitions in their current relative order.
                let (moved, kept): (Vec<_>, Vec<_>) =
                    session.order.drain(..).partition(|k| rotated.contains(k));
                session.order = kept;
                session.order.extend(moved);
            }
        }
        include
    }
}

/// A random positive session id: hard to guess, never [`NO_SESSION`].
fn random_session_id() -> i32 {
    let bits = Uuid::new_v4().as_u128();
    let id = i32::try_from(bits & 0x7fff_ffff).unwrap_or(1);
    id.max(1)
}

#[cfg(test)]
mod tests;
