//! The coordinator's tokio side: one task owns the [`Coordinator`] state machine, takes
//! requests over a channel (each with a oneshot for its reply), keeps the timers the machine
//! asks for and performs its appends. Handlers talk to it through [`GroupCoordinator`].

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::warn;

use super::error::GroupError;
use super::load::Replay;
use super::machine::{Coordinator, Effect, Event, Reply, TimerKey};
use super::record::LogRecord;
use super::store::StoreError;
use super::types::{
    DeleteOffsets, DeleteOffsetsResult, FetchResult, GroupDescription, GroupOverview, Heartbeat,
    JoinGroup, JoinResult, LeaveGroup, LeaveResult, ListGroups, OffsetCommit, OffsetFetch,
    OffsetToCommit, RequestId, SyncGroup, SyncResult, TopicPartition,
};
use super::GroupConfig;

/// Where the coordinator's records go.
pub trait OffsetsLog: Send + Sync + 'static {
    /// Appends `records` as one batch.
    fn append(&self, records: &[LogRecord], now_ms: i64) -> Result<(), StoreError>;
}

impl OffsetsLog for fjord_storage::Log {
    fn append(&self, records: &[LogRecord], now_ms: i64) -> Result<(), StoreError> {
        super::store::append(self, records, now_ms)
    }
}

impl OffsetsLog for crate::partition::Partition {
    fn append(&self, records: &[LogRecord], now_ms: i64) -> Result<(), StoreError> {
        super::store::append(&self.log, records, now_ms)?;
        // Consumers of the internal topic see the write at once.
        self.notify_appended();
        Ok(())
    }
}

/// Builds the event for a request once the actor has given it an id.
type MakeEvent = Box<dyn FnOnce(RequestId) -> Event + Send>;

enum Command {
    Call(MakeEvent, oneshot::Sender<Reply>),
}

/// The coordinator is not running (stopped, or its task ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the group coordinator is not running")]
pub struct CoordinatorStopped;

/// A handle to the running coordinator; cheap to share between connections.
#[derive(Debug)]
pub struct GroupCoordinator {
    calls: mpsc::Sender<Command>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command::Call")
    }
}

/// Maps the machine's millisecond clock onto tokio's, so tests with a paused tokio clock
/// move both together.
#[derive(Debug, Clone, Copy)]
struct Clock {
    base_ms: i64,
    base: Instant,
}

impl Clock {
    fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.base.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.base_ms.saturating_add(elapsed)
    }

    fn instant(&self, at_ms: i64) -> Instant {
        let after = u64::try_from(at_ms.saturating_sub(self.base_ms)).unwrap_or(0);
        self.base + Duration::from_millis(after)
    }
}

impl GroupCoordinator {
    /// Starts the coordinator with the state replayed from the log; `wall_clock_ms` is the
    /// current time in milliseconds since the epoch (commit timestamps use it).
    pub fn start(
        config: GroupConfig,
        log: Arc<dyn OffsetsLog>,
        replay: Replay,
        wall_clock_ms: i64,
    ) -> Self {
        let clock = Clock {
            base_ms: wall_clock_ms,
            base: Instant::now(),
        };
        let mut machine = Coordinator::new(config);
        replay.install(&mut machine, clock.now_ms());
        let (calls, rx) = mpsc::channel(1024);
        let actor = Actor {
            machine,
            log,
            clock,
            rx,
            replies: HashMap::new(),
            deadlines: HashMap::new(),
            timers: BTreeSet::new(),
            next_request: 0,
        };
        Self {
            calls,
            task: Mutex::new(Some(tokio::spawn(actor.run()))),
        }
    }

    /// Stops the coordinator; parked requests are dropped (their callers see
    /// [`CoordinatorStopped`]).
    pub async fn stop(&self) {
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.abort();
            // The task was aborted on purpose, so its cancellation is the expected outcome.
            let _ = task.await;
        }
    }

    async fn call(&self, make: MakeEvent) -> Result<Reply, CoordinatorStopped> {
        let (tx, rx) = oneshot::channel();
        self.calls
            .send(Command::Call(make, tx))
            .await
            .map_err(|_| CoordinatorStopped)?;
        rx.await.map_err(|_| CoordinatorStopped)
    }

    /// JoinGroup.
    pub async fn join(&self, request: JoinGroup) -> JoinResult {
        let member_id = request.member_id.clone();
        match self.call(Box::new(|id| Event::Join(id, request))).await {
            Ok(Reply::Join(r)) => r,
            _ => JoinResult::error(member_id, GroupError::CoordinatorNotAvailable),
        }
    }

    /// SyncGroup.
    pub async fn sync(&self, request: SyncGroup) -> SyncResult {
        match self.call(Box::new(|id| Event::Sync(id, request))).await {
            Ok(Reply::Sync(r)) => r,
            _ => SyncResult::error(GroupError::CoordinatorNotAvailable),
        }
    }

    /// Heartbeat.
    pub async fn heartbeat(&self, request: Heartbeat) -> Option<GroupError> {
        match self
            .call(Box::new(|id| Event::Heartbeat(id, request)))
            .await
        {
            Ok(Reply::Heartbeat(r)) => r,
            _ => Some(GroupError::CoordinatorNotAvailable),
        }
    }

    /// LeaveGroup.
    pub async fn leave(&self, request: LeaveGroup) -> LeaveResult {
        match self.call(Box::new(|id| Event::Leave(id, request))).await {
            Ok(Reply::Leave(r)) => r,
            _ => LeaveResult {
                error: Some(GroupError::CoordinatorNotAvailable),
                members: Vec::new(),
            },
        }
    }

    /// OffsetCommit.
    pub async fn commit(&self, request: OffsetCommit) -> Vec<(TopicPartition, Option<GroupError>)> {
        let partitions: Vec<_> = request
            .offsets
            .iter()
            .map(|o| o.partition.clone())
            .collect();
        match self.call(Box::new(|id| Event::Commit(id, request))).await {
            Ok(Reply::Commit(r)) => r,
            _ => partitions
                .into_iter()
                .map(|p| (p, Some(GroupError::CoordinatorNotAvailable)))
                .collect(),
        }
    }

    /// Checks a TxnOffsetCommit's member and generation against the group (KIP-447).
    pub async fn check_txn_member(&self, request: OffsetCommit) -> Option<GroupError> {
        match self
            .call(Box::new(|id| Event::CheckTxnMember(id, request)))
            .await
        {
            Ok(Reply::TxnMember(r)) => r,
            _ => Some(GroupError::CoordinatorNotAvailable),
        }
    }

    /// Writes the offsets of a committed transaction, whatever the group's generation now is.
    pub async fn commit_transactional(
        &self,
        group_id: String,
        offsets: Vec<OffsetToCommit>,
    ) -> Vec<(TopicPartition, Option<GroupError>)> {
        let partitions: Vec<_> = offsets.iter().map(|o| o.partition.clone()).collect();
        match self
            .call(Box::new(|id| {
                Event::CommitTransactional(id, group_id, offsets)
            }))
            .await
        {
            Ok(Reply::Commit(r)) => r,
            _ => partitions
                .into_iter()
                .map(|p| (p, Some(GroupError::CoordinatorNotAvailable)))
                .collect(),
        }
    }

    /// OffsetFetch for one group.
    pub async fn fetch(&self, request: OffsetFetch) -> FetchResult {
        match self.call(Box::new(|id| Event::Fetch(id, request))).await {
            Ok(Reply::Fetch(r)) => r,
            _ => FetchResult {
                error: Some(GroupError::CoordinatorNotAvailable),
                offsets: Vec::new(),
            },
        }
    }

    /// ListGroups; `Err` when the coordinator is not running.
    pub async fn list(
        &self,
        request: ListGroups,
    ) -> Result<Vec<GroupOverview>, CoordinatorStopped> {
        match self.call(Box::new(|id| Event::List(id, request))).await? {
            Reply::List(r) => Ok(r),
            _ => Err(CoordinatorStopped),
        }
    }

    /// DescribeGroups; `Err` when the coordinator is not running.
    pub async fn describe(
        &self,
        groups: Vec<String>,
    ) -> Result<Vec<GroupDescription>, CoordinatorStopped> {
        match self
            .call(Box::new(|id| Event::Describe(id, groups)))
            .await?
        {
            Reply::Describe(r) => Ok(r),
            _ => Err(CoordinatorStopped),
        }
    }

    /// DeleteGroups.
    pub async fn delete(&self, groups: Vec<String>) -> Vec<(String, Option<GroupError>)> {
        let names = groups.clone();
        match self.call(Box::new(|id| Event::Delete(id, groups))).await {
            Ok(Reply::Delete(r)) => r,
            _ => names
                .into_iter()
                .map(|g| (g, Some(GroupError::CoordinatorNotAvailable)))
                .collect(),
        }
    }

    /// OffsetDelete.
    pub async fn delete_offsets(&self, request: DeleteOffsets) -> DeleteOffsetsResult {
        match self
            .call(Box::new(|id| Event::DeleteOffsets(id, request)))
            .await
        {
            Ok(Reply::DeleteOffsets(r)) => r,
            _ => DeleteOffsetsResult {
                error: Some(GroupError::CoordinatorNotAvailable),
                partitions: Vec::new(),
            },
        }
    }
}

struct Actor {
    machine: Coordinator,
    log: Arc<dyn OffsetsLog>,
    clock: Clock,
    rx: mpsc::Receiver<Command>,
    /// Callers waiting for a reply.
    replies: HashMap<RequestId, oneshot::Sender<Reply>>,
    /// Each timer's current deadline.
    deadlines: HashMap<TimerKey, i64>,
    /// The same timers ordered by deadline.
    timers: BTreeSet<(i64, TimerKey)>,
    next_request: u64,
}

impl Actor {
    async fn run(mut self) {
        let start = self.machine.start(self.clock.now_ms());
        self.apply(start);
        loop {
            let next = self.timers.first().map(|(at, _)| self.clock.instant(*at));
            tokio::select! {
                command = self.rx.recv() => {
                    let Some(Command::Call(make, reply)) = command else { break };
                    self.next_request += 1;
                    let id = RequestId(self.next_request);
                    self.replies.insert(id, reply);
                    let effects = self.machine.handle(make(id), self.clock.now_ms());
                    self.apply(effects);
                }
                () = sleep_until(next), if next.is_some() => self.fire_due_timers(),
            }
        }
    }

    fn fire_due_timers(&mut self) {
        let now = self.clock.now_ms();
        while let Some((at, key)) = self.timers.first().cloned() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, key.clone()));
            self.deadlines.remove(&key);
            let effects = self.machine.handle(Event::Timer(key), now);
            self.apply(effects);
        }
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            match effect {
                Effect::Reply(id, reply) => {
                    if let Some(tx) = self.replies.remove(&id) {
                        // The caller may have gone (connection closed); nothing to do then.
                        let _ = tx.send(reply);
                    }
                }
                Effect::Schedule { key, at_ms } => {
                    if let Some(old) = self.deadlines.insert(key.clone(), at_ms) {
                        self.timers.remove(&(old, key.clone()));
                    }
                    self.timers.insert((at_ms, key));
                }
                Effect::Cancel(key) => {
                    if let Some(old) = self.deadlines.remove(&key) {
                        self.timers.remove(&(old, key));
                    }
                }
                Effect::Append(id, records) => {
                    let now = self.clock.now_ms();
                    let result = self.log.append(&records, now).map_err(|e| {
                        warn!(error = %e, records = records.len(), "group coordinator write failed");
                        GroupError::Storage
                    });
                    if let Some(id) = id {
                        queue.extend(self.machine.handle(Event::Written(id, result), now));
                    }
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::types::{GenerationId, Protocol};
    use fjord_storage::{Log, LogConfig};

    fn join(member_id: &str) -> JoinGroup {
        JoinGroup {
            group_id: "g".into(),
            member_id: member_id.into(),
            group_instance_id: None,
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 5_000,
            protocol_type: "consumer".into(),
            protocols: vec![Protocol {
                name: "range".into(),
                metadata: bytes::Bytes::from_static(b"m"),
            }],
            client_id: "c".into(),
            client_host: "h".into(),
            require_known_member_id: true,
            supports_skip_assignment: true,
            fresh_member_suffix: uuid::Uuid::new_v4().to_string(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn join_sync_commit_then_restart_keeps_the_group_and_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(Log::open(dir.path(), LogConfig::default()).unwrap());
        let groups = GroupCoordinator::start(
            GroupConfig::default(),
            log.clone(),
            Replay::default(),
            1_000,
        );
        let first = groups.join(join("")).await;
        assert_eq!(first.error, Some(GroupError::MemberIdRequired));
        // The paused clock jumps over the initial rebalance delay.
        let joined = groups.join(join(&first.member_id)).await;
        assert_eq!(joined.generation_id, GenerationId(1));
        let synced = groups
            .sync(SyncGroup {
                group_id: "g".into(),
                generation_id: joined.generation_id,
                member_id: joined.member_id.clone(),
                group_instance_id: None,
                protocol_type: None,
                protocol_name: None,
                assignments: vec![(joined.member_id.clone(), bytes::Bytes::from_static(b"all"))],
            })
            .await;
        assert_eq!(synced.assignment, bytes::Bytes::from_static(b"all"));
        let committed = groups
            .commit(OffsetCommit {
                group_id: "g".into(),
                generation_id: joined.generation_id,
                member_id: joined.member_id.clone(),
                group_instance_id: None,
                offsets: vec![OffsetToCommit {
                    partition: TopicPartition::new("t", 0),
                    offset: 12,
                    leader_epoch: 0,
                    metadata: "x".into(),
                }],
            })
            .await;
        assert_eq!(committed, vec![(TopicPartition::new("t", 0), None)]);
        groups.stop().await;
        assert_eq!(
            groups
                .heartbeat(Heartbeat {
                    group_id: "g".into(),
                    generation_id: joined.generation_id,
                    member_id: joined.member_id.clone(),
                    group_instance_id: None,
                })
                .await,
            Some(GroupError::CoordinatorNotAvailable)
        );

        let replay = crate::group::store::replay(&log).unwrap();
        let restarted = GroupCoordinator::start(GroupConfig::default(), log, replay, 2_000);
        let fetched = restarted
            .fetch(OffsetFetch {
                group_id: "g".into(),
                partitions: None,
            })
            .await;
        assert_eq!(fetched.offsets.len(), 1);
        assert_eq!(fetched.offsets[0].1.as_ref().map(|o| o.offset), Some(12));
        let described = restarted.describe(vec!["g".into()]).await.unwrap();
        assert_eq!(described[0].state, "Stable");
        assert_eq!(described[0].members[0].member_id, joined.member_id);
        // Nobody heartbeats after the restart: the member's session runs out.
        tokio::time::sleep(Duration::from_millis(10_001)).await;
        let described = restarted.describe(vec!["g".into()]).await.unwrap();
        assert!(described[0].members.is_empty(), "{described:?}");
        restarted.stop().await;
    }
}
