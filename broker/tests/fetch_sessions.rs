//! Incremental fetch sessions (KIP-227) driven through dispatch the way the Java consumer
//! drives them: a full fetch opens a session, incremental fetches name only what changed, and
//! responses carry only partitions with news. Run at a name-based version (v12) and an
//! id-based one (v17).

mod support;

use bytes::Bytes;
use fjord_broker::broker::Broker;
use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use fjord_protocol::messages::{FetchRequest, FetchResponse, ResponseBody};
use fjord_storage::testing::{BatchSpec, RecordSpec};
use uuid::Uuid;

const TOPIC: &str = "sessions";

/// One partition of a fetch: index and fetch offset.
type Want = (i32, i64);

struct Fetcher<'a> {
    broker: &'a Broker,
    version: i16,
    topic_id: Uuid,
}

impl Fetcher<'_> {
    fn topic(&self, partitions: &[Want]) -> FetchTopic {
        FetchTopic {
            topic: if self.version < 13 {
                TOPIC.into()
            } else {
                String::new()
            },
            topic_id: if self.version < 13 {
                Uuid::nil()
            } else {
                self.topic_id
            },
            partitions: partitions
                .iter()
                .map(|&(partition, fetch_offset)| FetchPartition {
                    partition,
                    fetch_offset,
                    partition_max_bytes: 1 << 20,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    async fn fetch(
        &self,
        session_id: i32,
        epoch: i32,
        partitions: &[Want],
        forgotten: &[i32],
        max_wait_ms: i32,
    ) -> FetchResponse {
        let request = FetchRequest {
            max_wait_ms,
            min_bytes: 1,
            max_bytes: 1 << 24,
            session_id,
            session_epoch: epoch,
            topics: if partitions.is_empty() {
                vec![]
            } else {
                vec![self.topic(partitions)]
            },
            forgotten_topics_data: if forgotten.is_empty() {
                vec![]
            } else {
                vec![ForgottenTopic {
                    topic: if self.version < 13 {
                        TOPIC.into()
                    } else {
                        String::new()
                    },
                    topic_id: if self.version < 13 {
                        Uuid::nil()
                    } else {
                        self.topic_id
                    },
                    partitions: forgotten.to_vec(),
                    ..Default::default()
                }]
            },
            ..Default::default()
        };
        match support::call(self.broker, self.version, request).await {
            ResponseBody::Fetch(r) => r,
            other => panic!("not a fetch response: {other:?}"),
        }
    }
}

/// (partition, high watermark, number of record bytes) of each partition in a response.
fn summary(response: &FetchResponse) -> Vec<(i32, i64, usize)> {
    response
        .responses
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    p.partition_index,
                    p.high_watermark,
                    p.records.as_ref().map_or(0, Bytes::len),
                )
            })
        })
        .collect()
}

async fn produce(broker: &Broker, partition: i32, value: &[u8]) {
    let batch = BatchSpec::new(1_700_000_000_000)
        .record(RecordSpec::new(None, Some(value)))
        .build();
    let p = support::produce(broker, TOPIC, partition, batch).await;
    assert_eq!(p.error_code, 0, "produce failed: {p:?}");
}

async fn session_lifecycle(version: i16) {
    let test = support::start();
    let broker = &*test.broker;
    let topic_id = broker
        .topics
        .create(TOPIC, 2, fjord_broker::topic_config::TopicConfig::default())
        .expect("creating the topic")
        .id;
    produce(broker, 0, b"first").await;
    let f = Fetcher {
        broker,
        version,
        topic_id,
    };

    // A full fetch opens a session and answers every partition.
    let full = f.fetch(0, 0, &[(0, 0), (1, 0)], &[], 0).await;
    assert_eq!(full.error_code, 0);
    let id = full.session_id;
    assert_ne!(id, 0, "v{version}: no session opened");
    let got = summary(&full);
    assert_eq!(got.len(), 2, "v{version}: {got:?}");
    assert_eq!((got[0].0, got[0].1), (0, 1));
    assert!(got[0].2 > 0, "v{version}: partition 0 returned no records");
    assert_eq!(got[1], (1, 0, 0));

    // The consumer moved past the record on partition 0: nothing changed, nothing answered.
    let quiet = f.fetch(id, 1, &[(0, 1)], &[], 0).await;
    assert_eq!((quiet.error_code, quiet.session_id), (0, id));
    assert_eq!(summary(&quiet), vec![], "v{version}");

    // New data on partition 1 only: only partition 1 is answered, without being named.
    produce(broker, 1, b"second").await;
    let news = f.fetch(id, 2, &[], &[], 0).await;
    let got = summary(&news);
    assert_eq!(got.len(), 1, "v{version}: {got:?}");
    assert_eq!((got[0].0, got[0].1), (1, 1));
    assert!(got[0].2 > 0);

    // Forget partition 0; data arriving there is no longer answered.
    let forgot = f.fetch(id, 3, &[(1, 1)], &[0], 0).await;
    assert_eq!(summary(&forgot), vec![], "v{version}");
    produce(broker, 0, b"third").await;
    let after = f.fetch(id, 4, &[], &[], 0).await;
    assert_eq!(summary(&after), vec![], "v{version}");

    // A long poll wakes for an append to a session partition.
    let (polled, ()) = tokio::join!(f.fetch(id, 5, &[], &[], 30_000), produce(broker, 1, b"x"));
    let got = summary(&polled);
    assert_eq!(got.len(), 1, "v{version}: {got:?}");
    assert_eq!((got[0].0, got[0].1), (1, 2));

    // The wrong epoch is refused at the top level, and does not advance the session.
    let stale = f.fetch(id, 5, &[], &[], 0).await;
    assert_eq!(stale.error_code, ErrorCode::InvalidFetchSessionEpoch.code());
    assert_eq!((stale.session_id, stale.responses.len()), (0, 0));
    assert_eq!(f.fetch(id, 6, &[], &[], 0).await.error_code, 0);

    // Epoch -1 closes the session with a full, sessionless answer.
    let closing = f.fetch(id, -1, &[(0, 0)], &[], 0).await;
    assert_eq!((closing.error_code, closing.session_id), (0, 0));
    assert_eq!(summary(&closing).len(), 1);
    let gone = f.fetch(id, 7, &[], &[], 0).await;
    assert_eq!(gone.error_code, ErrorCode::FetchSessionIdNotFound.code());
    assert!(broker.fetch_sessions.is_empty());
}

#[tokio::test(start_paused = true)]
async fn sessions_by_topic_name() {
    session_lifecycle(12).await;
}

#[tokio::test(start_paused = true)]
async fn sessions_by_topic_id() {
    session_lifecycle(17).await;
}

#[tokio::test]
async fn unknown_session_ids_are_refused() {
    let test = support::start();
    let f = Fetcher {
        broker: &test.broker,
        version: 12,
        topic_id: Uuid::nil(),
    };
    let r = f.fetch(12345, 1, &[], &[], 0).await;
    assert_eq!(r.error_code, ErrorCode::FetchSessionIdNotFound.code());
    assert_eq!(r.session_id, 0);
}

#[tokio::test]
async fn fetches_before_v7_never_open_sessions() {
    let test = support::start();
    let broker = &*test.broker;
    broker
        .topics
        .create(TOPIC, 1, fjord_broker::topic_config::TopicConfig::default())
        .unwrap();
    let f = Fetcher {
        broker,
        version: 6,
        topic_id: Uuid::nil(),
    };
    let r = f.fetch(0, -1, &[(0, 0)], &[], 0).await;
    assert_eq!((r.error_code, r.session_id), (0, 0));
    assert_eq!(summary(&r), vec![(0, 0, 0)]);
    assert!(broker.fetch_sessions.is_empty());
}

#[tokio::test]
async fn switching_from_names_to_ids_in_a_session_is_refused() {
    let test = support::start();
    let broker = &*test.broker;
    let topic_id = broker
        .topics
        .create(TOPIC, 1, fjord_broker::topic_config::TopicConfig::default())
        .unwrap()
        .id;
    let by_name = Fetcher {
        broker,
        version: 12,
        topic_id,
    };
    let id = by_name.fetch(0, 0, &[(0, 0)], &[], 0).await.session_id;
    assert_ne!(id, 0);
    let by_id = Fetcher {
        broker,
        version: 13,
        topic_id,
    };
    let r = by_id.fetch(id, 1, &[], &[], 0).await;
    assert_eq!(r.error_code, ErrorCode::FetchSessionTopicIdError.code());
}
