//! Stock-client (librdkafka via the `rdkafka` crate) checks shared by the fault suites: after
//! every fault, a well-behaved client must still produce and consume.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use fjord_compat_tests::Broker;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

/// Deadline for a client call or for records to arrive.
pub(crate) const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs a future on a small runtime of its own.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// A client config for `broker`.
pub(crate) fn config(broker: &Broker) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", broker.bootstrap())
        .set("client.id", "fjord-faults")
        // Failures are the point of these suites; keep librdkafka's own log quiet.
        .set("log_level", "3");
    config
}

/// Creates a topic; panics on any error.
pub(crate) fn create_topic(broker: &Broker, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let admin: AdminClient<DefaultClientContext> = config(broker).create().unwrap();
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        topic = topic.set(k, v);
    }
    let opts = AdminOptions::new().request_timeout(Some(CLIENT_TIMEOUT));
    for result in block_on(admin.create_topics([&topic], &opts)).unwrap() {
        result.unwrap_or_else(|(t, code)| panic!("create topic {t}: {code:?}"));
    }
}

/// Reads `partition` of `topic` from the beginning until `count` records arrived; returns
/// (key, value) pairs in offset order.
pub(crate) fn consume(
    broker: &Broker,
    topic: &str,
    partition: i32,
    count: usize,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let consumer: BaseConsumer = config(broker)
        .set("group.id", "fjord-faults-assign-only")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let mut got = Vec::new();
    while got.len() < count {
        assert!(
            Instant::now() < deadline,
            "{topic}/{partition}: expected {count} records within {CLIENT_TIMEOUT:?}, got {}",
            got.len()
        );
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(e)) => panic!("{topic}/{partition}: consume error: {e}"),
            Some(Ok(m)) => got.push((
                m.key().unwrap_or_default().to_vec(),
                m.payload().unwrap_or_default().to_vec(),
            )),
        }
    }
    got
}

/// A stock client produces three records to a fresh topic and reads them back: the broker
/// still serves well-behaved clients.
pub(crate) fn assert_healthy(broker: &Broker, label: &str) {
    let topic = format!("healthy-{label}");
    create_topic(broker, &topic, 1, &[]);
    let producer: FutureProducer = config(broker)
        .set("message.timeout.ms", "15000")
        .set("acks", "all")
        .create()
        .unwrap();
    let values: Vec<String> = (0..3).map(|i| format!("{label}-{i}")).collect();
    block_on(async {
        for value in &values {
            producer
                .send(
                    FutureRecord::to(&topic).key("k").payload(value),
                    Duration::from_secs(15),
                )
                .await
                .unwrap_or_else(|(e, _)| panic!("after {label}: produce failed: {e}"));
        }
    });
    let got = consume(broker, &topic, 0, values.len());
    let got: Vec<String> = got
        .into_iter()
        .map(|(_, v)| String::from_utf8(v).unwrap())
        .collect();
    assert_eq!(got, values, "after {label}: records read back");
}
