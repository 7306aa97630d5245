//! `produce` and `consume`: round trips, exact starts at batch boundaries, timestamps.

use fjord_compat_tests::Broker;
use serde_json::Value;

use crate::common::{
    consume_json, create_topic, first_at_or_after, now_ms, numbered, offsets, ok, produce,
    produce_spread_in_time, rfc3339, run, run_with_stdin,
};

fn values(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["value"].as_str().expect("a string value").to_owned())
        .collect()
}

#[test]
fn keys_values_and_headers_round_trip() {
    let broker = Broker::start();
    create_topic(&broker, "rt", 1);
    let lines = vec![
        "k1\tone".to_owned(),
        "k2\ttwo".to_owned(),
        "three".to_owned(),
    ];
    let report = produce(
        &broker,
        "rt",
        &lines,
        &["-K", r"\t", "-H", "source=test", "-H", "n=1"],
    );
    assert!(report.contains("wrote 3 records"), "{report}");
    assert!(report.contains("partition 0 offsets 0-2"), "{report}");

    let records = consume_json(&broker, "rt", &["--from-beginning", "-e"]);
    assert_eq!(offsets(&records), vec![0, 1, 2]);
    assert_eq!(values(&records), vec!["one", "two", "three"]);
    assert_eq!(records[0]["key"], "k1");
    assert_eq!(records[2]["key"], Value::Null);
    let headers = records[1]["headers"].as_array().expect("headers");
    assert_eq!(headers.len(), 2);
    assert_eq!(headers[0]["key"], "source");
    assert_eq!(headers[0]["value"], "test");

    // A template sees the same record.
    let text = ok(&run(
        &broker,
        &[
            "consume",
            "rt",
            "--from-beginning",
            "-e",
            "-f",
            "{offset}:{key}={value}",
        ],
    ));
    assert_eq!(text, "0:k1=one\n1:k2=two\n2:=three\n");
}

/// Produces 30 records to partition 0 as three batches of ten, with `extra` args.
fn three_batches_of_ten(broker: &Broker, topic: &str, extra: &[&str]) {
    let mut args = vec!["-p", "0", "--batch-records", "10"];
    args.extend_from_slice(extra);
    produce(broker, topic, &numbered("v", 30), &args);
}

#[test]
fn consume_from_an_offset_inside_a_batch_starts_exactly_there() {
    let broker = Broker::start();
    create_topic(&broker, "exact", 1);
    three_batches_of_ten(&broker, "exact", &[]);
    let records = consume_json(&broker, "exact", &["--from-offset", "15", "-e"]);
    assert_eq!(offsets(&records), (15..30).collect::<Vec<_>>());
    assert_eq!(values(&records)[0], "v15");
    // At a batch's first and last offsets too.
    let at_boundary = consume_json(&broker, "exact", &["--from-offset", "20", "-n", "1"]);
    assert_eq!(offsets(&at_boundary), vec![20]);
    let last_of_batch = consume_json(&broker, "exact", &["--from-offset", "9", "-n", "2"]);
    assert_eq!(offsets(&last_of_batch), vec![9, 10]);
}

#[test]
fn consume_from_an_offset_inside_a_compressed_batch_starts_exactly_there() {
    let broker = Broker::start();
    create_topic(&broker, "zexact", 1);
    three_batches_of_ten(&broker, "zexact", &["--compression", "zstd"]);
    let records = consume_json(&broker, "zexact", &["--from-offset", "15", "-e"]);
    assert_eq!(offsets(&records), (15..30).collect::<Vec<_>>());
    assert_eq!(values(&records)[0], "v15");
}

#[test]
fn every_compression_codec_round_trips() {
    let broker = Broker::start();
    create_topic(&broker, "codecs", 1);
    let codecs = ["none", "gzip", "snappy", "lz4", "zstd"];
    for codec in codecs {
        produce(&broker, "codecs", &[format!("via-{codec}")], &["-z", codec]);
    }
    let records = consume_json(&broker, "codecs", &["--from-beginning", "-e"]);
    let expected: Vec<String> = codecs.iter().map(|c| format!("via-{c}")).collect();
    assert_eq!(values(&records), expected);
}

#[test]
fn negative_from_offset_counts_back_from_the_end() {
    let broker = Broker::start();
    create_topic(&broker, "tail", 1);
    produce(&broker, "tail", &numbered("v", 10), &[]);
    let records = consume_json(&broker, "tail", &["--from-offset", "-3", "-e"]);
    assert_eq!(offsets(&records), vec![7, 8, 9]);
}

#[test]
fn consume_from_a_timestamp_starts_at_the_first_record_at_or_after_it() {
    let broker = Broker::start();
    create_topic(&broker, "timed", 1);
    produce(&broker, "timed", &numbered("early", 10), &[]);
    let early = consume_json(&broker, "timed", &["--from-beginning", "-e"]);
    let last_early = early
        .iter()
        .map(|r| r["timestamp"].as_i64().expect("timestamp"))
        .max()
        .expect("records");
    // The next records must carry a later millisecond; the clock only has to tick once.
    while now_ms() <= last_early {
        std::hint::spin_loop();
    }
    produce(&broker, "timed", &numbered("late", 10), &[]);
    let cut = (last_early + 1).to_string();
    let records = consume_json(&broker, "timed", &["--from-timestamp", &cut, "-e"]);
    assert_eq!(offsets(&records), (10..20).collect::<Vec<_>>());
    assert_eq!(values(&records)[0], "late0");

    // Before every record: from the start. After every record: nothing.
    let all = consume_json(&broker, "timed", &["--from-timestamp", "0", "-e"]);
    assert_eq!(all.len(), 20);
    let future = (now_ms() + 3_600_000).to_string();
    let none = consume_json(&broker, "timed", &["--from-timestamp", &future, "-e"]);
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn consume_from_an_rfc3339_time_starts_at_the_exact_record_inside_a_batch() {
    let broker = Broker::start();
    for (topic, codec) in [("stamped", "none"), ("zstamped", "zstd")] {
        create_topic(&broker, topic, 1);
        produce_spread_in_time(&broker, topic, "r", 12, &["-p", "0", "-z", codec]);
        let all = consume_json(&broker, topic, &["--from-beginning", "-e"]);
        assert_eq!(offsets(&all), (0..12).collect::<Vec<_>>());
        let stamps: Vec<i64> = all
            .iter()
            .map(|r| r["timestamp"].as_i64().expect("timestamp"))
            .collect();
        // A record in the middle of the (single) batch that opens a new millisecond: starting at
        // its time must skip exactly the records before it.
        let k = (4..12)
            .find(|&k| stamps[k] > stamps[k - 1])
            .unwrap_or_else(|| panic!("no record after the fourth starts a new ms: {stamps:?}"));
        let cut = stamps[k];
        let expected: Vec<i64> = (i64::try_from(k).expect("small")..12).collect();
        // The same instant in UTC, in a zone east of it, and in epoch milliseconds.
        for form in [rfc3339(cut, 0), rfc3339(cut, 5 * 60 + 30), cut.to_string()] {
            let records = consume_json(&broker, topic, &["--from-timestamp", &form, "-e"]);
            assert_eq!(offsets(&records), expected, "{topic} from {form}");
            assert_eq!(records[0]["value"], format!("r{k}"), "{topic} from {form}");
        }
        // One millisecond earlier starts at the first record of that millisecond, wherever it is.
        let earlier = rfc3339(cut - 1, -8 * 60);
        let records = consume_json(&broker, topic, &["--from-timestamp", &earlier, "-e"]);
        let first = first_at_or_after(&all, cut - 1)[&0];
        assert_eq!(
            offsets(&records),
            (first..12).collect::<Vec<_>>(),
            "{earlier}"
        );
    }
}

#[test]
fn keyed_records_land_on_the_murmur2_partition() {
    let broker = Broker::start();
    create_topic(&broker, "keyed", 5);
    let keys = numbered("key-", 40);
    let lines: Vec<String> = keys.iter().map(|k| format!("{k}:{k}")).collect();
    produce(&broker, "keyed", &lines, &["-K", ":"]);
    let records = consume_json(&broker, "keyed", &["--from-beginning", "-e"]);
    assert_eq!(records.len(), 40);
    for r in &records {
        let key = r["key"].as_str().expect("key");
        let expected = fjord_tools::client::partitioner::partition_for_key(key.as_bytes(), 5);
        assert_eq!(r["partition"], expected, "key {key}");
    }
}

#[test]
fn keyless_records_are_spread_round_robin() {
    let broker = Broker::start();
    create_topic(&broker, "spread", 3);
    produce(&broker, "spread", &numbered("v", 9), &[]);
    let records = consume_json(&broker, "spread", &["--from-beginning", "-e"]);
    for p in 0..3 {
        let n = records.iter().filter(|r| r["partition"] == p).count();
        assert_eq!(n, 3, "partition {p}");
    }
}

#[test]
fn count_stops_after_that_many_records() {
    let broker = Broker::start();
    create_topic(&broker, "counted", 1);
    produce(&broker, "counted", &numbered("v", 10), &[]);
    // No --exit: only the count ends the command.
    let records = consume_json(&broker, "counted", &["--from-beginning", "-n", "4"]);
    assert_eq!(offsets(&records), vec![0, 1, 2, 3]);
}

#[test]
fn binary_and_empty_lines_are_kept_exactly() {
    let broker = Broker::start();
    create_topic(&broker, "raw", 1);
    let input = b"\xff\x00bin\n\nlast\n";
    ok(&run_with_stdin(&broker, &["produce", "raw"], input));
    let records = consume_json(&broker, "raw", &["--from-beginning", "-e"]);
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["value"]["base64"], "/wBiaW4=");
    assert_eq!(records[1]["value"], "");
    assert_eq!(records[2]["value"], "last");
    // The default format writes the raw bytes back.
    let output = run(&broker, &["consume", "raw", "--from-beginning", "-e"]);
    ok(&output);
    assert_eq!(output.stdout, input);
}

#[test]
fn acks_zero_and_one_also_write() {
    let broker = Broker::start();
    create_topic(&broker, "acks", 1);
    let zero = produce(&broker, "acks", &numbered("a", 3), &["--acks", "0"]);
    assert!(zero.contains("wrote 3 records"), "{zero}");
    produce(&broker, "acks", &numbered("b", 3), &["--acks", "1"]);
    // acks=0 gets no answer: wait until the broker has appended the records.
    let records = fjord_compat_tests::retry_until(
        "six records readable",
        std::time::Duration::from_secs(10),
        || {
            let records = consume_json(&broker, "acks", &["--from-beginning", "-e"]);
            if records.len() == 6 {
                Ok(records)
            } else {
                Err(format!("{} records", records.len()))
            }
        },
    );
    // Two processes, two connections: the broker may append them in either order.
    let mut got = values(&records);
    got.sort();
    assert_eq!(got, ["a0", "a1", "a2", "b0", "b1", "b2"]);
}
