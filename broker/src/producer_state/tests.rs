//! Rules of the producer state: duplicates, gaps, epochs, transactions, expiry.

use super::*;

fn batch(producer_id: i64, epoch: i16, base_sequence: i32, count: i32) -> ProducerBatch {
    ProducerBatch {
        producer_id,
        producer_epoch: epoch,
        base_sequence,
        record_count: count,
        transactional: false,
        max_timestamp: 1_000,
    }
}

fn txn_batch(producer_id: i64, epoch: i16, base_sequence: i32, count: i32) -> ProducerBatch {
    ProducerBatch {
        transactional: true,
        ..batch(producer_id, epoch, base_sequence, count)
    }
}

/// Checks and records like the partition does, with offsets from `next_offset`.
fn append(state: &mut ProducerStates, b: &ProducerBatch, next_offset: &mut i64) -> Admission {
    let admission = state.check(b).unwrap();
    if admission == Admission::Append {
        let last = *next_offset + i64::from(b.record_count) - 1;
        state.record_batch(b, *next_offset, last, b.max_timestamp);
        *next_offset = last + 1;
    }
    admission
}

fn marker(producer_id: i64, epoch: i16, outcome: TxnOutcome) -> TxnMarker {
    TxnMarker {
        producer_id,
        producer_epoch: epoch,
        outcome,
        coordinator_epoch: 0,
        timestamp: 2_000,
    }
}

#[test]
fn a_retry_of_any_of_the_last_five_batches_gets_its_original_offsets() {
    let mut state = ProducerStates::default();
    let mut next = 100;
    for i in 0..5 {
        assert_eq!(
            append(&mut state, &batch(7, 0, i * 3, 3), &mut next),
            Admission::Append
        );
    }
    assert_eq!(next, 115);
    match state.check(&batch(7, 0, 3, 3)) {
        Ok(Admission::Duplicate(original)) => {
            assert_eq!(original.first_offset, 103);
            assert_eq!(original.last_offset, 105);
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
    // A sixth batch pushes the first out of the cache: its retry is now out of order.
    append(&mut state, &batch(7, 0, 15, 3), &mut next);
    assert!(matches!(
        state.check(&batch(7, 0, 0, 3)),
        Err(ProduceRefusal::OutOfOrder { .. })
    ));
}

#[test]
fn a_retry_with_a_different_range_is_not_a_duplicate() {
    let mut state = ProducerStates::default();
    let mut next = 0;
    append(&mut state, &batch(1, 0, 0, 4), &mut next);
    assert!(matches!(
        state.check(&batch(1, 0, 0, 2)),
        Err(ProduceRefusal::OutOfOrder { .. })
    ));
}

#[test]
fn a_gap_in_sequences_is_out_of_order() {
    let mut state = ProducerStates::default();
    let mut next = 0;
    append(&mut state, &batch(1, 0, 0, 2), &mut next);
    assert_eq!(
        state.check(&batch(1, 0, 3, 1)),
        Err(ProduceRefusal::OutOfOrder {
            producer_id: 1,
            epoch: 0,
            sequence: 3,
            last_sequence: 1,
        })
    );
    assert_eq!(state.check(&batch(1, 0, 2, 1)), Ok(Admission::Append));
}

#[test]
fn an_unknown_producer_may_start_at_any_sequence() {
    // KIP-360: the producer's state may have expired while it was idle.
    let state = ProducerStates::default();
    assert_eq!(state.check(&batch(9, 3, 41, 1)), Ok(Admission::Append));
}

#[test]
fn sequences_wrap_after_i32_max() {
    let mut state = ProducerStates::default();
    let mut next = 0;
    append(&mut state, &batch(1, 0, i32::MAX - 1, 2), &mut next);
    assert_eq!(state.check(&batch(1, 0, 0, 1)), Ok(Admission::Append));
    // A batch that itself wraps ends at sequence 1.
    assert_eq!(batch(1, 0, i32::MAX, 3).last_sequence(), 1);
}

#[test]
fn an_older_epoch_is_fenced_and_a_newer_one_starts_over_at_zero() {
    let mut state = ProducerStates::default();
    let mut next = 0;
    append(&mut state, &batch(1, 2, 0, 5), &mut next);
    assert_eq!(
        state.check(&batch(1, 1, 5, 1)),
        Err(ProduceRefusal::StaleEpoch {
            producer_id: 1,
            epoch: 1,
            current: 2,
        })
    );
    assert!(matches!(
        state.check(&batch(1, 3, 5, 1)),
        Err(ProduceRefusal::OutOfOrder { .. })
    ));
    assert_eq!(
        append(&mut state, &batch(1, 3, 0, 1), &mut next),
        Admission::Append
    );
    // The old epoch's batches are forgotten.
    assert!(matches!(
        state.check(&batch(1, 2, 0, 5)),
        Err(ProduceRefusal::StaleEpoch { .. })
    ));
}

#[test]
fn transactions_hold_back_the_stable_offset_until_their_marker() {
    let mut state = ProducerStates::default();
    let mut next = 10;
    append(&mut state, &txn_batch(1, 0, 0, 2), &mut next);
    append(&mut state, &txn_batch(2, 0, 0, 2), &mut next);
    append(&mut state, &txn_batch(1, 0, 2, 2), &mut next);
    assert_eq!(state.first_unstable_offset(), Some(10));
    assert_eq!(state.current_txn_first_offset(1), Some(10));
    assert_eq!(
        state.record_marker(&marker(1, 0, TxnOutcome::Commit), 16),
        None
    );
    assert_eq!(state.first_unstable_offset(), Some(12));
    let aborted = state.record_marker(&marker(2, 0, TxnOutcome::Abort), 17);
    assert_eq!(
        aborted,
        Some(AbortedTxn {
            producer_id: 2,
            first_offset: 12,
            last_offset: 17,
        })
    );
    assert_eq!(state.first_unstable_offset(), None);
    assert_eq!(state.aborted_between(0, 12).len(), 0);
    assert_eq!(state.aborted_between(13, 14).len(), 1);
    assert_eq!(state.aborted_between(18, 30).len(), 0);
}

#[test]
fn a_plain_batch_during_an_open_transaction_is_refused() {
    let mut state = ProducerStates::default();
    let mut next = 0;
    append(&mut state, &txn_batch(1, 0, 0, 1), &mut next);
    assert_eq!(
        state.check(&batch(1, 0, 1, 1)),
        Err(ProduceRefusal::NotTransactional {
            producer_id: 1,
            txn_first_offset: 0,
        })
    );
}

#[test]
fn a_marker_with_a_bumped_epoch_restarts_sequences() {
    let mut state = ProducerStates::default();
    let mut next = 0;
    append(&mut state, &txn_batch(1, 0, 0, 3), &mut next);
    state.record_marker(&marker(1, 1, TxnOutcome::Abort), next);
    assert_eq!(state.epoch(1), Some(1));
    assert!(matches!(
        state.check(&txn_batch(1, 1, 3, 1)),
        Err(ProduceRefusal::OutOfOrder { .. })
    ));
    assert_eq!(state.check(&txn_batch(1, 1, 0, 1)), Ok(Admission::Append));
}

#[test]
fn idle_producers_expire_but_not_with_an_open_transaction() {
    let mut state = ProducerStates::default();
    let mut next = 0;
    append(&mut state, &batch(1, 0, 0, 1), &mut next); // timestamp 1_000
    append(&mut state, &txn_batch(2, 0, 0, 1), &mut next);
    assert_eq!(state.expire(1_000 + 99, 100), 0);
    assert_eq!(state.expire(1_000 + 100, 100), 1);
    assert_eq!(state.epoch(1), None);
    assert_eq!(state.epoch(2), Some(0));
    // After expiry the producer is unknown: any sequence is accepted.
    assert_eq!(state.check(&batch(1, 0, 57, 1)), Ok(Admission::Append));
}

#[test]
fn aborted_spans_before_the_log_start_are_dropped() {
    let mut state = ProducerStates::default();
    let mut next = 0;
    append(&mut state, &txn_batch(1, 0, 0, 1), &mut next);
    state.record_marker(&marker(1, 0, TxnOutcome::Abort), 1);
    state.truncate_head(1);
    assert_eq!(state.aborted().len(), 1);
    state.truncate_head(2);
    assert!(state.aborted().is_empty());
}

mod durable {
    //! Snapshots and the rebuild from the log.

    use bytes::BytesMut;
    use fjord_protocol::records::validate::{validate_batches, ValidationLimits};
    use fjord_protocol::records::RecordBatchBuilder;
    use fjord_storage::{AppendOptions, Log, LogConfig};

    use super::super::snapshot;
    use super::*;
    use crate::partition::Partition;

    fn options() -> AppendOptions {
        AppendOptions {
            leader_epoch: 0,
            log_append_time: None,
            now_ms: crate::clock::now_ms(),
        }
    }

    fn recent_marker(producer_id: i64, epoch: i16, outcome: TxnOutcome) -> TxnMarker {
        TxnMarker {
            timestamp: crate::clock::now_ms(),
            ..marker(producer_id, epoch, outcome)
        }
    }

    fn client_batch(producer: Option<(i64, i16, i32)>, records: usize, txn: bool) -> BytesMut {
        let mut builder = RecordBatchBuilder::new().transactional(txn);
        if let Some((id, epoch, seq)) = producer {
            builder = builder.producer(id, epoch, seq);
        }
        for i in 0..records {
            // Recent timestamps, as a client would stamp them.
            let now = crate::clock::now_ms();
            builder.push(
                now,
                None,
                Some(format!("v{i}").into_bytes().into()),
                Vec::new(),
            );
        }
        BytesMut::from(&builder.build().unwrap()[..])
    }

    fn produce(
        partition: &Partition,
        producer: Option<(i64, i16, i32)>,
        records: usize,
        txn: bool,
    ) -> Result<crate::partition::Produced, crate::partition::ProduceAppendError> {
        let bytes = client_batch(producer, records, txn);
        let summary = validate_batches(&bytes, &ValidationLimits::default())
            .unwrap()
            .batches
            .remove(0);
        partition.append_produced(&bytes, &summary, &options())
    }

    #[test]
    fn the_partition_answers_a_retry_without_writing_it_again() {
        let dir = tempfile::tempdir().unwrap();
        let partition = Partition::open(0, dir.path(), LogConfig::default()).unwrap();
        produce(&partition, None, 2, false).unwrap();
        let first = produce(&partition, Some((5, 0, 0)), 3, false).unwrap();
        assert_eq!((first.base_offset, first.duplicate), (2, false));
        let retry = produce(&partition, Some((5, 0, 0)), 3, false).unwrap();
        assert_eq!((retry.base_offset, retry.duplicate), (2, true));
        assert_eq!(partition.log.log_end_offset(), 5);
        assert!(matches!(
            produce(&partition, Some((5, 0, 7)), 1, false),
            Err(crate::partition::ProduceAppendError::Refused(
                ProduceRefusal::OutOfOrder { .. }
            ))
        ));
    }

    #[test]
    fn an_open_transaction_holds_the_last_stable_offset_until_its_marker() {
        let dir = tempfile::tempdir().unwrap();
        let partition = Partition::open(0, dir.path(), LogConfig::default()).unwrap();
        produce(&partition, None, 2, false).unwrap();
        produce(&partition, Some((5, 0, 0)), 3, true).unwrap();
        produce(&partition, None, 1, false).unwrap();
        assert_eq!(partition.high_watermark(), 6);
        assert_eq!(partition.last_stable_offset(), 2);
        let at = partition
            .append_marker(&marker(5, 0, TxnOutcome::Abort), 2_000)
            .unwrap();
        assert_eq!(at, 6);
        assert_eq!(partition.last_stable_offset(), 7);
        assert_eq!(
            partition.aborted_transactions(0, 7),
            vec![AbortedTxn {
                producer_id: 5,
                first_offset: 2,
                last_offset: 6,
            }]
        );
    }

    #[test]
    fn state_is_rebuilt_from_the_log_after_a_restart_without_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        {
            let partition = Partition::open(0, dir.path(), LogConfig::default()).unwrap();
            produce(&partition, Some((5, 0, 0)), 3, false).unwrap();
            produce(&partition, Some((5, 0, 3)), 2, false).unwrap();
            produce(&partition, Some((6, 1, 0)), 1, true).unwrap();
            partition.log.flush().unwrap();
            // Dropped without `Partition::flush`: no snapshot at the end, like a crash.
        }
        for offset in snapshot::list(dir.path()).unwrap() {
            snapshot::remove(dir.path(), offset).unwrap();
        }
        let partition = Partition::open(0, dir.path(), LogConfig::default()).unwrap();
        let retry = produce(&partition, Some((5, 0, 3)), 2, false).unwrap();
        assert_eq!((retry.base_offset, retry.duplicate), (3, true));
        assert_eq!(partition.last_stable_offset(), 5);
        // The rebuild wrote a snapshot at the log end.
        assert_eq!(snapshot::list(dir.path()).unwrap(), vec![6]);
    }

    #[test]
    fn a_snapshot_plus_the_tail_of_the_log_gives_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let expected = {
            let partition = Partition::open(0, dir.path(), LogConfig::default()).unwrap();
            produce(&partition, Some((5, 0, 0)), 3, true).unwrap();
            partition.flush().unwrap(); // snapshot at 3
            partition
                .append_marker(&recent_marker(5, 0, TxnOutcome::Abort), 2_000)
                .unwrap();
            produce(&partition, Some((8, 0, 0)), 1, false).unwrap();
            partition.log.flush().unwrap();
            let mut p = partition.producers();
            p.sort_by_key(|(id, _)| *id);
            p
        };
        assert_eq!(snapshot::list(dir.path()).unwrap(), vec![3]);
        let partition = Partition::open(0, dir.path(), LogConfig::default()).unwrap();
        let mut got = partition.producers();
        got.sort_by_key(|(id, _)| *id);
        assert_eq!(got, expected);
        assert_eq!(partition.aborted_transactions(0, 10).len(), 1);
    }

    #[test]
    fn snapshots_past_the_log_end_are_discarded() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = Log::open(dir.path(), LogConfig::default()).unwrap();
            let mut state = ProducerStates::default();
            state.record_batch(&batch(1, 0, 0, 1), 40, 40, 1_000);
            snapshot::write(dir.path(), 41, &state).unwrap();
            drop(log);
        }
        let partition = Partition::open(0, dir.path(), LogConfig::default()).unwrap();
        assert!(partition.producers().is_empty());
        assert!(snapshot::list(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn a_damaged_snapshot_is_ignored_and_the_log_replayed() {
        let dir = tempfile::tempdir().unwrap();
        {
            let partition = Partition::open(0, dir.path(), LogConfig::default()).unwrap();
            produce(&partition, Some((5, 0, 0)), 2, false).unwrap();
            partition.flush().unwrap();
        }
        let path = snapshot::path_for(dir.path(), 2);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let partition = Partition::open(0, dir.path(), LogConfig::default()).unwrap();
        let retry = produce(&partition, Some((5, 0, 0)), 2, false).unwrap();
        assert!(retry.duplicate);
    }

    #[test]
    fn snapshot_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = ProducerStates::default();
        let mut next = 0;
        append(&mut state, &batch(1, 0, 0, 2), &mut next);
        append(&mut state, &txn_batch(2, 4, 0, 2), &mut next);
        append(&mut state, &txn_batch(3, 0, 0, 1), &mut next);
        state.record_marker(&marker(3, 0, TxnOutcome::Abort), next);
        snapshot::write(dir.path(), 9, &state).unwrap();
        assert_eq!(snapshot::read(dir.path(), 9).unwrap(), state);
    }
}
