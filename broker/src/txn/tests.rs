//! The coordinator end to end on a real data directory, with time passed in.

use std::sync::Arc;

use super::*;
use crate::group::GroupConfig;

struct Setup {
    _dir: tempfile::TempDir,
    topics: Arc<Topics>,
    groups: crate::group::GroupCoordinator,
    txn: TransactionCoordinator,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let topics = Arc::new(Topics::load(dir.path()).unwrap());
    topics.create("out", 2, TopicConfig::default()).unwrap();
    let groups = crate::group::boot::start(&topics, GroupConfig::default(), 0).unwrap();
    let txn = TransactionCoordinator::start(dir.path(), &topics, TxnConfig::default()).unwrap();
    Setup {
        _dir: dir,
        topics,
        groups,
        txn,
    }
}

fn init(txn: &TransactionCoordinator, id: &str, now: i64) -> ProducerIdAndEpoch {
    txn.init_producer_id(
        &InitProducer {
            transactional_id: Some(id.into()),
            transaction_timeout_ms: 1_000,
            current: None,
        },
        now,
    )
    .unwrap()
}

fn producer(id: &str, given: ProducerIdAndEpoch) -> TxnProducer {
    TxnProducer {
        transactional_id: id.into(),
        producer_id: given.producer_id,
        epoch: given.epoch,
    }
}

#[tokio::test]
async fn commit_writes_a_marker_to_every_partition_of_the_transaction() {
    let s = setup();
    let given = init(&s.txn, "t", 0);
    let p = producer("t", given);
    s.txn
        .add_partitions(&p, vec![("out".into(), 0), ("out".into(), 1)], 10)
        .unwrap();
    assert_eq!(s.txn.describe("t").unwrap().state, TxnState::Ongoing);
    s.txn.end(&s.groups, &p, true, 20).await.unwrap();
    let topic = s.topics.get("out").unwrap();
    for partition in topic.partitions().iter() {
        assert_eq!(partition.log.log_end_offset(), 1, "one commit marker");
    }
    assert_eq!(s.txn.describe("t").unwrap().state, TxnState::CompleteCommit);
    // A retried commit succeeds; an abort now is refused.
    s.txn.end(&s.groups, &p, true, 30).await.unwrap();
    assert!(matches!(
        s.txn.end(&s.groups, &p, false, 30).await,
        Err(TxnRequestError::Txn(TxnError::InvalidTxnState(
            TxnState::CompleteCommit
        )))
    ));
    s.groups.stop().await;
}

#[tokio::test]
async fn a_new_instance_fences_the_old_and_aborts_its_transaction() {
    let s = setup();
    let old = producer("t", init(&s.txn, "t", 0));
    s.txn
        .add_partitions(&old, vec![("out".into(), 0)], 10)
        .unwrap();
    let new = init(&s.txn, "t", 20);
    assert_eq!(new.producer_id, old.producer_id);
    assert!(new.epoch > old.epoch);
    let partition = s.topics.get("out").unwrap().partition(0).unwrap();
    assert_eq!(
        partition.log.log_end_offset(),
        1,
        "the old transaction's abort marker"
    );
    assert!(matches!(
        s.txn.end(&s.groups, &old, true, 30).await,
        Err(TxnRequestError::Txn(TxnError::ProducerFenced { .. }))
    ));
    assert!(matches!(
        s.txn.add_partitions(&old, vec![("out".into(), 1)], 30),
        Err(TxnRequestError::Txn(TxnError::ProducerFenced { .. }))
    ));
    s.groups.stop().await;
}

#[tokio::test]
async fn a_timed_out_transaction_is_aborted_with_a_bumped_epoch() {
    let s = setup();
    let given = init(&s.txn, "t", 0);
    let p = producer("t", given);
    s.txn
        .add_partitions(&p, vec![("out".into(), 1)], 100)
        .unwrap();
    s.txn.tick(&s.groups, 1_100).await;
    assert_eq!(
        s.txn.describe("t").unwrap().state,
        TxnState::Ongoing,
        "not yet"
    );
    s.txn.tick(&s.groups, 1_101).await;
    let after = s.txn.describe("t").unwrap();
    assert_eq!(after.state, TxnState::CompleteAbort);
    assert_eq!(after.epoch, given.epoch + 1);
    assert!(matches!(
        s.txn.end(&s.groups, &p, true, 1_200).await,
        Err(TxnRequestError::Txn(TxnError::ProducerFenced { .. }))
    ));
    s.groups.stop().await;
}

#[tokio::test]
async fn state_survives_a_restart_and_prepared_transactions_are_finished() {
    let dir = tempfile::tempdir().unwrap();
    let given = {
        let topics = Arc::new(Topics::load(dir.path()).unwrap());
        topics.create("out", 1, TopicConfig::default()).unwrap();
        let txn = TransactionCoordinator::start(dir.path(), &topics, TxnConfig::default()).unwrap();
        let given = init(&txn, "t", 0);
        txn.add_partitions(&producer("t", given), vec![("out".into(), 0)], 10)
            .unwrap();
        // A crash after PrepareCommit was written, before the markers.
        let mut m = txn.describe("t").unwrap();
        m.state = TxnState::PrepareCommit;
        store::append(&txn.log.log, "t", Some(&m), 20).unwrap();
        given
    };
    let topics = Arc::new(Topics::load(dir.path()).unwrap());
    let groups = crate::group::boot::start(&topics, GroupConfig::default(), 0).unwrap();
    let txn = TransactionCoordinator::start(dir.path(), &topics, TxnConfig::default()).unwrap();
    let m = txn.describe("t").unwrap();
    assert_eq!(
        (m.state, m.producer_id),
        (TxnState::PrepareCommit, given.producer_id)
    );
    txn.tick(&groups, 30).await;
    assert_eq!(txn.describe("t").unwrap().state, TxnState::CompleteCommit);
    let partition = topics.get("out").unwrap().partition(0).unwrap();
    assert_eq!(partition.log.log_end_offset(), 1, "the commit marker");
    // Ids allocated after the restart never repeat the earlier one.
    let other = init(&txn, "u", 40);
    assert_ne!(other.producer_id, given.producer_id);
    groups.stop().await;
}

/// The offset group "g" has committed for out-1, if any.
async fn committed(groups: &crate::group::GroupCoordinator) -> Option<i64> {
    let result = groups
        .fetch(crate::group::types::OffsetFetch {
            group_id: "g".into(),
            partitions: Some(vec![GroupTp::new("out", 1)]),
        })
        .await;
    assert_eq!(result.error, None);
    result.offsets[0].1.as_ref().map(|c| c.offset)
}

fn pending(offset: i64) -> PendingOffset {
    PendingOffset {
        group_id: "g".into(),
        partition: ("out".into(), 1),
        offset,
        leader_epoch: -1,
        metadata: String::new(),
    }
}

#[tokio::test]
async fn offsets_sent_in_an_aborted_transaction_are_never_committed() {
    let s = setup();
    let p = producer("t", init(&s.txn, "t", 0));
    s.txn.add_offsets(&p, "g".into(), 10).unwrap();
    s.txn.commit_offsets(&p, vec![pending(5)], 20).unwrap();
    assert_eq!(committed(&s.groups).await, None, "parked until the commit");
    s.txn.end(&s.groups, &p, false, 30).await.unwrap();
    assert_eq!(committed(&s.groups).await, None, "aborted: dropped");
    // The background pass has nothing left to hand over either.
    s.txn.tick(&s.groups, 40).await;
    assert_eq!(committed(&s.groups).await, None);

    // The next transaction commits its own offset, not the aborted one.
    s.txn.add_offsets(&p, "g".into(), 50).unwrap();
    s.txn.commit_offsets(&p, vec![pending(7)], 60).unwrap();
    s.txn.end(&s.groups, &p, true, 70).await.unwrap();
    assert_eq!(committed(&s.groups).await, Some(7));
    s.groups.stop().await;
}

/// `transactional.id.expiration.ms` in the expiry tests.
const EXPIRATION_MS: i64 = 10_000;

fn start_expiring(dir: &std::path::Path, topics: &Arc<Topics>) -> TransactionCoordinator {
    let config = TxnConfig {
        transactional_id_expiration_ms: EXPIRATION_MS,
    };
    TransactionCoordinator::start(dir, topics, config).unwrap()
}

fn init_with_timeout(
    txn: &TransactionCoordinator,
    id: &str,
    timeout_ms: i32,
    now: i64,
) -> TxnProducer {
    let given = txn
        .init_producer_id(
            &InitProducer {
                transactional_id: Some(id.into()),
                transaction_timeout_ms: timeout_ms,
                current: None,
            },
            now,
        )
        .unwrap();
    producer(id, given)
}

#[tokio::test]
async fn idle_transactional_ids_expire_and_stay_gone_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (idle_before, open_before) = {
        let topics = Arc::new(Topics::load(dir.path()).unwrap());
        topics.create("out", 1, TopicConfig::default()).unwrap();
        let groups = crate::group::boot::start(&topics, GroupConfig::default(), 0).unwrap();
        let txn = start_expiring(dir.path(), &topics);
        // Initialised and never used.
        let idle = init_with_timeout(&txn, "idle", 60_000, 0);
        // Committed a transaction later on.
        let active = init_with_timeout(&txn, "active", 60_000, 0);
        txn.add_partitions(&active, vec![("out".into(), 0)], 5_000)
            .unwrap();
        txn.end(&groups, &active, true, 6_000).await.unwrap();
        // Its transaction is still open, long past the expiration (its timeout is longer).
        let open = init_with_timeout(&txn, "open", MAX_TIMEOUT_MS, 0);
        txn.add_partitions(&open, vec![("out".into(), 0)], 1_000)
            .unwrap();

        assert!(txn
            .expire_transactional_ids(EXPIRATION_MS - 1)
            .unwrap()
            .is_empty());
        assert_eq!(
            txn.expire_transactional_ids(EXPIRATION_MS).unwrap(),
            vec!["idle".to_string()]
        );
        assert!(txn.describe("idle").is_none());
        assert_eq!(
            txn.describe("active").unwrap().state,
            TxnState::CompleteCommit,
            "active 4 s ago"
        );
        // The background tick runs the same expiry.
        txn.tick(&groups, 6_000 + EXPIRATION_MS).await;
        assert!(txn.describe("active").is_none());
        assert_eq!(txn.describe("open").unwrap().state, TxnState::Ongoing);
        let ids: Vec<String> = txn.list().into_iter().map(|t| t.transactional_id).collect();
        assert_eq!(ids, vec!["open".to_string()]);
        groups.stop().await;
        (idle, open)
    };

    // The tombstones keep them gone after a restart; the open transaction is still there.
    let topics = Arc::new(Topics::load(dir.path()).unwrap());
    let txn = start_expiring(dir.path(), &topics);
    assert!(txn.describe("idle").is_none());
    assert!(txn.describe("active").is_none());
    let open = txn.describe("open").unwrap();
    assert_eq!(
        (open.state, open.producer_id, open.epoch),
        (
            TxnState::Ongoing,
            open_before.producer_id,
            open_before.epoch
        )
    );
    // An expired id starts over with a new producer id, as a never-seen one would.
    let again = init_with_timeout(&txn, "idle", 60_000, 30_000);
    assert_ne!(again.producer_id, idle_before.producer_id);
    assert_eq!(again.epoch, 0);
}
