//! DescribeProducers: the idempotent and transactional producers a partition knows.

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use fjord_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;

/// Answers DescribeProducers (v0).
pub fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = broker.topics.get(&t.name);
            let partitions = t
                .partition_indexes
                .into_iter()
                .map(
                    |index| match topic.as_ref().and_then(|t| t.partition(index)) {
                        None => PartitionResponse {
                            partition_index: index,
                            error_code: ErrorCode::UnknownTopicOrPartition.code(),
                            ..Default::default()
                        },
                        Some(partition) => {
                            let mut active_producers: Vec<ProducerState> = partition
                                .producers()
                                .into_iter()
                                .map(|(id, e)| ProducerState {
                                    producer_id: id,
                                    producer_epoch: i32::from(e.epoch),
                                    last_sequence: e.last_sequence(),
                                    last_timestamp: e.last_timestamp,
                                    coordinator_epoch: e.coordinator_epoch,
                                    current_txn_start_offset: e
                                        .current_txn_first_offset
                                        .unwrap_or(-1),
                                    ..Default::default()
                                })
                                .collect();
                            active_producers.sort_by_key(|p| p.producer_id);
                            PartitionResponse {
                                partition_index: index,
                                active_producers,
                                ..Default::default()
                            }
                        }
                    },
                )
                .collect();
            TopicResponse {
                name: t.name,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    DescribeProducersResponse {
        topics,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testing::{ctx, TestBroker, RECORD_TIMESTAMP};
    use fjord_protocol::messages::describe_producers_request::TopicRequest;
    use fjord_protocol::messages::ApiKey;

    fn describe(t: &TestBroker, topic: &str, partitions: &[i32]) -> Vec<PartitionResponse> {
        let request = DescribeProducersRequest {
            topics: vec![TopicRequest {
                name: topic.into(),
                partition_indexes: partitions.to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut response = handle(&t.broker, &ctx(ApiKey::DescribeProducers, 0), request);
        response.topics.remove(0).partitions
    }

    #[tokio::test]
    async fn an_idempotent_producer_is_listed_with_its_epoch_and_last_sequence() {
        let t = TestBroker::with_topic("idem", 2);
        let producer = t.init_producer(None);
        t.produce(&producer, "idem", 0, 0, 3).await;
        t.produce(&producer, "idem", 0, 3, 2).await;
        let partitions = describe(&t, "idem", &[0, 1, 7]);
        assert_eq!(partitions.len(), 3);
        assert_eq!(partitions[0].error_code, 0);
        assert_eq!(
            partitions[0].active_producers,
            vec![ProducerState {
                producer_id: producer.producer_id,
                producer_epoch: i32::from(producer.epoch),
                last_sequence: 4,
                last_timestamp: RECORD_TIMESTAMP,
                coordinator_epoch: -1,
                current_txn_start_offset: -1,
                ..Default::default()
            }]
        );
        assert_eq!(
            (
                partitions[1].error_code,
                partitions[1].active_producers.len()
            ),
            (0, 0),
            "nothing was produced to partition 1"
        );
        assert_eq!(
            partitions[2].error_code,
            ErrorCode::UnknownTopicOrPartition.code()
        );
        t.stop().await;
    }

    #[tokio::test]
    async fn an_open_transaction_shows_where_it_started() {
        let t = TestBroker::with_topic("txn", 1);
        let plain = t.init_producer(None);
        t.produce(&plain, "txn", 0, 0, 2).await;
        let producer = t.init_producer(Some("tx"));
        assert_eq!(t.add_partitions(&producer, "txn", &[0]), vec![0]);
        t.produce(&producer, "txn", 0, 0, 1).await;
        let open = describe(&t, "txn", &[0]).remove(0);
        let state = open
            .active_producers
            .iter()
            .find(|p| p.producer_id == producer.producer_id)
            .unwrap();
        assert_eq!(
            (state.last_sequence, state.current_txn_start_offset),
            (0, 2)
        );
        t.end_txn(&producer, true).await;
        let closed = describe(&t, "txn", &[0]).remove(0);
        let state = closed
            .active_producers
            .iter()
            .find(|p| p.producer_id == producer.producer_id)
            .unwrap();
        assert_eq!(
            (state.current_txn_start_offset, state.coordinator_epoch),
            (-1, 0),
            "the commit marker closed it"
        );
        t.stop().await;
    }
}
