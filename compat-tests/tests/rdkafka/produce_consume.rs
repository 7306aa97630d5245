//! Producing and consuming: keys, headers, ordering, nulls, compression,
//! size limits and auto-creation.

use std::collections::BTreeMap;

use fjord_compat_tests::Broker;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::Offset;

use crate::support::{
    await_topic, consume, consumer, create_topic, ctx, numbered, produce, produce_ok, producer,
    watermarks, Got, Rec,
};

/// Where one record of a key was found: (partition, offset, seq header).
type Seen = (i32, i64, Vec<u8>);

#[test]
fn keys_and_headers_round_trip_with_per_key_order() {
    let scenario = "keyed records with headers keep their bytes, and each key its order";
    let broker = Broker::start();
    create_topic(&broker, "keyed", 3, &[]);
    let keys = ["alpha", "beta", "gamma", "delta"];
    let mut records = Vec::new();
    for seq in 0..25 {
        for key in keys {
            records.push(Rec {
                key: Some(key.as_bytes().to_vec()),
                value: Some(format!("{key}:{seq}").into_bytes()),
                headers: vec![
                    ("seq".to_string(), Some(seq.to_string().into_bytes())),
                    ("empty".to_string(), Some(Vec::new())),
                    ("null".to_string(), None),
                ],
                ..Rec::default()
            });
        }
    }
    produce_ok(
        &producer(&broker, &[("linger.ms", "20")]),
        "keyed",
        &records,
        scenario,
    );

    let assignment: Vec<_> = (0..3).map(|p| ("keyed", p, Offset::Beginning)).collect();
    let got = consume(
        &consumer(&broker, &[]),
        &assignment,
        records.len(),
        scenario,
    );

    // key -> (partition, offset, seq) of each of its records
    let mut per_key: BTreeMap<Vec<u8>, Vec<Seen>> = BTreeMap::new();
    for g in &got {
        let seq = String::from_utf8(g.headers[0].1.clone().unwrap()).unwrap();
        let key = g.key.clone().unwrap();
        assert_eq!(
            g.value.as_deref(),
            Some(format!("{}:{seq}", String::from_utf8_lossy(&key)).as_bytes()),
            "{}: value matches key and seq header",
            ctx(scenario)
        );
        assert_eq!(
            g.headers,
            vec![
                ("seq".to_string(), Some(seq.clone().into_bytes())),
                ("empty".to_string(), Some(Vec::new())),
                ("null".to_string(), None),
            ],
            "{}: headers in order, empty and null values kept",
            ctx(scenario)
        );
        per_key
            .entry(key)
            .or_default()
            .push((g.partition, g.offset, seq.into_bytes()));
    }
    assert_eq!(per_key.len(), keys.len(), "{}", ctx(scenario));
    for (key, mut seen) in per_key {
        let partitions: std::collections::BTreeSet<i32> = seen.iter().map(|s| s.0).collect();
        assert_eq!(
            partitions.len(),
            1,
            "{}: key {key:?} spread over {partitions:?}",
            ctx(scenario)
        );
        seen.sort_by_key(|s| s.1);
        let seqs: Vec<String> = seen
            .iter()
            .map(|s| String::from_utf8(s.2.clone()).unwrap())
            .collect();
        let expected: Vec<String> = (0..25).map(|i: i32| i.to_string()).collect();
        assert_eq!(seqs, expected, "{}: order of key {key:?}", ctx(scenario));
    }
    // Offsets in each partition are dense from 0.
    for p in 0..3 {
        let mut offsets: Vec<i64> = got
            .iter()
            .filter(|g| g.partition == p)
            .map(|g| g.offset)
            .collect();
        offsets.sort_unstable();
        let expected: Vec<i64> = (0..offsets.len() as i64).collect();
        assert_eq!(
            offsets,
            expected,
            "{}: offsets of partition {p}",
            ctx(scenario)
        );
    }
}

#[test]
fn null_keys_and_null_values_round_trip() {
    let scenario = "a null key and a null value (tombstone) stay null, an empty value stays empty";
    let broker = Broker::start();
    create_topic(&broker, "nulls", 1, &[]);
    let records = vec![
        Rec {
            value: Some(b"no key".to_vec()),
            ..Rec::default()
        },
        Rec {
            key: Some(b"gone".to_vec()),
            ..Rec::default()
        },
        Rec {
            key: Some(b"empty".to_vec()),
            value: Some(Vec::new()),
            ..Rec::default()
        },
    ];
    produce_ok(&producer(&broker, &[]), "nulls", &records, scenario);
    let got = consume(
        &consumer(&broker, &[]),
        &[("nulls", 0, Offset::Beginning)],
        3,
        scenario,
    );
    let pairs: Vec<_> = got
        .iter()
        .map(|g| (g.key.clone(), g.value.clone()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            (None, Some(b"no key".to_vec())),
            (Some(b"gone".to_vec()), None),
            (Some(b"empty".to_vec()), Some(Vec::new())),
        ],
        "{}",
        ctx(scenario)
    );
}

/// Produces 300 compressible records with `codec` in few batches and reads
/// them back.
fn compression_round_trip(codec: &str) {
    let scenario = format!("compression.codec={codec}: 300 records round trip");
    let broker = Broker::start();
    let topic = format!("codec-{codec}");
    create_topic(&broker, &topic, 1, &[]);
    let values: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("record {i} {}", "fjord ".repeat(i % 40)).into_bytes())
        .collect();
    let records: Vec<Rec> = values
        .iter()
        .map(|v| Rec::kv(format!("k{}", v.len()), v.clone()))
        .collect();
    let producer = producer(
        &broker,
        &[("compression.codec", codec), ("linger.ms", "50")],
    );
    let delivered = produce_ok(&producer, &topic, &records, &scenario);
    let offsets: Vec<i64> = delivered.iter().map(|d| d.offset).collect();
    assert_eq!(
        offsets,
        (0..300).collect::<Vec<i64>>(),
        "{}: acknowledged offsets",
        ctx(&scenario)
    );

    let got = consume(
        &consumer(&broker, &[]),
        &[(topic.as_str(), 0, Offset::Beginning)],
        300,
        &scenario,
    );
    let got_values: Vec<Vec<u8>> = got.into_iter().map(Got::value_bytes).collect();
    assert_eq!(got_values, values, "{}", ctx(&scenario));
}

#[test]
fn compression_none_round_trip() {
    compression_round_trip("none");
}

#[test]
fn compression_gzip_round_trip() {
    compression_round_trip("gzip");
}

#[test]
fn compression_snappy_round_trip() {
    compression_round_trip("snappy");
}

#[test]
fn compression_lz4_round_trip() {
    compression_round_trip("lz4");
}

#[test]
fn compression_zstd_round_trip() {
    compression_round_trip("zstd");
}

#[test]
fn many_records_arrive_over_many_small_fetches() {
    let scenario =
        "500 records read with max.partition.fetch.bytes=2048 arrive complete and in order";
    let broker = Broker::start();
    create_topic(&broker, "small-fetch", 1, &[]);
    let values = numbered(&"x".repeat(100), 500);
    let records: Vec<Rec> = values.iter().map(|v| Rec::value(v.clone())).collect();
    produce_ok(
        &producer(&broker, &[("linger.ms", "5"), ("batch.size", "4096")]),
        "small-fetch",
        &records,
        scenario,
    );
    let consumer = consumer(
        &broker,
        &[
            ("max.partition.fetch.bytes", "2048"),
            ("fetch.max.bytes", "4096"),
            // librdkafka requires fetch.max.bytes >= message.max.bytes.
            ("message.max.bytes", "4096"),
        ],
    );
    let got = consume(
        &consumer,
        &[("small-fetch", 0, Offset::Beginning)],
        500,
        scenario,
    );
    let got_values: Vec<Vec<u8>> = got.into_iter().map(Got::value_bytes).collect();
    assert_eq!(got_values, values, "{}", ctx(scenario));
}

#[test]
fn max_message_bytes_rejects_a_large_record() {
    let scenario = "topic max.message.bytes=1024: a 4000-byte record fails with MSG_SIZE_TOO_LARGE";
    let broker = Broker::start();
    create_topic(&broker, "small-msgs", 1, &[("max.message.bytes", "1024")]);
    // Bytes that do not compress, so the batch really is over the limit.
    let big: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let producer = producer(&broker, &[("compression.codec", "none")]);
    let results = produce(&producer, "small-msgs", &[Rec::value(big)]);
    match &results[0] {
        Err(KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge)) => {}
        other => panic!("{}: got {other:?}", ctx(scenario)),
    }
    let ok = produce_ok(
        &producer,
        "small-msgs",
        &[Rec::value(b"small".to_vec())],
        scenario,
    );
    assert_eq!(
        ok[0].offset,
        0,
        "{}: the rejected record took no offset",
        ctx(scenario)
    );
    assert_eq!(
        watermarks(&broker, "small-msgs", 0),
        (0, 1),
        "{}",
        ctx(scenario)
    );
}

#[test]
fn produce_auto_creates_a_topic() {
    let scenario = "producing to an unknown topic creates it with 1 partition (auto-create on)";
    let broker = Broker::start();
    let delivered = produce_ok(
        &producer(&broker, &[]),
        "auto-produce",
        &[Rec::kv("k", "v")],
        scenario,
    );
    assert_eq!(
        (delivered[0].partition, delivered[0].offset),
        (0, 0),
        "{}",
        ctx(scenario)
    );
    await_topic(&broker, "auto-produce", 1);
}

#[test]
fn auto_created_topic_uses_default_partitions() {
    let scenario = "with --default-partitions 3, an auto-created topic has 3 partitions";
    let broker = Broker::start_with(&["--default-partitions", "3"]);
    produce_ok(
        &producer(&broker, &[]),
        "auto-three",
        &[Rec::kv("k", "v")],
        scenario,
    );
    await_topic(&broker, "auto-three", 3);
}

#[test]
fn produce_to_unknown_topic_fails_with_auto_create_off() {
    let scenario = "with auto-create off, producing to an unknown topic fails and creates nothing";
    let broker = Broker::start_with(&["--auto-create-topics", "false"]);
    let producer = producer(&broker, &[("message.timeout.ms", "3000")]);
    let results = produce(&producer, "not-made", &[Rec::kv("k", "v")]);
    assert!(
        results[0].is_err(),
        "{}: got {:?}",
        ctx(scenario),
        results[0]
    );
    let md = rdkafka::consumer::Consumer::fetch_metadata(
        &consumer(&broker, &[]),
        None,
        crate::support::CALL_TIMEOUT,
    )
    .unwrap();
    assert!(
        md.topics().iter().all(|t| t.name() != "not-made"),
        "{}",
        ctx(scenario)
    );
}
