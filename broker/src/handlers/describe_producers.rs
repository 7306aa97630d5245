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
