use super::*;

fn key(topic: &str, partition: i32) -> PartitionKey {
    PartitionKey {
        topic: TopicRef::Name(topic.into()),
        partition,
    }
}

fn params(offset: i64) -> FetchParams {
    FetchParams {
        fetch_offset: offset,
        partition_max_bytes: 1024,
        current_leader_epoch: -1,
    }
}

fn request(
    id: i32,
    epoch: i32,
    parts: &[(&str, i32, i64)],
    forgotten: &[(&str, i32)],
) -> SessionRequest {
    SessionRequest {
        session_id: id,
        epoch,
        uses_topic_ids: false,
        partitions: parts
            .iter()
            .map(|(t, p, o)| (key(t, *p), params(*o)))
            .collect(),
        forgotten: forgotten.iter().map(|(t, p)| key(t, *p)).collect(),
    }
}

fn quiet(hw: i64) -> Observed {
    Observed {
        reported: Reported {
            high_watermark: hw,
            last_stable_offset: hw,
            log_start_offset: 0,
        },
        has_records: false,
        has_error: false,
    }
}

fn with_records(hw: i64) -> Observed {
    Observed {
        has_records: true,
        ..quiet(hw)
    }
}

/// Opens a session over `parts`, all reporting high watermark 5; returns its id.
fn open(cache: &FetchSessionCache, parts: &[(&str, i32, i64)], now: i64) -> i32 {
    let plan = cache.plan(request(0, 0, parts, &[]), now).unwrap();
    assert_eq!(plan.kind, FetchKind::Full);
    let observed = vec![quiet(5); plan.partitions.len()];
    let done = cache.complete(&plan, &observed, now);
    assert_eq!(done.include, vec![true; parts.len()]);
    done.session_id
}

fn planned_keys(plan: &FetchPlan) -> Vec<PartitionKey> {
    plan.partitions.iter().map(|(k, _)| k.clone()).collect()
}

#[test]
fn a_full_fetch_with_epoch_zero_opens_a_session() {
    let cache = FetchSessionCache::default();
    let id = open(&cache, &[("a", 0, 0), ("a", 1, 0)], 0);
    assert_ne!(id, NO_SESSION);
    assert_eq!(cache.len(), 1);
    // The next request must carry epoch 1.
    let plan = cache.plan(request(id, 1, &[], &[]), 1).unwrap();
    assert_eq!(plan.kind, FetchKind::Incremental { session_id: id });
    assert_eq!(planned_keys(&plan), vec![key("a", 0), key("a", 1)]);
}

#[test]
fn epoch_minus_one_is_sessionless_and_closes_the_session() {
    let cache = FetchSessionCache::default();
    let plan = cache.plan(request(0, -1, &[("a", 0, 0)], &[]), 0).unwrap();
    assert_eq!(plan.kind, FetchKind::Sessionless);
    assert_eq!(cache.complete(&plan, &[quiet(1)], 0).session_id, NO_SESSION);
    assert!(cache.is_empty());

    let id = open(&cache, &[("a", 0, 0)], 0);
    let plan = cache.plan(request(id, -1, &[("a", 0, 0)], &[]), 1).unwrap();
    assert_eq!(plan.kind, FetchKind::Sessionless);
    assert!(cache.is_empty());
    assert_eq!(
        cache.plan(request(id, 1, &[], &[]), 2).unwrap_err(),
        ErrorCode::FetchSessionIdNotFound
    );
}

#[test]
fn a_new_full_fetch_replaces_the_old_session() {
    let cache = FetchSessionCache::default();
    let old = open(&cache, &[("a", 0, 0)], 0);
    let new = open(&cache, &[("b", 0, 0)], 1);
    // Opening with the old id in the request drops the old session first.
    let plan = cache.plan(request(old, 0, &[("c", 0, 0)], &[]), 2).unwrap();
    assert_eq!(plan.kind, FetchKind::Full);
    assert_eq!(cache.len(), 1);
    assert!(cache.plan(request(new, 1, &[], &[]), 3).is_ok());
}

#[test]
fn epoch_mismatch_and_unknown_ids_are_errors() {
    let cache = FetchSessionCache::default();
    let id = open(&cache, &[("a", 0, 0)], 0);
    assert_eq!(
        cache.plan(request(id, 2, &[], &[]), 1).unwrap_err(),
        ErrorCode::InvalidFetchSessionEpoch
    );
    assert_eq!(
        cache
            .plan(request(id.wrapping_add(1).max(1), 1, &[], &[]), 1)
            .unwrap_err(),
        ErrorCode::FetchSessionIdNotFound
    );
    // A failed request does not advance the epoch.
    assert!(cache.plan(request(id, 1, &[], &[]), 1).is_ok());
    assert!(cache.plan(request(id, 2, &[], &[]), 1).is_ok());
    assert_eq!(
        cache.plan(request(id, 2, &[], &[]), 1).unwrap_err(),
        ErrorCode::InvalidFetchSessionEpoch
    );
}

#[test]
fn switching_between_names_and_ids_is_a_topic_id_error() {
    let cache = FetchSessionCache::default();
    let id = open(&cache, &[("a", 0, 0)], 0);
    let mut by_id = request(id, 1, &[], &[]);
    by_id.uses_topic_ids = true;
    assert_eq!(
        cache.plan(by_id, 1).unwrap_err(),
        ErrorCode::FetchSessionTopicIdError
    );
}

#[test]
fn incremental_fetches_add_update_and_forget_partitions() {
    let cache = FetchSessionCache::default();
    let id = open(&cache, &[("a", 0, 0), ("a", 1, 0)], 0);
    let plan = cache
        .plan(request(id, 1, &[("a", 1, 7), ("b", 0, 3)], &[("a", 0)]), 1)
        .unwrap();
    assert_eq!(
        plan.partitions,
        vec![(key("a", 1), params(7)), (key("b", 0), params(3))]
    );
    // Parameters persist: a request naming nothing reads the same way.
    let plan = cache.plan(request(id, 2, &[], &[]), 2).unwrap();
    assert_eq!(
        plan.partitions,
        vec![(key("a", 1), params(7)), (key("b", 0), params(3))]
    );
}

#[test]
fn incremental_responses_hold_only_partitions_with_news() {
    let cache = FetchSessionCache::default();
    let id = open(
        &cache,
        &[("a", 0, 0), ("a", 1, 0), ("a", 2, 0), ("a", 3, 0)],
        0,
    );
    let plan = cache.plan(request(id, 1, &[], &[]), 1).unwrap();
    let error = Observed {
        has_error: true,
        ..quiet(5)
    };
    let moved_start = Observed {
        reported: Reported {
            log_start_offset: 2,
            ..quiet(5).reported
        },
        ..quiet(5)
    };
    let done = cache.complete(&plan, &[quiet(5), with_records(5), error, moved_start], 1);
    assert_eq!(done.session_id, id);
    assert_eq!(done.include, vec![false, true, true, true]);

    // A changed high watermark is news once; then the partition is quiet again.
    let plan = cache.plan(request(id, 2, &[], &[]), 2).unwrap();
    let hws: Vec<_> = plan
        .partitions
        .iter()
        .map(|(k, _)| {
            if *k == key("a", 0) {
                quiet(9)
            } else {
                quiet(5)
            }
        })
        .collect();
    let done = cache.complete(&plan, &hws, 2);
    let included: Vec<_> = planned_keys(&plan)
        .into_iter()
        .zip(done.include)
        .filter(|(_, inc)| *inc)
        .map(|(k, _)| k)
        .collect();
    // a0: hw 5 -> 9; a3 went back from log start 2 to 0; a2 reported an error last time
    // with the same offsets, so it is quiet now.
    assert_eq!(included, vec![key("a", 0), key("a", 3)]);
}

#[test]
fn newly_added_partitions_are_always_in_the_next_response() {
    let cache = FetchSessionCache::default();
    let id = open(&cache, &[("a", 0, 0)], 0);
    let plan = cache.plan(request(id, 1, &[("b", 0, 0)], &[]), 1).unwrap();
    let done = cache.complete(&plan, &[quiet(5), quiet(5)], 1);
    assert_eq!(done.include, vec![false, true]);
}

#[test]
fn partitions_that_returned_records_move_to_the_back() {
    let cache = FetchSessionCache::default();
    let id = open(&cache, &[("a", 0, 0), ("a", 1, 0), ("a", 2, 0)], 0);
    let plan = cache.plan(request(id, 1, &[], &[]), 1).unwrap();
    cache.complete(&plan, &[with_records(5), quiet(5), quiet(5)], 1);
    let plan = cache.plan(request(id, 2, &[], &[]), 2).unwrap();
    assert_eq!(
        planned_keys(&plan),
        vec![key("a", 1), key("a", 2), key("a", 0)]
    );
}

#[test]
fn a_full_cache_evicts_a_stale_session_first() {
    let cache = FetchSessionCache::new(2, 100);
    let stale = open(&cache, &[("a", 0, 0), ("a", 1, 0)], 0);
    let fresh = open(&cache, &[("b", 0, 0), ("b", 1, 0)], 150);
    let newest = open(&cache, &[("c", 0, 0)], 150);
    assert_ne!(newest, NO_SESSION);
    assert_eq!(cache.len(), 2);
    assert_eq!(
        cache.plan(request(stale, 1, &[], &[]), 151).unwrap_err(),
        ErrorCode::FetchSessionIdNotFound
    );
    assert!(cache.plan(request(fresh, 1, &[], &[]), 151).is_ok());
}

#[test]
fn a_full_cache_evicts_a_smaller_session_for_a_larger_one_only() {
    let cache = FetchSessionCache::new(2, 1_000);
    let small = open(&cache, &[("a", 0, 0)], 0);
    let big = open(&cache, &[("b", 0, 0), ("b", 1, 0)], 0);
    // Not larger than the smallest session: no room, no session.
    assert_eq!(open(&cache, &[("c", 0, 0)], 10), NO_SESSION);
    assert_eq!(cache.len(), 2);
    // Larger than the smallest: it takes that slot.
    let bigger = open(&cache, &[("d", 0, 0), ("d", 1, 0), ("d", 2, 0)], 10);
    assert_ne!(bigger, NO_SESSION);
    assert_eq!(
        cache.plan(request(small, 1, &[], &[]), 11).unwrap_err(),
        ErrorCode::FetchSessionIdNotFound
    );
    assert!(cache.plan(request(big, 1, &[], &[]), 11).is_ok());
}

#[test]
fn epochs_wrap_to_one() {
    assert_eq!(next_epoch(0), 1);
    assert_eq!(next_epoch(41), 42);
    assert_eq!(next_epoch(i32::MAX), 1);
}
