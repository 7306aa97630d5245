//! Handler tests' fixtures: a broker on a temporary directory, and the requests a
//! transactional client sends before the one under test, sent through their own handlers.

use std::net::SocketAddr;

use bytes::Bytes;
use fjord_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use fjord_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use fjord_protocol::messages::{
    AddPartitionsToTxnRequest, ApiKey, EndTxnRequest, InitProducerIdRequest, ProduceRequest,
    ResponseBody,
};
use fjord_protocol::records::RecordBatchBuilder;
use tempfile::TempDir;

use crate::broker::Broker;
use crate::config::Config;
use crate::dispatch::{Outcome, RequestContext};
use crate::topic_config::TopicConfig;
use crate::txn::TxnProducer;

/// Timestamp of every record the fixtures write.
pub(crate) const RECORD_TIMESTAMP: i64 = 1_700_000_000_000;

/// A broker and the directory it lives in (removed on drop).
#[derive(Debug)]
pub(crate) struct TestBroker {
    /// The broker.
    pub(crate) broker: Broker,
    /// Kept so the directory outlives the broker.
    _dir: TempDir,
}

impl TestBroker {
    /// Opens a broker with test defaults and a topic `topic` of `partitions` partitions. Must
    /// run inside a runtime (the group coordinator spawns its task).
    pub(crate) fn with_topic(topic: &str, partitions: i32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let broker =
            Broker::open(Config::for_tests(dir.path()), ("127.0.0.1".into(), 9092)).unwrap();
        broker
            .topics
            .create(topic, partitions, TopicConfig::default())
            .unwrap();
        Self { broker, _dir: dir }
    }

    /// Stops the group coordinator's task.
    pub(crate) async fn stop(self) {
        self.broker.groups.stop().await;
    }

    /// InitProducerId (v4); `None` for an idempotent-only producer.
    pub(crate) fn init_producer(&self, transactional_id: Option<&str>) -> TxnProducer {
        let request = InitProducerIdRequest {
            transactional_id: transactional_id.map(str::to_string),
            transaction_timeout_ms: 60_000,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        };
        let response =
            super::init_producer_id::handle(&self.broker, &ctx(ApiKey::InitProducerId, 4), request);
        assert_eq!(response.error_code, 0, "{response:?}");
        TxnProducer {
            transactional_id: transactional_id.unwrap_or_default().to_string(),
            producer_id: response.producer_id,
            epoch: response.producer_epoch,
        }
    }

    /// AddPartitionsToTxn (v3, as a client sends it); returns every partition's error code.
    pub(crate) fn add_partitions(
        &self,
        producer: &TxnProducer,
        topic: &str,
        partitions: &[i32],
    ) -> Vec<i16> {
        let request = AddPartitionsToTxnRequest {
            v3_and_below_transactional_id: producer.transactional_id.clone(),
            v3_and_below_producer_id: producer.producer_id,
            v3_and_below_producer_epoch: producer.epoch,
            v3_and_below_topics: vec![AddPartitionsToTxnTopic {
                name: topic.into(),
                partitions: partitions.to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let response = super::add_partitions_to_txn::handle(
            &self.broker,
            &ctx(ApiKey::AddPartitionsToTxn, 3),
            request,
        );
        response
            .results_by_topic_v3_and_below
            .iter()
            .flat_map(|t| t.results_by_partition.iter())
            .map(|p| p.partition_error_code)
            .collect()
    }

    /// Produces `count` records of `producer` from `sequence` to one partition (v9,
    /// acks=all); returns the base offset.
    pub(crate) async fn produce(
        &self,
        producer: &TxnProducer,
        topic: &str,
        partition: i32,
        sequence: i32,
        count: i32,
    ) -> i64 {
        let mut builder = RecordBatchBuilder::new()
            .producer(producer.producer_id, producer.epoch, sequence)
            .transactional(!producer.transactional_id.is_empty());
        for i in 0..count {
            builder.push(
                RECORD_TIMESTAMP,
                None,
                Some(Bytes::from(format!("v{i}"))),
                Vec::new(),
            );
        }
        let request = ProduceRequest {
            acks: -1,
            timeout_ms: 1_000,
            topic_data: vec![TopicProduceData {
                name: topic.into(),
                partition_data: vec![PartitionProduceData {
                    index: partition,
                    records: Some(builder.build().unwrap()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        match super::produce::handle(&self.broker, &ctx(ApiKey::Produce, 9), request).await {
            Outcome::Respond(ResponseBody::Produce(r)) => {
                let p = &r.responses[0].partition_responses[0];
                assert_eq!(p.error_code, 0, "{r:?}");
                p.base_offset
            }
            other => panic!("not a produce response: {other:?}"),
        }
    }

    /// EndTxn (v3).
    pub(crate) async fn end_txn(&self, producer: &TxnProducer, commit: bool) {
        let request = EndTxnRequest {
            transactional_id: producer.transactional_id.clone(),
            producer_id: producer.producer_id,
            producer_epoch: producer.epoch,
            committed: commit,
            ..Default::default()
        };
        let response = super::end_txn::handle(&self.broker, &ctx(ApiKey::EndTxn, 3), request).await;
        assert_eq!(response.error_code, 0, "{response:?}");
    }
}

/// The context of a request from a test client.
pub(crate) fn ctx(api: ApiKey, version: i16) -> RequestContext {
    RequestContext {
        api,
        api_version: version,
        correlation_id: 7,
        client_id: "fjord-test".into(),
        peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
    }
}
