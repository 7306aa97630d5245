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
    let txn = TransactionCoordinator::start(dir.path(), &topics).unwrap();
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
        let txn = TransactionCoordinator::start(dir.path(), &topics).unwrap();
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
    let txn = TransactionCoordinator::start(dir.path(), &topics).unwrap();
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
