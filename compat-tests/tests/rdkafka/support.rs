//! Clients, produce and consume helpers shared by the rdkafka scenarios.

use std::future::Future;
use std::time::{Duration, Instant};

use fjord_compat_tests::Broker;
use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigResource, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::future_producer::Delivery;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

/// Timeout for one client call (metadata, admin, watermarks).
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Deadline for receiving all expected records.
pub(crate) const CONSUME_TIMEOUT: Duration = Duration::from_secs(20);

/// Prefixes a scenario with the client and librdkafka version, so a failure
/// in CI names both.
pub(crate) fn ctx(scenario: &str) -> String {
    let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
    format!("[rdkafka 0.39 / librdkafka {librdkafka}] {scenario}")
}

/// Runs a client future to completion on a small runtime of its own.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

/// A client config pointing at `broker`.
pub(crate) fn config(broker: &Broker) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", broker.bootstrap())
        .set("client.id", "fjord-compat-rdkafka");
    config
}

/// An admin client.
pub(crate) fn admin(broker: &Broker) -> AdminClient<DefaultClientContext> {
    config(broker).create().expect("admin client")
}

/// Admin options with a bounded request timeout.
pub(crate) fn admin_opts() -> AdminOptions {
    AdminOptions::new().request_timeout(Some(CALL_TIMEOUT))
}

/// Creates a topic and panics if the broker reports an error.
pub(crate) fn create_topic(broker: &Broker, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (key, value) in configs {
        topic = topic.set(key, value);
    }
    let results = block_on(admin(broker).create_topics([&topic], &admin_opts()))
        .unwrap_or_else(|e| panic!("{}: {e}", ctx(&format!("create topic {name}"))));
    for result in results {
        if let Err((topic, code)) = result {
            panic!(
                "{}: broker answered {code:?}",
                ctx(&format!("create topic {topic}"))
            );
        }
    }
}

/// Describes one topic's configuration.
pub(crate) fn describe_topic(broker: &Broker, name: &str) -> ConfigResource {
    let mut results =
        block_on(admin(broker).describe_configs([&ResourceSpecifier::Topic(name)], &admin_opts()))
            .unwrap_or_else(|e| panic!("{}: {e}", ctx(&format!("describe configs of {name}"))));
    assert_eq!(
        results.len(),
        1,
        "{}",
        ctx("describe configs returns one resource")
    );
    results
        .remove(0)
        .unwrap_or_else(|e| panic!("{}: {e}", ctx(&format!("describe configs of {name}"))))
}

/// A producer; `extra` overrides or adds settings (e.g. compression).
pub(crate) fn producer(broker: &Broker, extra: &[(&str, &str)]) -> FutureProducer {
    let mut config = config(broker);
    config.set("message.timeout.ms", "15000");
    for (key, value) in extra {
        config.set(*key, *value);
    }
    config.create().expect("producer")
}

/// A consumer for `assign()`-based reading: no group, no commits.
pub(crate) fn consumer(broker: &Broker, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut config = config(broker);
    // librdkafka refuses assign() without a group.id; the group is never joined and nothing
    // is committed, so every consumer may share this one.
    config
        .set("group.id", "fjord-compat-assign-only")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    for (key, value) in extra {
        config.set(*key, *value);
    }
    config.create().expect("consumer")
}

/// One record to produce.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rec {
    /// The key (None = null key).
    pub(crate) key: Option<Vec<u8>>,
    /// The value (None = null value, a tombstone).
    pub(crate) value: Option<Vec<u8>>,
    /// Headers in order; a None value is a null header value.
    pub(crate) headers: Vec<(String, Option<Vec<u8>>)>,
    /// An explicit partition, else the client's partitioner decides.
    pub(crate) partition: Option<i32>,
    /// An explicit `CreateTime` in milliseconds.
    pub(crate) timestamp: Option<i64>,
}

impl Rec {
    /// A record with a key and a value.
    pub(crate) fn kv(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Rec {
        Rec {
            key: Some(key.into()),
            value: Some(value.into()),
            ..Rec::default()
        }
    }

    /// A record with only a value.
    pub(crate) fn value(value: impl Into<Vec<u8>>) -> Rec {
        Rec {
            value: Some(value.into()),
            ..Rec::default()
        }
    }
}

/// Enqueues all records before awaiting any delivery, so the client batches
/// them, then returns each record's delivery result in order.
pub(crate) fn produce(
    producer: &FutureProducer,
    topic: &str,
    records: &[Rec],
) -> Vec<Result<Delivery, KafkaError>> {
    let futures: Vec<_> = records
        .iter()
        .map(|rec| {
            let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic);
            if let Some(key) = &rec.key {
                record = record.key(key.as_slice());
            }
            if let Some(value) = &rec.value {
                record = record.payload(value.as_slice());
            }
            if !rec.headers.is_empty() {
                let mut headers = OwnedHeaders::new();
                for (key, value) in &rec.headers {
                    headers = headers.insert(Header {
                        key,
                        value: value.as_deref(),
                    });
                }
                record = record.headers(headers);
            }
            if let Some(partition) = rec.partition {
                record = record.partition(partition);
            }
            if let Some(ts) = rec.timestamp {
                record = record.timestamp(ts);
            }
            producer.send_result(record).map_err(|(e, _)| e)
        })
        .collect();
    block_on(async {
        let mut results = Vec::with_capacity(futures.len());
        for future in futures {
            let result = match future {
                Ok(delivery) => match delivery.await {
                    Ok(Ok(delivery)) => Ok(delivery),
                    Ok(Err((err, _))) => Err(err),
                    Err(_) => Err(KafkaError::Canceled),
                },
                Err(err) => Err(err),
            };
            results.push(result);
        }
        results
    })
}

/// Produces and panics unless every record was acknowledged.
pub(crate) fn produce_ok(
    producer: &FutureProducer,
    topic: &str,
    records: &[Rec],
    scenario: &str,
) -> Vec<Delivery> {
    produce(producer, topic, records)
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|e| panic!("{}: record {i} not acknowledged: {e}", ctx(scenario)))
        })
        .collect()
}

/// A consumed record, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Got {
    /// Partition it came from.
    pub(crate) partition: i32,
    /// Its offset.
    pub(crate) offset: i64,
    /// Its key.
    pub(crate) key: Option<Vec<u8>>,
    /// Its value.
    pub(crate) value: Option<Vec<u8>>,
    /// Its headers.
    pub(crate) headers: Vec<(String, Option<Vec<u8>>)>,
    /// Its timestamp in milliseconds, if any.
    pub(crate) timestamp: Option<i64>,
}

impl Got {
    /// The value's bytes; panics on a null value, which the calling scenario
    /// did not produce.
    pub(crate) fn value_bytes(self) -> Vec<u8> {
        let offset = self.offset;
        self.value
            .unwrap_or_else(|| panic!("record at offset {offset} has a null value"))
    }
}

/// Assigns `(topic, partition, start)` and polls until `count` records have
/// arrived, panicking with what did arrive if the deadline passes first.
pub(crate) fn consume(
    consumer: &BaseConsumer,
    assignment: &[(&str, i32, Offset)],
    count: usize,
    scenario: &str,
) -> Vec<Got> {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition, offset) in assignment {
        tpl.add_partition_offset(topic, *partition, *offset)
            .unwrap_or_else(|e| panic!("{}: {e}", ctx(scenario)));
    }
    consumer
        .assign(&tpl)
        .unwrap_or_else(|e| panic!("{}: assign: {e}", ctx(scenario)));
    let deadline = Instant::now() + CONSUME_TIMEOUT;
    let mut got = Vec::new();
    while got.len() < count {
        assert!(
            Instant::now() < deadline,
            "{}: expected {count} records within {CONSUME_TIMEOUT:?}, got {}: {got:?}",
            ctx(scenario),
            got.len()
        );
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(e)) => panic!("{}: consume error: {e}", ctx(scenario)),
            Some(Ok(msg)) => got.push(Got {
                partition: msg.partition(),
                offset: msg.offset(),
                key: msg.key().map(<[u8]>::to_vec),
                value: msg.payload().map(<[u8]>::to_vec),
                headers: msg
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default(),
                timestamp: msg.timestamp().to_millis(),
            }),
        }
    }
    got
}

/// The (low, high) watermarks of one partition.
pub(crate) fn watermarks(broker: &Broker, topic: &str, partition: i32) -> (i64, i64) {
    consumer(broker, &[])
        .fetch_watermarks(topic, partition, CALL_TIMEOUT)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}",
                ctx(&format!("watermarks of {topic}/{partition}"))
            )
        })
}

/// Waits until the broker's metadata lists `topic` with `partitions`
/// partitions, all led by node 1.
pub(crate) fn await_topic(broker: &Broker, topic: &str, partitions: usize) {
    let consumer = consumer(broker, &[]);
    fjord_compat_tests::retry_until(
        &ctx(&format!("topic {topic} in metadata")),
        CONSUME_TIMEOUT,
        || {
            let md = consumer
                .fetch_metadata(None, CALL_TIMEOUT)
                .map_err(|e| e.to_string())?;
            let found = md
                .topics()
                .iter()
                .find(|t| t.name() == topic)
                .ok_or_else(|| format!("{topic} not listed"))?;
            let ready = found.error().is_none()
                && found.partitions().len() == partitions
                && found.partitions().iter().all(|p| p.leader() == 1);
            if ready {
                Ok(())
            } else {
                Err(format!(
                    "{topic}: error {:?}, {} partitions",
                    found.error(),
                    found.partitions().len()
                ))
            }
        },
    );
}

/// Values "prefix-0", "prefix-1", ... as bytes.
pub(crate) fn numbered(prefix: &str, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| format!("{prefix}-{i}").into_bytes())
        .collect()
}
