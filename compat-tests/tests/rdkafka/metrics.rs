//! The `/metrics` endpoint of a real broker after a known workload driven by librdkafka:
//! exact record and request counts, consumer lag, a rejected batch, and the slow-request log.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use fjord_compat_tests::{retry_until, Broker};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};

use crate::support::{
    consume, consumer, create_topic, ctx, numbered, produce, produce_ok, producer, Rec,
    CONSUME_TIMEOUT,
};

/// Starts a broker with the metrics endpoint on a free port.
fn broker_with_metrics(extra: &[&str]) -> (Broker, String) {
    let mut args = vec!["--metrics", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let broker = Broker::start_with(&args);
    // The broker logs the endpoint before it prints its ready line.
    let log = broker.stderr_log();
    let addr = log
        .split("metrics on http://")
        .nth(1)
        .and_then(|rest| rest.split("/metrics").next())
        .unwrap_or_else(|| panic!("no `metrics on` line in the broker's log:\n{log}"))
        .to_string();
    (broker, addr)
}

/// One HTTP GET; returns the status line and the body.
fn get(addr: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("send request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("read {path}: {e}"));
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {response:?}"));
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, body.to_string())
}

/// The `/metrics` text.
fn scrape(addr: &str) -> String {
    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    body
}

/// One sample: metric name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

/// Parses the samples of the Prometheus text format (label values here never hold escapes).
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let value: f64 = value.parse().ok()?;
            let (name, labels) = match series.split_once('{') {
                None => (series, Vec::new()),
                Some((name, rest)) => {
                    let labels = rest
                        .trim_end_matches('}')
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .filter_map(|pair| {
                            let (k, v) = pair.split_once("=\"")?;
                            Some((k.to_string(), v.trim_end_matches('"').to_string()))
                        })
                        .collect();
                    (name, labels)
                }
            };
            Some((name.to_string(), labels, value))
        })
        .collect()
}

/// The sum of every sample of `name` whose labels include all of `labels` (so a counter split
/// by version can be summed over versions); `None` when no sample matches.
fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = samples(text)
        .into_iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, v)| v)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

/// Scrapes until `name{labels}` sums to `want`: counters bumped after a response is written
/// may trail the client by a moment.
fn await_value(addr: &str, name: &str, labels: &[(&str, &str)], want: f64) -> String {
    retry_until(
        &ctx(&format!("{name}{labels:?} reaches {want}")),
        CONSUME_TIMEOUT,
        || {
            let text = scrape(addr);
            match sum(&text, name, labels) {
                Some(v) if v == want => Ok(text),
                other => Err(format!("{other:?}")),
            }
        },
    )
}

fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sum(text, name, labels).unwrap_or_else(|| panic!("no sample {name}{labels:?} in:\n{text}"))
}

#[test]
fn health_answers_once_the_broker_is_ready() {
    let (_broker, addr) = broker_with_metrics(&[]);
    assert_eq!(
        get(&addr, "/health"),
        ("HTTP/1.1 200 OK".into(), "ok\n".into())
    );
    assert_eq!(get(&addr, "/nowhere").0, "HTTP/1.1 404 Not Found");
    let text = scrape(&addr);
    assert_eq!(value(&text, "fjord_build_info", &[]), 1.0, "{text}");
}

#[test]
fn records_in_and_out_and_produce_requests_are_counted_exactly() {
    let scenario = "100 records produced one per request, then all consumed once";
    let (broker, addr) = broker_with_metrics(&[]);
    create_topic(&broker, "metered", 1, &[]);
    let producer = producer(&broker, &[]);
    // Each record waits for its acknowledgement: one Produce request per record.
    for value in numbered("metered", 100) {
        produce_ok(&producer, "metered", &[Rec::value(value)], scenario);
    }
    let got = consume(
        &consumer(&broker, &[]),
        &[("metered", 0, Offset::Beginning)],
        100,
        scenario,
    );
    assert_eq!(got.len(), 100, "{}", ctx(scenario));

    let topic = [("topic", "metered")];
    let partition = [("topic", "metered"), ("partition", "0")];
    await_value(&addr, "fjord_requests_total", &[("api", "Produce")], 100.0);
    // Every Produce request is timed too.
    let text = await_value(
        &addr,
        "fjord_request_duration_seconds_count",
        &[("api", "Produce")],
        100.0,
    );
    assert_eq!(value(&text, "fjord_produce_records_total", &topic), 100.0);
    assert_eq!(value(&text, "fjord_fetch_records_total", &topic), 100.0);
    // The log holds exactly the batches producers sent, and the consumer read each once.
    let size = value(&text, "fjord_log_size_bytes", &partition);
    assert!(size > 0.0, "{text}");
    assert_eq!(value(&text, "fjord_produce_bytes_total", &topic), size);
    assert_eq!(value(&text, "fjord_fetch_bytes_total", &topic), size);
    assert_eq!(value(&text, "fjord_log_high_watermark", &partition), 100.0);
    assert_eq!(value(&text, "fjord_log_start_offset", &partition), 0.0);
    assert_eq!(value(&text, "fjord_log_segments", &partition), 1.0);
    assert!(
        value(&text, "fjord_connections_active", &[]) >= 1.0,
        "{text}"
    );
    assert_eq!(
        sum(&text, "fjord_request_errors_total", &[("api", "Produce")]),
        None,
        "{text}"
    );
}

#[test]
fn lag_of_a_group_that_committed_40_of_100_is_60() {
    let scenario = "group g40 consumes and commits 40 of 100 records";
    let (broker, addr) = broker_with_metrics(&[]);
    create_topic(&broker, "lagged", 1, &[]);
    let records: Vec<Rec> = numbered("lagged", 100)
        .into_iter()
        .map(Rec::value)
        .collect();
    produce_ok(&producer(&broker, &[]), "lagged", &records, scenario);

    let group = consumer(&broker, &[("group.id", "g40")]);
    let got = consume(&group, &[("lagged", 0, Offset::Beginning)], 40, scenario);
    assert_eq!(got[39].offset, 39, "{}", ctx(scenario));
    let mut position = TopicPartitionList::new();
    position
        .add_partition_offset("lagged", 0, Offset::Offset(40))
        .expect("partition offset");
    group
        .commit(&position, CommitMode::Sync)
        .unwrap_or_else(|e| panic!("{}: commit: {e}", ctx(scenario)));

    let text = scrape(&addr);
    let labels = [("group", "g40"), ("topic", "lagged"), ("partition", "0")];
    assert_eq!(
        value(&text, "fjord_consumer_group_lag", &labels),
        60.0,
        "{text}"
    );
    assert_eq!(
        value(&text, "fjord_consumer_group_committed_offset", &labels),
        40.0
    );
    // Committed with assign(), outside group management: an Empty group without members.
    assert_eq!(
        value(&text, "fjord_consumer_group_members", &[("group", "g40")]),
        0.0
    );
    assert_eq!(
        value(
            &text,
            "fjord_consumer_group_state",
            &[("group", "g40"), ("state", "Empty")]
        ),
        1.0
    );
}

#[test]
fn an_oversized_batch_is_rejected_and_counted() {
    let scenario = "a 4000-byte record to a topic with max.message.bytes=1024";
    let (broker, addr) = broker_with_metrics(&[]);
    create_topic(&broker, "small", 1, &[("max.message.bytes", "1024")]);
    let results = produce(
        &producer(&broker, &[]),
        "small",
        &[Rec::value(vec![b'x'; 4000])],
    );
    match &results[..] {
        [Err(KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge))] => {}
        other => panic!(
            "{}: expected MSG_SIZE_TOO_LARGE, got {other:?}",
            ctx(scenario)
        ),
    }
    let text = scrape(&addr);
    assert_eq!(
        value(
            &text,
            "fjord_produce_rejected_batches_total",
            &[("reason", "size")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "fjord_request_errors_total",
            &[("api", "Produce"), ("error", "MESSAGE_TOO_LARGE")]
        ),
        1.0
    );
    assert_eq!(
        sum(&text, "fjord_produce_records_total", &[("topic", "small")]),
        None
    );
}

#[test]
fn requests_over_the_threshold_are_logged_as_slow() {
    // A threshold of 0 ms makes every request slow.
    let (broker, _addr) = broker_with_metrics(&["--slow-request-ms", "0"]);
    create_topic(&broker, "slowly", 1, &[]);
    // The line is written once the response is, so it may trail the client by a moment.
    retry_until(&ctx("a slow CreateTopics line"), CONSUME_TIMEOUT, || {
        let log = broker.stderr_log();
        let found = log.lines().any(|l| {
            l.contains("slow request") && l.contains("CreateTopics") && l.contains("WARN")
        });
        if found {
            Ok(())
        } else {
            Err(format!("not yet in:\n{log}"))
        }
    });
}
