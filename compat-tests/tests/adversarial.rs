//! Broken and hostile clients against a real `fjord` process: malformed frames, lying lengths,
//! unknown APIs, garbage and oversized record batches, connection storms, clients that never
//! read. Each test checks the broker's answer to the abuse (an error code or a closed
//! connection) and then that a stock client (librdkafka) still produces and consumes.
//!
//! Every wait is bounded: socket reads have timeouts, and conditions that settle (a server-side
//! close, a freed connection slot) are polled until a deadline.

// Helpers outside #[test] functions unwrap too: a failed set-up should panic.
#![allow(clippy::unwrap_used)]

#[path = "adversarial/clients.rs"]
mod clients;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use fjord_compat_tests::{retry_until, Broker};
use fjord_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use fjord_protocol::messages::{ApiVersionsRequest, ListOffsetsRequest, MetadataRequest};
use fjord_protocol::records::compression::compress;
use fjord_protocol::records::header::compute_crc;
use fjord_protocol::records::{Compression, RecordBatch, RecordBatchBuilder};
use fjord_protocol::{ApiKey, RequestBody, ResponseBody};

use clients::assert_healthy;
use fjord_compat_tests::wire::{
    self, call, connect, expect_closed, expect_unanswered, framed, read_frame, request_bytes, send,
};

/// Kafka's error codes the tests expect.
const CORRUPT_MESSAGE: i16 = 2;
const MESSAGE_TOO_LARGE: i16 = 10;
const UNSUPPORTED_VERSION: i16 = 35;

fn api_versions() -> RequestBody {
    ApiVersionsRequest {
        client_software_name: "fjord-adversarial".into(),
        client_software_version: "1".into(),
        ..Default::default()
    }
    .into()
}

fn metadata() -> RequestBody {
    MetadataRequest {
        topics: None,
        ..Default::default()
    }
    .into()
}

/// A well-formed ApiVersions round trip on `stream`.
fn assert_answers(stream: &mut TcpStream, what: &str) {
    match call(stream, 3, api_versions()) {
        ResponseBody::ApiVersions(r) => assert_eq!(r.error_code, 0, "{what}"),
        other => panic!("{what}: unexpected response {other:?}"),
    }
}

/// The log end offset of `topic`/0, asked over a raw connection.
fn log_end(broker: &Broker, topic: &str) -> i64 {
    list_offset(broker, topic, -1)
}

/// ListOffsets of `topic`/0 for `timestamp` (-1 for the log end), over a raw connection.
fn list_offset(broker: &Broker, topic: &str, timestamp: i64) -> i64 {
    let request = ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: topic.into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                timestamp,
                current_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    match call(&mut connect(broker), 7, request) {
        ResponseBody::ListOffsets(r) => {
            let p = &r.topics[0].partitions[0];
            assert_eq!(p.error_code, 0, "list offsets of {topic} at {timestamp}");
            p.offset
        }
        other => panic!("unexpected response {other:?}"),
    }
}

fn batch(records: usize, value_len: usize, compression: Compression) -> Bytes {
    let mut builder = RecordBatchBuilder::new().compression(compression);
    for i in 0..records {
        builder.push(
            1_700_000_000_000,
            Some(Bytes::from(format!("key-{i}"))),
            Some(Bytes::from(vec![0u8; value_len])),
            Vec::new(),
        );
    }
    builder.build().unwrap()
}

/// `good` (one compressed batch) with its records replaced by `plain` compressed the same way;
/// lengths and CRC are made consistent again, so only the records are wrong.
fn with_records(good: &Bytes, codec: Compression, plain: &[u8]) -> Bytes {
    let payload = compress(codec, plain).unwrap();
    let mut bytes = good[..61].to_vec();
    bytes.extend_from_slice(&payload);
    let length = i32::try_from(bytes.len() - 12).unwrap();
    bytes[8..12].copy_from_slice(&length.to_be_bytes());
    let crc = compute_crc(&bytes);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(bytes)
}

#[test]
fn truncated_frames_close_only_their_connection() {
    let broker = Broker::start();
    let mut bystander = connect(&broker);
    let full = request_bytes(12, 1, &metadata());
    // Every strict prefix of a Metadata request, sent as a complete frame: the header or body
    // does not decode, so the connection closes without an answer.
    for len in 0..full.len() {
        let mut stream = connect(&broker);
        stream.write_all(&framed(&full[..len])).unwrap();
        expect_closed(&mut stream, &format!("metadata v12 cut to {len} bytes"));
    }
    // A frame whose size promises more than the client sends before going quiet.
    let mut stream = connect(&broker);
    let mut partial = framed(&full);
    partial.truncate(partial.len() - 3);
    wire::send_raw_and_half_close(&mut stream, &partial);
    expect_closed(&mut stream, "frame cut short by the client");
    assert_answers(&mut bystander, "a connection open through all of it");
    assert_healthy(&broker, "truncated-frames");
}

#[test]
fn lying_lengths_close_without_reserving_memory() {
    let max = 1024 * 1024;
    let broker = Broker::start_with(&["--max-request-bytes", &max.to_string()]);
    // Size prefixes over the limit, including 2 GiB (negative as an i32) and i32::MAX.
    for claim in [max as u32 + 1, 0x8000_0000, 0xFFFF_FFFF, 0x7FFF_FFFF] {
        let mut stream = connect(&broker);
        stream.write_all(&claim.to_be_bytes()).unwrap();
        expect_closed(&mut stream, &format!("size prefix {claim:#x}"));
    }
    // An array count far beyond the bytes that follow: Metadata v4's topics array claims a
    // million entries and carries one byte.
    let mut payload = request_bytes(4, 5, &metadata());
    let body_at = payload.len() - 5; // topics (i32 -1) and allow_auto_topic_creation (bool)
    payload.truncate(body_at);
    payload.extend_from_slice(&1_000_000i32.to_be_bytes());
    payload.push(0);
    let mut stream = connect(&broker);
    stream.write_all(&framed(&payload)).unwrap();
    expect_closed(
        &mut stream,
        "array count of a million with one byte behind it",
    );
    assert_healthy(&broker, "lying-lengths");
}

/// The broker's virtual memory size in KiB.
fn vm_size_kib(broker: &Broker) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", broker.pid().unwrap())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn size_claims_under_the_limit_do_not_reserve_their_size() {
    // 64 connections each claim a 100 MiB frame (the default limit) and send 4 bytes. Memory
    // must follow the bytes received: reserving the claims would take 6.4 GiB.
    let broker = Broker::start();
    let before = vm_size_kib(&broker);
    let claim = 100u32 * 1024 * 1024;
    let mut streams: Vec<TcpStream> = (0..64)
        .map(|_| {
            let mut s = connect(&broker);
            s.write_all(&claim.to_be_bytes()).unwrap();
            s.write_all(&[0, 18, 0, 3]).unwrap();
            s
        })
        .collect();
    // A round trip on each after the claims: the broker has read them all by now.
    let mut probe = connect(&broker);
    assert_answers(&mut probe, "probe");
    let grown_mib = vm_size_kib(&broker).saturating_sub(before) / 1024;
    assert!(
        grown_mib < 1024,
        "virtual memory grew by {grown_mib} MiB for 64 unfinished 100 MiB claims"
    );
    streams.clear();
    assert_healthy(&broker, "size-claims");
}

#[test]
fn unknown_apis_and_versions() {
    let broker = Broker::start();
    // ApiVersions of a version we do not know: answered in v0 with UNSUPPORTED_VERSION and our
    // API list (KIP-511).
    let mut stream = connect(&broker);
    let mut payload = request_bytes(3, 77, &api_versions());
    payload[2..4].copy_from_slice(&99i16.to_be_bytes());
    stream.write_all(&framed(&payload)).unwrap();
    let mut frame = read_frame(&mut stream).expect("an answer to ApiVersions v99");
    match wire::decode_response(ApiKey::ApiVersions, 0, &mut frame, 77) {
        ResponseBody::ApiVersions(r) => {
            assert_eq!(r.error_code, UNSUPPORTED_VERSION);
            assert!(r
                .api_keys
                .iter()
                .any(|k| k.api_key == ApiKey::ApiVersions as i16));
        }
        other => panic!("unexpected response {other:?}"),
    }
    assert!(frame.is_empty(), "v0 response has trailing bytes");
    assert_answers(&mut stream, "the same connection after the v0 answer");
    // Unknown API keys and unsupported versions of other APIs close the connection.
    for (key, version) in [
        (9999i16, 0i16),
        (-1, 0),
        (ApiKey::Fetch as i16, 3),
        (ApiKey::Metadata as i16, 99),
    ] {
        let mut stream = connect(&broker);
        let mut payload = request_bytes(12, 3, &metadata());
        payload[0..2].copy_from_slice(&key.to_be_bytes());
        payload[2..4].copy_from_slice(&version.to_be_bytes());
        stream.write_all(&framed(&payload)).unwrap();
        expect_closed(&mut stream, &format!("api key {key} v{version}"));
    }
    assert_healthy(&broker, "unknown-apis");
}

#[test]
fn garbage_record_batches_are_refused_and_not_stored() {
    let broker = Broker::start();
    clients::create_topic(&broker, "garbage", 1, &[]);
    // Random bytes.
    let noise: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert_ne!(
        wire::produce(&broker, "garbage", Bytes::from(noise)),
        0,
        "random bytes"
    );
    // A valid batch with one bit flipped after the CRC: wrong CRC.
    let good = batch(3, 10, Compression::None);
    let mut flipped = good.to_vec();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    assert_eq!(
        wire::produce(&broker, "garbage", Bytes::from(flipped)),
        CORRUPT_MESSAGE,
        "bad CRC"
    );
    // A header whose length field says more than was sent.
    let mut short = good.to_vec();
    short.truncate(good.len() - 4);
    assert_ne!(
        wire::produce(&broker, "garbage", Bytes::from(short)),
        0,
        "truncated batch"
    );
    // A correct CRC over a record count that disagrees with the last offset delta.
    let mut miscounted = good.to_vec();
    miscounted[57..61].copy_from_slice(&1000i32.to_be_bytes());
    let crc = compute_crc(&miscounted);
    miscounted[17..21].copy_from_slice(&crc.to_be_bytes());
    assert_ne!(
        wire::produce(&broker, "garbage", Bytes::from(miscounted)),
        0,
        "record count lies"
    );
    // A correct CRC and header over record bytes that do not parse: Kafka answers
    // CORRUPT_MESSAGE rather than storing what no consumer could read.
    let mut scrambled = good.to_vec();
    for byte in &mut scrambled[61..] {
        *byte = 0xff;
    }
    let crc = compute_crc(&scrambled);
    scrambled[17..21].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(
        wire::produce(&broker, "garbage", Bytes::from(scrambled)),
        CORRUPT_MESSAGE,
        "records that do not parse"
    );
    // Two batches where produce v3+ allows one.
    let mut two = good.to_vec();
    two.extend_from_slice(&good);
    assert_ne!(
        wire::produce(&broker, "garbage", Bytes::from(two)),
        0,
        "two batches"
    );
    assert_eq!(log_end(&broker, "garbage"), 0, "nothing refused was stored");
    // The partition still takes a good batch after all that.
    assert_eq!(wire::produce(&broker, "garbage", good), 0, "a good batch");
    assert_eq!(log_end(&broker, "garbage"), 3);
    let got = clients::consume(&broker, "garbage", 0, 3);
    assert_eq!(got[2].0, b"key-2");
    assert_healthy(&broker, "garbage-batches");
}

#[test]
fn compression_bomb_on_a_compacted_topic_is_refused() {
    let broker = Broker::start();
    clients::create_topic(&broker, "bomb", 1, &[("cleanup.policy", "compact")]);
    // 128 records of 1 MiB zeros each: 128 MiB of records in about 130 KiB of zstd.
    let bomb = batch(128, 1024 * 1024, Compression::Zstd);
    assert!(bomb.len() < 1024 * 1024, "the bomb is {} bytes", bomb.len());
    let code = wire::produce(&broker, "bomb", bomb);
    assert_ne!(code, 0, "a batch decompressing past the limit is refused");
    assert_eq!(log_end(&broker, "bomb"), 0);
    // A small compressed batch on the same topic is fine.
    assert_eq!(
        wire::produce(&broker, "bomb", batch(4, 100, Compression::Zstd)),
        0
    );
    assert_healthy(&broker, "compression-bomb");
}

#[test]
fn compressed_garbage_records_on_a_normal_topic_are_corrupt() {
    let broker = Broker::start();
    clients::create_topic(&broker, "packed-garbage", 1, &[]);
    let noise: Vec<u8> = (0..2000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for codec in [Compression::Gzip, Compression::Zstd] {
        let good = batch(3, 10, codec);
        // Valid compression, valid CRC and header, records that do not parse.
        assert_eq!(
            wire::produce(
                &broker,
                "packed-garbage",
                with_records(&good, codec, &noise)
            ),
            CORRUPT_MESSAGE,
            "{codec}: random records"
        );
        // Three well-formed records where the header declares them, then bytes left over.
        let plain = RecordBatch::decode(&good, 1 << 20).unwrap();
        let mut records = BytesMut::new();
        for record in &plain.records {
            record.encode(&mut records).unwrap();
        }
        records.extend_from_slice(&[0; 9]);
        assert_eq!(
            wire::produce(
                &broker,
                "packed-garbage",
                with_records(&good, codec, &records)
            ),
            CORRUPT_MESSAGE,
            "{codec}: bytes after the declared records"
        );
    }
    assert_eq!(
        log_end(&broker, "packed-garbage"),
        0,
        "nothing refused was stored"
    );
    assert_eq!(
        wire::produce(&broker, "packed-garbage", batch(3, 10, Compression::Zstd)),
        0
    );
    assert_eq!(log_end(&broker, "packed-garbage"), 3);
    assert_healthy(&broker, "compressed-garbage");
}

#[test]
fn compression_bomb_on_a_normal_topic_is_refused() {
    let broker = Broker::start();
    clients::create_topic(&broker, "plain-bomb", 1, &[]);
    // 128 records of 1 MiB zeros: 128 MiB of well-formed records, twice the 64 MiB cap.
    let bomb = batch(128, 1024 * 1024, Compression::Zstd);
    assert!(bomb.len() < 1024 * 1024, "the bomb is {} bytes", bomb.len());
    assert_eq!(
        wire::produce(&broker, "plain-bomb", bomb),
        MESSAGE_TOO_LARGE,
        "a batch decompressing past the limit is refused"
    );
    assert_eq!(
        log_end(&broker, "plain-bomb"),
        0,
        "nothing refused was stored"
    );
    // Timestamp lookups walk compressed records and still answer: two batches stored after
    // the bomb, the second one's records later than the first's.
    let mut early = RecordBatchBuilder::new().compression(Compression::Zstd);
    let mut late = RecordBatchBuilder::new().compression(Compression::Zstd);
    for i in 0..4 {
        early.push(1_000 + i, None, Some(Bytes::from_static(b"e")), Vec::new());
        late.push(2_000 + i, None, Some(Bytes::from_static(b"l")), Vec::new());
    }
    assert_eq!(
        wire::produce(&broker, "plain-bomb", early.build().unwrap()),
        0
    );
    assert_eq!(
        wire::produce(&broker, "plain-bomb", late.build().unwrap()),
        0
    );
    assert_eq!(
        list_offset(&broker, "plain-bomb", 1_002),
        2,
        "inside the first batch"
    );
    assert_eq!(
        list_offset(&broker, "plain-bomb", 2_001),
        5,
        "inside the second batch"
    );
    assert_healthy(&broker, "plain-compression-bomb");
}

/// Open file descriptors of the broker process.
fn open_fds(broker: &Broker) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", broker.pid().unwrap()))
        .map(Iterator::count)
        .unwrap_or(0)
}

#[test]
fn a_thousand_connections_dropped_mid_frame() {
    let broker = Broker::start();
    let baseline = open_fds(&broker);
    let addr = broker.bootstrap();
    let payload = framed(&request_bytes(12, 1, &metadata()));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let addr = addr.clone();
            let payload = payload.clone();
            thread::spawn(move || {
                for i in 0..250usize {
                    let mut s = TcpStream::connect(&addr).unwrap();
                    // Cut at a different place each time: inside the size, header or body.
                    let cut = 1 + (w * 250 + i) % (payload.len() - 1);
                    s.write_all(&payload[..cut]).unwrap();
                    drop(s);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // Every one of them is closed on the broker's side too: no descriptor leaks.
    retry_until(
        "broker closes the dropped connections",
        Duration::from_secs(20),
        || {
            let now = open_fds(&broker);
            if now <= baseline + 5 {
                Ok(())
            } else {
                Err(format!(
                    "{now} descriptors open, {baseline} before the storm"
                ))
            }
        },
    );
    assert_healthy(&broker, "connection-storm");
}

#[test]
fn a_client_that_never_reads_does_not_stall_others() {
    let broker = Broker::start_with(&["--connections-max-idle-ms", "3000"]);
    clients::create_topic(&broker, "big", 1, &[]);
    for _ in 0..16 {
        assert_eq!(
            wire::produce(&broker, "big", batch(8, 64 * 1024, Compression::None)),
            0
        );
    }
    // Pipelined fetches of the whole 8 MiB partition, never reading an answer: the broker's
    // socket buffer fills and its write to this client blocks.
    let mut hog = connect(&broker);
    let fetch: RequestBody = wire::fetch_from_start("big", 0, 0, 64 * 1024 * 1024).into();
    hog.set_nonblocking(true).unwrap();
    let request = framed(&request_bytes(12, 1, &fetch));
    let mut sent = 0;
    for _ in 0..64 {
        match hog.write(&request) {
            Ok(n) if n == request.len() => sent += 1,
            _ => break,
        }
    }
    hog.set_nonblocking(false).unwrap();
    assert!(sent >= 2, "could pipeline only {sent} fetches");
    // Meanwhile a stock client works, on the same partition and on another.
    let started = Instant::now();
    assert_healthy(&broker, "never-reading-client");
    assert_eq!(clients::consume(&broker, "big", 0, 3).len(), 3);
    assert!(started.elapsed() < Duration::from_secs(30));
    // The stalled connection is dropped once it has not taken its response for the idle time.
    let mut sink = vec![0u8; 1 << 20];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < deadline,
            "the broker kept a stalled reader open"
        );
        match hog.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the stalled connection: {e}"),
        }
    }
}

#[test]
fn idle_connections_are_closed() {
    let broker = Broker::start_with(&["--connections-max-idle-ms", "500"]);
    let mut silent = connect(&broker);
    let mut served = connect(&broker);
    assert_answers(&mut served, "before going idle");
    let started = Instant::now();
    expect_closed(&mut silent, "a connection that never sent a request");
    expect_closed(&mut served, "a connection idle after one request");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "closed too early"
    );
    assert_healthy(&broker, "idle-timeout");
}

#[test]
fn connections_per_ip_are_limited() {
    let broker = Broker::start_with(&["--max-connections-per-ip", "3"]);
    let mut open: Vec<TcpStream> = (0..3).map(|_| connect(&broker)).collect();
    for (i, s) in open.iter_mut().enumerate() {
        assert_answers(s, &format!("connection {i} within the limit"));
    }
    let mut fourth = connect(&broker);
    // The broker closes it at accept; our request may or may not get out before that.
    let _ = fourth.write_all(&framed(&request_bytes(3, 1, &api_versions())));
    expect_closed(&mut fourth, "a fourth connection from one address");
    // Closing one frees its slot (the broker notices the close asynchronously).
    open.pop();
    retry_until("a freed slot is reusable", Duration::from_secs(10), || {
        let mut s = connect(&broker);
        send(&mut s, 3, 1, &api_versions());
        read_frame(&mut s).map(|_| ()).ok_or("closed")
    });
}

#[test]
fn connections_in_total_are_limited() {
    let broker = Broker::start_with(&["--max-connections", "2"]);
    let mut open: Vec<TcpStream> = (0..2).map(|_| connect(&broker)).collect();
    for (i, s) in open.iter_mut().enumerate() {
        assert_answers(s, &format!("connection {i} within the limit"));
    }
    // The kernel completes the handshake (the backlog), but the broker does not take the
    // third connection, so its request waits unanswered while two are open.
    let mut third = connect(&broker);
    send(&mut third, 3, 7, &api_versions());
    expect_unanswered(
        &mut third,
        Duration::from_secs(1),
        "a third connection over a limit of two",
    );
    // Closing one frees its slot: the third is accepted and its waiting request answered,
    // within the read deadline.
    open.pop();
    let mut frame =
        read_frame(&mut third).expect("the third connection is served once a slot frees");
    match wire::decode_response(ApiKey::ApiVersions, 3, &mut frame, 7) {
        ResponseBody::ApiVersions(r) => assert_eq!(r.error_code, 0),
        other => panic!("unexpected response {other:?}"),
    }
    // The first connection was served all along and still is.
    assert_answers(&mut open[0], "the first connection");
}

/// Sets the soft open-files limit of the running broker (the `prlimit` tool of util-linux; the
/// hard limit is left alone, so the test can raise the soft one again unprivileged).
fn set_open_files_soft_limit(broker: &Broker, soft: u64) {
    let status = std::process::Command::new("prlimit")
        .arg("--pid")
        .arg(broker.pid().unwrap().to_string())
        .arg(format!("--nofile={soft}:"))
        .status()
        .expect("running prlimit");
    assert!(status.success(), "prlimit --nofile={soft}: {status}");
}

/// The broker's soft open-files limit, from /proc.
fn open_files_soft_limit(broker: &Broker) -> u64 {
    let limits =
        std::fs::read_to_string(format!("/proc/{}/limits", broker.pid().unwrap())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

#[test]
fn running_out_of_descriptors_pauses_accepts_then_recovers() {
    let broker = Broker::start();
    let soft = open_files_soft_limit(&broker);
    let baseline = u64::try_from(open_fds(&broker)).unwrap();
    // Room for four more descriptors: the fifth waiting connection meets EMFILE.
    set_open_files_soft_limit(&broker, baseline + 4);
    let held: Vec<TcpStream> = (0..12).map(|_| connect(&broker)).collect();
    let failures = || broker.stderr_log().matches("accept failed").count();
    // Paused 100 ms then 200 ms, the third failure comes about 300 ms after the first; an
    // accept loop that retried at once would have logged thousands by then.
    retry_until(
        "accepts fail for want of descriptors",
        Duration::from_secs(10),
        || {
            let n = failures();
            if n >= 3 {
                Ok(n)
            } else {
                Err(format!("{n} failed accepts logged"))
            }
        },
    );
    let logged = failures();
    assert!(
        logged < 20,
        "{logged} failed accepts logged: the accept loop spins"
    );
    assert!(
        broker.stderr_log().contains("Too many open files"),
        "the failures are EMFILE"
    );
    // Descriptors free up: the broker accepts again within its longest pause.
    drop(held);
    set_open_files_soft_limit(&broker, soft);
    retry_until(
        "a new connection is served",
        Duration::from_secs(10),
        || {
            let mut s = connect(&broker);
            send(&mut s, 3, 1, &api_versions());
            read_frame(&mut s).map(|_| ()).ok_or("closed")
        },
    );
    assert_healthy(&broker, "descriptors-exhausted");
}

#[test]
fn requests_naming_too_many_partitions_close() {
    let broker = Broker::start_with(&["--max-partitions-per-request", "10"]);
    clients::create_topic(&broker, "wide", 1, &[]);
    let request = |n: i32| -> RequestBody {
        ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsTopic {
                name: "wide".into(),
                partitions: (0..n)
                    .map(|i| ListOffsetsPartition {
                        partition_index: i,
                        timestamp: -1,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }
        .into()
    };
    let mut stream = connect(&broker);
    match call(&mut stream, 7, request(10)) {
        ResponseBody::ListOffsets(r) => assert_eq!(r.topics[0].partitions.len(), 10),
        other => panic!("unexpected response {other:?}"),
    }
    send(&mut stream, 7, 2, &request(11));
    expect_closed(&mut stream, "eleven partitions over a limit of ten");
    assert_healthy(&broker, "too-many-partitions");
}
