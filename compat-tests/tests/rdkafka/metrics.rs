//! The `/metrics` endpoint of a real broker after a known workload driven by librdkafka or
//! raw frames: exact record and request counts, consumer lag, rejected batches by reason, the
//! queue phase of a pipelined request, request buffer bytes, fsync latency, and the JSON and
//! slow-request logs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use fjord_compat_tests::wire::{self, call, connect, framed, read_frame, request_bytes};
use fjord_compat_tests::{retry_until, Broker};
use fjord_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use fjord_protocol::messages::{ApiVersionsRequest, InitProducerIdRequest, ListOffsetsRequest};
use fjord_protocol::records::RecordBatchBuilder;
use fjord_protocol::{ApiKey, ErrorCode, ResponseBody};
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
    await_sample(addr, name, labels, &format!("= {want}"), |v| v == want)
}

/// Scrapes until `name{labels}` sums to a value that passes `ok` (described by `what`).
fn await_sample(
    addr: &str,
    name: &str,
    labels: &[(&str, &str)],
    what: &str,
    ok: impl Fn(f64) -> bool,
) -> String {
    retry_until(
        &ctx(&format!("{name}{labels:?} {what}")),
        CONSUME_TIMEOUT,
        || {
            let text = scrape(addr);
            match sum(&text, name, labels) {
                Some(v) if ok(v) => Ok(text),
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
    assert_eq!(
        value(&text, "fjord_panics_caught_total", &[]),
        0.0,
        "{text}"
    );
    // Once the clients are gone (the consumer's last long-poll Fetch ends within its wait),
    // no request bytes are held.
    drop(producer);
    await_value(&addr, "fjord_request_buffer_bytes", &[], 0.0);
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
            l.contains("slow request") && l.contains("api=\"CreateTopics\"") && l.contains("WARN")
        });
        if found {
            Ok(())
        } else {
            Err(format!("not yet in:\n{log}"))
        }
    });
    // Written to a file, not a terminal: plain text, without colour escape codes.
    let log = broker.stderr_log();
    assert!(!log.contains('\u{1b}'), "escape codes in:\n{log}");
}

/// A record batch of `records` small records, from an idempotent producer when `producer` is
/// `(id, epoch, base_sequence)`.
fn batch(records: usize, producer: Option<(i64, i16, i32)>) -> Bytes {
    let mut builder = RecordBatchBuilder::new();
    if let Some((id, epoch, sequence)) = producer {
        builder = builder.producer(id, epoch, sequence);
    }
    for i in 0..records {
        builder.push(
            1_700_000_000_000,
            None,
            Some(Bytes::from(format!("value-{i}"))),
            Vec::new(),
        );
    }
    builder.build().expect("record batch")
}

/// A new idempotent producer id and epoch, asked over a raw connection.
fn init_producer_id(broker: &Broker) -> (i64, i16) {
    let request = InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    match call(&mut connect(broker), 4, request) {
        ResponseBody::InitProducerId(r) => {
            assert_eq!(r.error_code, 0, "InitProducerId");
            (r.producer_id, r.producer_epoch)
        }
        other => panic!("unexpected response {other:?}"),
    }
}

#[test]
fn crc_and_sequence_rejections_are_counted_by_reason() {
    let (broker, addr) = broker_with_metrics(&[]);
    create_topic(&broker, "guarded", 1, &[]);
    // A valid batch with one bit flipped after the CRC field: its CRC no longer matches.
    let mut flipped = batch(3, None).to_vec();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    assert_eq!(
        wire::produce(&broker, "guarded", Bytes::from(flipped)),
        ErrorCode::CorruptMessage.code(),
        "{}",
        ctx("a batch with a wrong CRC")
    );
    // An idempotent producer's first batch (sequences 0..=1), then one starting at 5: a gap.
    let (id, epoch) = init_producer_id(&broker);
    assert_eq!(
        wire::produce(&broker, "guarded", batch(2, Some((id, epoch, 0)))),
        0,
        "{}",
        ctx("the first idempotent batch")
    );
    assert_eq!(
        wire::produce(&broker, "guarded", batch(2, Some((id, epoch, 5)))),
        ErrorCode::OutOfOrderSequenceNumber.code(),
        "{}",
        ctx("an idempotent batch after a sequence gap")
    );
    let rejected = "fjord_produce_rejected_batches_total";
    let text = await_value(&addr, rejected, &[("reason", "sequence")], 1.0);
    assert_eq!(value(&text, rejected, &[("reason", "crc")]), 1.0, "{text}");
    // Those two and nothing else were refused; the good batch was stored.
    assert_eq!(value(&text, rejected, &[]), 2.0, "{text}");
    assert_eq!(
        value(
            &text,
            "fjord_produce_records_total",
            &[("topic", "guarded")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            "fjord_request_errors_total",
            &[
                ("api", "Produce"),
                ("error", "OUT_OF_ORDER_SEQUENCE_NUMBER")
            ]
        ),
        1.0
    );
}

#[test]
fn fsyncs_before_ack_are_timed() {
    let scenario = "10 records produced with --fsync-before-ack";
    // The bare flag, as the README documents it.
    let (broker, addr) = broker_with_metrics(&["--fsync-before-ack"]);
    create_topic(&broker, "synced", 1, &[]);
    let records: Vec<Rec> = numbered("synced", 10).into_iter().map(Rec::value).collect();
    produce_ok(&producer(&broker, &[]), "synced", &records, scenario);
    let text = await_sample(&addr, "fjord_log_fsync_seconds_count", &[], "> 0", |v| {
        v > 0.0
    });
    assert!(
        value(&text, "fjord_log_fsync_seconds_sum", &[]) > 0.0,
        "{text}"
    );
}

#[test]
fn a_pipelined_request_waits_in_the_queue_phase() {
    let (broker, addr) = broker_with_metrics(&[]);
    create_topic(&broker, "quiet", 1, &[]);
    let list_offsets = ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: "quiet".into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                timestamp: -1,
                current_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    // Both frames in one write: the ListOffsets is complete while the Fetch waits its 600 ms
    // on an empty partition, and is answered only after it.
    let mut stream = connect(&broker);
    let mut both = framed(&request_bytes(
        12,
        1,
        &wire::fetch_from_start("quiet", 600, 1, 1024 * 1024).into(),
    ));
    both.extend(framed(&request_bytes(7, 2, &list_offsets.into())));
    stream.write_all(&both).expect("send two requests");
    for (api, version, correlation_id) in [(ApiKey::Fetch, 12, 1), (ApiKey::ListOffsets, 7, 2)] {
        let mut frame = read_frame(&mut stream).expect("an answer");
        wire::decode_response(api, version, &mut frame, correlation_id);
    }
    let queue = [("api", "ListOffsets"), ("phase", "queue")];
    let phase = "fjord_request_phase_seconds";
    let text = await_value(&addr, &format!("{phase}_count"), &queue, 1.0);
    // It waited behind the Fetch: not in a bucket below 0.5 s.
    let mut below = queue.to_vec();
    below.push(("le", "0.25"));
    assert_eq!(
        value(&text, &format!("{phase}_bucket"), &below),
        0.0,
        "{text}"
    );
    assert!(
        value(&text, &format!("{phase}_sum"), &queue) >= 0.5,
        "{text}"
    );
    // The Fetch itself was handled as soon as it arrived; its wait is processing time.
    let fetch_process = [("api", "Fetch"), ("phase", "process")];
    assert!(
        value(&text, &format!("{phase}_sum"), &fetch_process) >= 0.5,
        "{text}"
    );
    for phase_name in ["queue", "decode", "process", "send"] {
        let labels = [("api", "ListOffsets"), ("phase", phase_name)];
        assert_eq!(
            value(&text, &format!("{phase}_count"), &labels),
            1.0,
            "{text}"
        );
    }
}

#[test]
fn request_buffer_bytes_count_partial_frames_and_return_to_zero() {
    let (broker, addr) = broker_with_metrics(&[]);
    let gauge = "fjord_request_buffer_bytes";
    // An answered request on a connection that stays open holds nothing.
    let mut idle = connect(&broker);
    let versions = ApiVersionsRequest {
        client_software_name: "fjord-compat".into(),
        client_software_version: "1".into(),
        ..Default::default()
    };
    match call(&mut idle, 3, versions) {
        ResponseBody::ApiVersions(r) => assert_eq!(r.error_code, 0),
        other => panic!("unexpected response {other:?}"),
    }
    await_value(&addr, gauge, &[], 0.0);
    // A frame that claims 100 bytes of which 10 have arrived: its size prefix and those 10
    // bytes are held.
    let mut partial = connect(&broker);
    let mut bytes = 100i32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0u8; 10]);
    partial.write_all(&bytes).expect("send a partial frame");
    await_value(&addr, gauge, &[], 14.0);
    // Closing the connection mid-frame gives them back.
    drop(partial);
    await_value(&addr, gauge, &[], 0.0);
    drop(idle);
}

#[test]
fn json_log_lines_carry_the_request_identity() {
    // Bare `--log-json`, and a threshold of 0 ms so every request writes its slow line.
    let broker = Broker::start_with(&["--log-json", "--slow-request-ms", "0"]);
    let mut stream = connect(&broker);
    let peer = stream.local_addr().expect("local address").to_string();
    let versions = ApiVersionsRequest {
        client_software_name: "fjord-compat".into(),
        client_software_version: "1".into(),
        ..Default::default()
    };
    // `call` sends correlation id 42 and client id `fjord-adversarial`.
    match call(&mut stream, 3, versions) {
        ResponseBody::ApiVersions(r) => assert_eq!(r.error_code, 0),
        other => panic!("unexpected response {other:?}"),
    }
    let line = retry_until(&ctx("a JSON slow-request line"), CONSUME_TIMEOUT, || {
        let log = broker.stderr_log();
        log.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| {
                l["fields"]["message"] == "slow request" && l["span"]["peer"] == peer.as_str()
            })
            .ok_or_else(|| format!("not yet in:\n{log}"))
    });
    let span = &line["span"];
    assert_eq!(span["name"], "request", "{line}");
    assert_eq!(span["client_id"], "fjord-adversarial", "{line}");
    assert_eq!(span["api_key"], ApiKey::ApiVersions as i16, "{line}");
    assert_eq!(span["api_version"], 3, "{line}");
    assert_eq!(span["correlation_id"], 42, "{line}");
    assert_eq!(line["level"], "WARN", "{line}");
    assert_eq!(line["fields"]["api"], "ApiVersions", "{line}");
    assert_eq!(line["fields"]["correlation_id"], 42, "{line}");
}
