//! The broker's `fetch.max.bytes` cap: a fetch asking for up to 2 GiB gets at most the cap,
//! across partitions, yet always its first batch, so a batch above the cap cannot stall a
//! consumer (KIP-74).

mod support;

use bytes::Bytes;
use fjord_broker::broker::Broker;
// Batches are stamped now: the log rolls a segment under a batch older than `segment.ms`, and a
// read stops at a segment's end, which would end reads before the cap does.
use fjord_broker::clock::now_ms;
use fjord_broker::topic_config::TopicConfig;
use fjord_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use fjord_protocol::messages::{FetchRequest, ResponseBody};
use fjord_storage::testing::BatchSpec;

const TOPIC: &str = "capped";

/// The cap the tests run with: a few small batches fit, a large one does not.
const CAP: usize = 8 * 1024;

/// What a client may ask for at most: `i32::MAX`, 2 GiB.
const TWO_GIB: i32 = i32::MAX;

async fn produce(broker: &Broker, partition: i32, batch: Vec<u8>) {
    let p = support::produce(broker, TOPIC, partition, batch).await;
    assert_eq!(p.error_code, 0, "produce to partition {partition}: {p:?}");
}

/// Fetches every partition from offset 0 asking for 2 GiB, per request and per partition;
/// returns the record bytes answered per partition.
async fn fetch_everything(broker: &Broker, partitions: i32) -> Vec<usize> {
    let request = FetchRequest {
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes: TWO_GIB,
        topics: vec![FetchTopic {
            topic: TOPIC.into(),
            partitions: (0..partitions)
                .map(|partition| FetchPartition {
                    partition,
                    fetch_offset: 0,
                    partition_max_bytes: TWO_GIB,
                    current_leader_epoch: -1,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        session_epoch: -1,
        ..Default::default()
    };
    match support::call(broker, 12, request).await {
        ResponseBody::Fetch(r) => {
            assert_eq!(r.error_code, 0, "{r:?}");
            r.responses
                .iter()
                .flat_map(|t| &t.partitions)
                .map(|p| {
                    assert_eq!(p.error_code, 0, "partition {}", p.partition_index);
                    p.records.as_ref().map_or(0, Bytes::len)
                })
                .collect()
        }
        other => panic!("not a Fetch response: {other:?}"),
    }
}

#[tokio::test]
async fn a_two_gib_fetch_gets_at_most_the_cap() {
    let test = support::start_with(|c| c.fetch_max_bytes = CAP);
    let broker = &*test.broker;
    broker
        .topics
        .create(TOPIC, 2, TopicConfig::default())
        .unwrap();
    // 2 x 8 batches of about 1 KiB: 16 KiB stored, twice the cap.
    let batch = BatchSpec::new(now_ms()).filler(1, 1000, b'x').build();
    for partition in 0..2 {
        for _ in 0..8 {
            produce(broker, partition, batch.clone()).await;
        }
    }
    let answered = fetch_everything(broker, 2).await;
    let total: usize = answered.iter().sum();
    assert!(
        total <= CAP,
        "answered {total} bytes ({answered:?}), cap {CAP}"
    );
    assert!(
        total + batch.len() > CAP,
        "answered {total} bytes ({answered:?}): the cap, not the data, should end the read"
    );
}

#[tokio::test]
async fn a_batch_larger_than_the_cap_is_still_returned() {
    let test = support::start_with(|c| c.fetch_max_bytes = CAP);
    let broker = &*test.broker;
    broker
        .topics
        .create(TOPIC, 1, TopicConfig::default())
        .unwrap();
    let big = BatchSpec::new(now_ms()).filler(4, 4 * 1024, b'y').build();
    assert!(big.len() > CAP);
    produce(broker, 0, big.clone()).await;
    produce(broker, 0, big.clone()).await;
    // One whole batch for progress, and no more.
    assert_eq!(fetch_everything(broker, 1).await, vec![big.len()]);
}
