//! Crashes and a full disk under load from a stock client (librdkafka via the `rdkafka` crate).
//!
//! - SIGKILL, repeatedly, while an idempotent acks=all producer keeps writing: after every
//!   restart, each acknowledged record is present exactly once, and a committed offset and a
//!   topic config set before the first crash are still there.
//! - A full disk: the data directory is a small tmpfs; producing until it is full gets
//!   KAFKA_STORAGE_ERROR, nothing refused is visible, and producing works again once space is
//!   freed, also after a crash.
//!
//! Every wait is deadline-bound: "until N more acknowledgements arrived", never a fixed sleep.

// Helpers outside #[test] functions unwrap too: a failed set-up should panic.
#![allow(clippy::unwrap_used)]

#[path = "adversarial/clients.rs"]
mod clients;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use fjord_compat_tests::{retry_until, Broker};
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{
    BaseRecord, FutureProducer, FutureRecord, Producer, ProducerContext, ThreadedProducer,
};
use rdkafka::{Offset, TopicPartitionList};

use clients::{block_on, config, create_topic, CLIENT_TIMEOUT};

/// SIGKILLs per run.
const KILLS: usize = 5;
/// Acknowledgements to wait for between two kills.
const ACKS_BETWEEN_KILLS: usize = 400;
/// Records the producer may have unacknowledged at once.
const MAX_IN_FLIGHT: usize = 2_000;
/// Deadline for the next batch of acknowledgements (includes a restart and reconnect).
const ACK_TIMEOUT: Duration = Duration::from_secs(60);

const TOPIC: &str = "crash";
const PARTITIONS: i32 = 3;
const GROUP: &str = "crash-group";
const COMMITTED: i64 = 42;
const RETENTION_MS: &str = "987654321";

/// Delivery reports of the crash producer.
#[derive(Default)]
struct Acks {
    /// Keys acknowledged, in the order reports arrived.
    acked: Mutex<Vec<String>>,
    /// Records that failed for good.
    failed: AtomicUsize,
    /// The first failure, for the report.
    first_failure: Mutex<Option<String>>,
}

struct AckContext(Arc<Acks>);

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(m) => {
                let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                self.0.acked.lock().unwrap().push(key);
            }
            Err((e, _)) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
                self.0
                    .first_failure
                    .lock()
                    .unwrap()
                    .get_or_insert_with(|| e.to_string());
            }
        }
    }
}

fn acked_count(acks: &Acks) -> usize {
    acks.acked.lock().unwrap().len()
}

/// Waits until at least `target` records are acknowledged.
fn await_acks(acks: &Acks, target: usize, when: &str) {
    let deadline = Instant::now() + ACK_TIMEOUT;
    while acked_count(acks) < target {
        assert!(
            Instant::now() < deadline,
            "{when}: only {} of {target} records acknowledged within {ACK_TIMEOUT:?}; \
             {} failed, first failure: {:?}",
            acked_count(acks),
            acks.failed.load(Ordering::Relaxed),
            acks.first_failure.lock().unwrap()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Reads every partition of `topic` up to its high watermark; returns each key's count.
fn read_all_keys(broker: &Broker, topic: &str, partitions: i32) -> HashMap<String, usize> {
    let consumer: BaseConsumer = config(broker)
        .set("group.id", "crash-verify-assign-only")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    let mut expected = 0;
    for p in 0..partitions {
        let (low, high) = retry_until("watermarks", CLIENT_TIMEOUT, || {
            consumer.fetch_watermarks(topic, p, Duration::from_secs(5))
        });
        assert_eq!(low, 0, "{topic}/{p}: log start moved");
        expected += high as usize;
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut counts = HashMap::new();
    let mut seen = 0;
    let deadline = Instant::now() + CLIENT_TIMEOUT * 2;
    while seen < expected {
        assert!(
            Instant::now() < deadline,
            "read {seen} of {expected} records of {topic}"
        );
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            Some(Ok(m)) => {
                let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                *counts.entry(key).or_insert(0) += 1;
                seen += 1;
            }
        }
    }
    counts
}

/// Commits `offset` for `group` on `topic`/0.
fn commit(broker: &Broker, group: &str, offset: i64) {
    let consumer: BaseConsumer = config(broker)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(TOPIC, 0, Offset::Offset(offset))
        .unwrap();
    retry_until("commit an offset", CLIENT_TIMEOUT, || {
        consumer.commit(&tpl, CommitMode::Sync)
    });
}

/// The committed offset of `group` on `topic`/0.
fn committed(broker: &Broker, group: &str) -> Offset {
    let consumer: BaseConsumer = config(broker)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(TOPIC, 0);
    let got = retry_until("fetch committed offsets", CLIENT_TIMEOUT, || {
        consumer.committed_offsets(tpl.clone(), Duration::from_secs(5))
    });
    got.find_partition(TOPIC, 0).unwrap().offset()
}

/// A topic config value as DescribeConfigs reports it.
fn topic_config(broker: &Broker, name: &str) -> Option<String> {
    let admin: AdminClient<DefaultClientContext> = config(broker).create().unwrap();
    let opts = AdminOptions::new().request_timeout(Some(CLIENT_TIMEOUT));
    let mut results =
        block_on(admin.describe_configs([&ResourceSpecifier::Topic(TOPIC)], &opts)).unwrap();
    let resource = results.remove(0).unwrap();
    resource.get(name).and_then(|e| e.value.clone())
}

/// Checks everything that must survive a crash.
fn verify(broker: &Broker, acks: &Acks, when: &str) -> usize {
    let acked: Vec<String> = acks.acked.lock().unwrap().clone();
    let counts = read_all_keys(broker, TOPIC, PARTITIONS);
    let missing: Vec<&String> = acked.iter().filter(|k| !counts.contains_key(*k)).collect();
    let duplicated: Vec<(&String, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        missing.is_empty(),
        "{when}: {} of {} acknowledged records lost, e.g. {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        duplicated.is_empty(),
        "{when}: {} records stored more than once, e.g. {:?}",
        duplicated.len(),
        &duplicated[..duplicated.len().min(5)]
    );
    assert_eq!(
        committed(broker, GROUP),
        Offset::Offset(COMMITTED),
        "{when}: committed offset"
    );
    assert_eq!(
        topic_config(broker, "retention.ms").as_deref(),
        Some(RETENTION_MS),
        "{when}: topic config"
    );
    acked.len()
}

#[test]
fn acknowledged_records_survive_repeated_sigkill_exactly_once() {
    let mut broker = Broker::start();
    broker.keep_port();
    create_topic(
        &broker,
        TOPIC,
        PARTITIONS,
        &[("retention.ms", RETENTION_MS)],
    );
    commit(&broker, GROUP, COMMITTED);

    let acks = Arc::new(Acks::default());
    let stop = Arc::new(AtomicBool::new(false));
    let producer: ThreadedProducer<AckContext> = config(&broker)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        // Long enough to ride out a restart; reconnect quickly once the broker is back.
        .set("message.timeout.ms", "60000")
        .set("reconnect.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "500")
        .set("retry.backoff.ms", "50")
        .create_with_context(AckContext(acks.clone()))
        .unwrap();
    let producer = Arc::new(producer);
    let writer = {
        let (producer, acks, stop) = (producer.clone(), acks.clone(), stop.clone());
        thread::spawn(move || {
            let mut seq = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let done = acked_count(&acks) + acks.failed.load(Ordering::Relaxed);
                if seq - done >= MAX_IN_FLIGHT {
                    // Back-pressure only: the delivery thread makes progress meanwhile.
                    thread::sleep(Duration::from_millis(5));
                    continue;
                }
                let key = format!("{seq:012}");
                match producer.send(BaseRecord::to(TOPIC).key(&key).payload(&key)) {
                    Ok(()) => seq += 1,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        thread::sleep(Duration::from_millis(5));
                    }
                    Err((e, _)) => panic!("enqueue record {seq}: {e}"),
                }
            }
            seq
        })
    };

    let mut target = ACKS_BETWEEN_KILLS;
    for kill in 1..=KILLS {
        await_acks(&acks, target, &format!("before kill {kill}"));
        broker.kill9();
        broker.start_again();
        target = acked_count(&acks) + ACKS_BETWEEN_KILLS;
    }
    await_acks(&acks, target, "after the last restart");
    stop.store(true, Ordering::Relaxed);
    let sent = writer.join().unwrap();
    producer.flush(Duration::from_secs(60)).unwrap();
    assert_eq!(
        acks.failed.load(Ordering::Relaxed),
        0,
        "records failed for good; first failure: {:?}",
        acks.first_failure.lock().unwrap()
    );
    let checked = verify(&broker, &acks, "after the last restart");
    // Once more from a crash with no producer running: recovery alone keeps everything.
    broker.kill9();
    broker.start_again();
    verify(&broker, &acks, "after a final crash");
    eprintln!(
        "crash suite: {KILLS} SIGKILLs under load (+1 idle), {sent} records sent, {checked} \
         acknowledged and checked, 0 lost, 0 duplicated"
    );
}

/// A tmpfs mounted by the test; unmounted (lazily, so a leftover process cannot block it)
/// when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Result<Tmpfs, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Produces one record and waits for its delivery.
fn produce_one(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    value: &[u8],
) -> Result<(), KafkaError> {
    block_on(producer.send(
        FutureRecord::to(topic).key(key).payload(value),
        Duration::from_secs(15),
    ))
    .map(|_| ())
    .map_err(|(e, _)| e)
}

#[test]
fn disk_full_fails_produce_with_storage_error_then_recovers() {
    let mut mounted: Result<Tmpfs, String> = Err("not mounted".into());
    let mut broker = Broker::start_prepared(&[], |data| mounted = Tmpfs::mount(data, "8m"));
    let mount = match mounted {
        Ok(mount) => mount,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("disk-full test needs a tmpfs mount (CI runs as root): {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED disk-full test: {why} (needs root; set CI to make this fatal)");
            return;
        }
    };
    create_topic(&broker, "full", 1, &[]);
    // A filler to free later; the rest of the 8 MiB is for records.
    let filler = mount.path.join("filler");
    std::fs::write(&filler, vec![1u8; 2 * 1024 * 1024]).unwrap();
    let producer: FutureProducer = config(&broker)
        .set("acks", "all")
        .set("linger.ms", "0")
        // See the broker's error rather than retrying it until a timeout.
        .set("retries", "0")
        .set("message.timeout.ms", "10000")
        .create()
        .unwrap();
    let value = vec![7u8; 64 * 1024];
    let mut acked = Vec::new();
    let error = loop {
        assert!(acked.len() < 1000, "8 MiB never filled up");
        let key = format!("before-{:04}", acked.len());
        match produce_one(&producer, "full", &key, &value) {
            Ok(()) => acked.push(key),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(
            error,
            KafkaError::MessageProduction(RDKafkaErrorCode::KafkaStorageError)
        ),
        "a full disk must give KAFKA_STORAGE_ERROR, got {error:?} after {} records",
        acked.len()
    );
    assert!(!acked.is_empty(), "nothing fit before the disk was full");
    // Free space; producing works again (retrying until the broker's next append succeeds).
    std::fs::remove_file(&filler).unwrap();
    retry_until("produce after freeing space", CLIENT_TIMEOUT, || {
        produce_one(&producer, "full", "after-0", &value)
    });
    acked.push("after-0".into());
    for i in 1..5 {
        let key = format!("after-{i}");
        produce_one(&producer, "full", &key, &value).unwrap();
        acked.push(key);
    }
    let check = |broker: &Broker, when: &str| {
        let got = clients::consume(broker, "full", 0, acked.len());
        let keys: Vec<String> = got
            .iter()
            .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
            .collect();
        assert_eq!(
            keys, acked,
            "{when}: exactly the acknowledged records, in order"
        );
        assert!(
            got.iter().all(|(_, v)| v == &value),
            "{when}: values intact"
        );
    };
    check(&broker, "after freeing space");
    // And after a crash: recovery finds no torn batch left by the failed appends.
    broker.kill9();
    broker.start_again();
    check(&broker, "after a crash");
    eprintln!(
        "disk-full: {} records acknowledged around one ENOSPC, all read back",
        acked.len()
    );
    broker.kill9();
    drop(mount);
}
