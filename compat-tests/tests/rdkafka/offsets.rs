//! Reading from chosen positions: mid-batch offsets, replay, timestamps and
//! watermarks.

use std::time::{SystemTime, UNIX_EPOCH};

use fjord_compat_tests::Broker;
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};

use crate::support::{
    consume, consumer, create_topic, ctx, numbered, produce_ok, producer, watermarks, Got, Rec,
    CALL_TIMEOUT,
};

/// Produces ten records in one batch (one flush, long linger) with `codec`,
/// then reads from offset 4: only offsets 4..=9 may be delivered.
fn fetch_from_middle_of_batch(codec: &str) {
    let scenario = format!("fetch from offset 4 inside a 10-record {codec} batch delivers 4..=9");
    let broker = Broker::start();
    create_topic(&broker, "mid", 1, &[]);
    let values = numbered("mid", 10);
    let records: Vec<Rec> = values.iter().map(|v| Rec::value(v.clone())).collect();
    let producer = producer(
        &broker,
        &[("linger.ms", "200"), ("compression.codec", codec)],
    );
    produce_ok(&producer, "mid", &records, &scenario);

    let got = consume(
        &consumer(&broker, &[]),
        &[("mid", 0, Offset::Offset(4))],
        6,
        &scenario,
    );
    let offsets: Vec<i64> = got.iter().map(|g| g.offset).collect();
    assert_eq!(offsets, (4..10).collect::<Vec<i64>>(), "{}", ctx(&scenario));
    let got_values: Vec<Vec<u8>> = got.into_iter().map(Got::value_bytes).collect();
    assert_eq!(got_values, values[4..].to_vec(), "{}", ctx(&scenario));
}

#[test]
fn fetch_from_middle_of_uncompressed_batch() {
    fetch_from_middle_of_batch("none");
}

#[test]
fn fetch_from_middle_of_compressed_batch() {
    fetch_from_middle_of_batch("lz4");
}

#[test]
fn replay_from_offset_beginning_and_tail() {
    let scenario = "replay the same partition from offset 7, from the beginning, and from the tail";
    let broker = Broker::start();
    create_topic(&broker, "replay", 1, &[]);
    let values = numbered("replay", 10);
    let producer = producer(&broker, &[]);
    // One record per request: ten separate batches.
    for v in &values {
        produce_ok(&producer, "replay", &[Rec::value(v.clone())], scenario);
    }
    let from_7 = consume(
        &consumer(&broker, &[]),
        &[("replay", 0, Offset::Offset(7))],
        3,
        scenario,
    );
    assert_eq!(
        from_7.iter().map(|g| g.offset).collect::<Vec<_>>(),
        vec![7, 8, 9],
        "{}: from 7",
        ctx(scenario)
    );

    let all = consume(
        &consumer(&broker, &[]),
        &[("replay", 0, Offset::Beginning)],
        10,
        scenario,
    );
    let all_values: Vec<Vec<u8>> = all.into_iter().map(Got::value_bytes).collect();
    assert_eq!(all_values, values, "{}: from the beginning", ctx(scenario));

    let tail = consume(
        &consumer(&broker, &[]),
        &[("replay", 0, Offset::OffsetTail(2))],
        2,
        scenario,
    );
    assert_eq!(
        tail.iter().map(|g| g.offset).collect::<Vec<_>>(),
        vec![8, 9],
        "{}: last two",
        ctx(scenario)
    );
}

#[test]
fn offsets_for_times_finds_the_first_record_at_or_after_a_timestamp() {
    let scenario = "offsets_for_times maps a timestamp to the first offset with CreateTime >= it";
    let broker = Broker::start();
    create_topic(&broker, "times", 1, &[]);
    let now_ms = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    // An hour ago, in whole seconds, one record per second of CreateTime.
    let base = (now_ms - 3_600_000) / 1000 * 1000;
    let records: Vec<Rec> = (0..10)
        .map(|i| Rec {
            value: Some(format!("t{i}").into_bytes()),
            timestamp: Some(base + i * 1000),
            ..Rec::default()
        })
        .collect();
    produce_ok(
        &producer(&broker, &[("linger.ms", "20")]),
        "times",
        &records,
        scenario,
    );

    let consumer = consumer(&broker, &[]);
    let lookup = |ts: i64| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("times", 0, Offset::Offset(ts))
            .unwrap();
        let answer = consumer
            .offsets_for_times(tpl, CALL_TIMEOUT)
            .unwrap_or_else(|e| panic!("{}: offsets_for_times({ts}): {e}", ctx(scenario)));
        answer.find_partition("times", 0).unwrap().offset()
    };
    assert_eq!(
        lookup(base),
        Offset::Offset(0),
        "{}: exact first timestamp",
        ctx(scenario)
    );
    assert_eq!(
        lookup(base + 2500),
        Offset::Offset(3),
        "{}: between records 2 and 3",
        ctx(scenario)
    );
    assert_eq!(
        lookup(base + 9000),
        Offset::Offset(9),
        "{}: the last record",
        ctx(scenario)
    );
    assert_eq!(
        lookup(base + 60_000),
        Offset::End,
        "{}: after every record",
        ctx(scenario)
    );

    let got = consume(&consumer, &[("times", 0, lookup(base + 2500))], 7, scenario);
    assert_eq!(got[0].offset, 3, "{}", ctx(scenario));
    let stamps: Vec<Option<i64>> = got.iter().map(|g| g.timestamp).collect();
    let expected: Vec<Option<i64>> = (3..10).map(|i| Some(base + i * 1000)).collect();
    assert_eq!(stamps, expected, "{}: CreateTime kept", ctx(scenario));
}

#[test]
fn watermarks_track_appends_per_partition() {
    let scenario = "fetch_watermarks is (0,0) when empty and (0,n) after n appends, per partition";
    let broker = Broker::start();
    create_topic(&broker, "marks", 2, &[]);
    assert_eq!(
        watermarks(&broker, "marks", 0),
        (0, 0),
        "{}: empty",
        ctx(scenario)
    );
    let records: Vec<Rec> = numbered("m", 7)
        .into_iter()
        .map(|v| Rec {
            value: Some(v),
            partition: Some(0),
            ..Rec::default()
        })
        .collect();
    produce_ok(&producer(&broker, &[]), "marks", &records, scenario);
    assert_eq!(
        watermarks(&broker, "marks", 0),
        (0, 7),
        "{}: after 7",
        ctx(scenario)
    );
    assert_eq!(
        watermarks(&broker, "marks", 1),
        (0, 0),
        "{}: other partition untouched",
        ctx(scenario)
    );
}
