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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testing::{ctx, TestBroker};
    use fjord_protocol::messages::ApiKey;

    fn describe(t: &TestBroker, ids: &[&str]) -> Vec<TransactionState> {
        let request = DescribeTransactionsRequest {
            transactional_ids: ids.iter().map(|s| (*s).to_string()).collect(),
            ..Default::default()
        };
        handle(&t.broker, &ctx(ApiKey::DescribeTransactions, 0), request).transaction_states
    }

    #[tokio::test]
    async fn an_open_transaction_is_ongoing_with_its_partitions() {
        let t = TestBroker::with_topic("out", 3);
        t.broker
            .topics
            .create("other", 1, crate::topic_config::TopicConfig::default())
            .unwrap();
        let producer = t.init_producer(Some("tx"));
        let before = describe(&t, &["tx"]).remove(0);
        assert_eq!(
            (before.error_code, before.transaction_state.as_str()),
            (0, "Empty")
        );
        assert_eq!(before.transaction_start_time_ms, -1);
        assert!(before.topics.is_empty());

        assert_eq!(t.add_partitions(&producer, "out", &[2, 0]), vec![0, 0]);
        assert_eq!(t.add_partitions(&producer, "other", &[0]), vec![0]);
        t.produce(&producer, "out", 2, 0, 1).await;
        let open = describe(&t, &["tx"]).remove(0);
        assert_eq!(open.error_code, 0);
        assert_eq!(open.transactional_id, "tx");
        assert_eq!(open.transaction_state, "Ongoing");
        assert_eq!(
            (open.producer_id, open.producer_epoch),
            (producer.producer_id, producer.epoch)
        );
        assert_eq!(open.transaction_timeout_ms, 60_000);
        assert!(open.transaction_start_time_ms > 0);
        let topics: Vec<(&str, &[i32])> = open
            .topics
            .iter()
            .map(|t| (t.topic.as_str(), t.partitions.as_slice()))
            .collect();
        assert_eq!(topics, vec![("other", &[0][..]), ("out", &[0, 2][..])]);

        t.end_txn(&producer, false).await;
        let ended = describe(&t, &["tx"]).remove(0);
        assert_eq!(ended.transaction_state, "CompleteAbort");
        assert!(
            ended.topics.is_empty(),
            "a finished transaction has no partitions"
        );
        t.stop().await;
    }

    #[tokio::test]
    async fn an_unknown_id_is_not_found() {
        let t = TestBroker::with_topic("out", 1);
        let states = describe(&t, &["nobody"]);
        assert_eq!(
            states,
            vec![TransactionState {
                error_code: ErrorCode::TransactionalIdNotFound.code(),
                transactional_id: "nobody".into(),
                producer_id: -1,
                producer_epoch: -1,
                transaction_start_time_ms: -1,
                ..Default::default()
            }]
        );
        t.stop().await;
    }
}
