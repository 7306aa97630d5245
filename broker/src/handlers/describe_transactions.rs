//! DescribeTransactions: the coordinator's view of transactional ids.

use std::collections::BTreeMap;

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use fjord_protocol::messages::{DescribeTransactionsRequest, DescribeTransactionsResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;

/// Answers DescribeTransactions (v0).
pub fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let transaction_states = request
        .transactional_ids
        .into_iter()
        .map(|id| match broker.transactions.describe(&id) {
            None => TransactionState {
                error_code: ErrorCode::TransactionalIdNotFound.code(),
                transactional_id: id,
                producer_id: -1,
                producer_epoch: -1,
                transaction_start_time_ms: -1,
                ..Default::default()
            },
            Some(m) => {
                let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                for (topic, partition) in &m.partitions {
                    by_topic.entry(topic.clone()).or_default().push(*partition);
                }
                TransactionState {
                    transactional_id: id,
                    transaction_state: m.state.name().to_string(),
                    transaction_timeout_ms: m.timeout_ms,
                    transaction_start_time_ms: m.txn_start_ms,
                    producer_id: m.producer_id,
                    producer_epoch: m.epoch,
                    topics: by_topic
                        .into_iter()
                        .map(|(topic, partitions)| TopicData {
                            topic,
                            partitions,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }
            }
        })
        .collect();
    DescribeTransactionsResponse {
        transaction_states,
        ..Default::default()
    }
}
