//! AddPartitionsToTxn: partitions join a producer's transaction. v0-v3 carry one
//! transaction; v4 carries a batch of them, each possibly `verify_only` (KIP-890).

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use fjord_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use fjord_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::dispatch::RequestContext;
use crate::error::{fenced_code, txn_request_error_code};
use crate::topic_name::is_internal_topic;
use crate::txn::TxnProducer;

/// The first version that knows PRODUCER_FENCED (KIP-588).
const PRODUCER_FENCED_FROM: i16 = 2;
/// The first version with batched transactions.
const BATCHED_FROM: i16 = 4;

/// Answers AddPartitionsToTxn (v0-v4).
pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let fenced = fenced_code(ctx.api_version, PRODUCER_FENCED_FROM);
    if ctx.api_version < BATCHED_FROM {
        let producer = TxnProducer {
            transactional_id: request.v3_and_below_transactional_id,
            producer_id: request.v3_and_below_producer_id,
            epoch: request.v3_and_below_producer_epoch,
        };
        return AddPartitionsToTxnResponse {
            results_by_topic_v3_and_below: add(
                broker,
                &producer,
                &request.v3_and_below_topics,
                false,
                fenced,
            ),
            ..Default::default()
        };
    }
    let results_by_transaction = request
        .transactions
        .into_iter()
        .map(|t| {
            let producer = TxnProducer {
                transactional_id: t.transactional_id,
                producer_id: t.producer_id,
                epoch: t.producer_epoch,
            };
            let topic_results = add(broker, &producer, &t.topics, t.verify_only, fenced);
            AddPartitionsToTxnResult {
                transactional_id: producer.transactional_id,
                topic_results,
                ..Default::default()
            }
        })
        .collect();
    AddPartitionsToTxnResponse {
        results_by_transaction,
        ..Default::default()
    }
}

/// Adds (or verifies) one transaction's partitions; every partition gets a code.
fn add(
    broker: &Broker,
    producer: &TxnProducer,
    topics: &[AddPartitionsToTxnTopic],
    verify_only: bool,
    fenced: ErrorCode,
) -> Vec<AddPartitionsToTxnTopicResult> {
    let partitions: Vec<(String, i32)> = topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.clone(), *p)))
        .collect();
    let unknown = |(topic, index): &(String, i32)| {
        is_internal_topic(topic)
            || broker
                .topics
                .get(topic)
                .and_then(|t| t.partition(*index))
                .is_none()
    };
    let codes: Vec<ErrorCode> = if partitions.iter().any(unknown) {
        // Kafka adds nothing when any partition is unknown, and says which were not tried.
        partitions
            .iter()
            .map(|p| {
                if unknown(p) {
                    ErrorCode::UnknownTopicOrPartition
                } else {
                    ErrorCode::OperationNotAttempted
                }
            })
            .collect()
    } else if verify_only {
        match broker.transactions.verify_partitions(producer, &partitions) {
            Ok(found) => found
                .into_iter()
                .map(|f| {
                    if f {
                        ErrorCode::None
                    } else {
                        ErrorCode::InvalidTxnState
                    }
                })
                .collect(),
            Err(e) => vec![txn_request_error_code(&e, fenced); partitions.len()],
        }
    } else {
        let code = match broker
            .transactions
            .add_partitions(producer, partitions.clone(), now_ms())
        {
            Ok(()) => ErrorCode::None,
            Err(e) => txn_request_error_code(&e, fenced),
        };
        vec![code; partitions.len()]
    };
    let mut codes = codes.into_iter();
    topics
        .iter()
        .map(|t| AddPartitionsToTxnTopicResult {
            name: t.name.clone(),
            results_by_partition: t
                .partitions
                .iter()
                .map(|&partition_index| AddPartitionsToTxnPartitionResult {
                    partition_index,
                    partition_error_code: codes.next().unwrap_or(ErrorCode::None).code(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testing::{ctx, TestBroker};
    use crate::txn::state::TxnState;
    use fjord_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTransaction;
    use fjord_protocol::messages::ApiKey;

    fn verify(
        producer: &TxnProducer,
        topic: &str,
        partitions: &[i32],
    ) -> AddPartitionsToTxnTransaction {
        AddPartitionsToTxnTransaction {
            transactional_id: producer.transactional_id.clone(),
            producer_id: producer.producer_id,
            producer_epoch: producer.epoch,
            verify_only: true,
            topics: vec![AddPartitionsToTxnTopic {
                name: topic.into(),
                partitions: partitions.to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// One partition's result: topic, partition, code.
    type PartitionCode = (String, i32, ErrorCode);

    /// Each transaction's id with its partitions' results.
    fn codes(response: &AddPartitionsToTxnResponse) -> Vec<(String, Vec<PartitionCode>)> {
        response
            .results_by_transaction
            .iter()
            .map(|t| {
                let codes = t
                    .topic_results
                    .iter()
                    .flat_map(|topic| {
                        topic.results_by_partition.iter().map(|p| {
                            (
                                topic.name.clone(),
                                p.partition_index,
                                ErrorCode::from(p.partition_error_code),
                            )
                        })
                    })
                    .collect();
                (t.transactional_id.clone(), codes)
            })
            .collect()
    }

    #[tokio::test]
    async fn batched_verify_only_reports_partitions_outside_the_transaction_and_adds_none() {
        let t = TestBroker::with_topic("out", 3);
        let open = t.init_producer(Some("open"));
        assert_eq!(t.add_partitions(&open, "out", &[0]), vec![0]);
        let idle = t.init_producer(Some("idle"));
        let stale = TxnProducer {
            epoch: open.epoch + 1,
            ..open.clone()
        };
        let request = AddPartitionsToTxnRequest {
            transactions: vec![
                verify(&open, "out", &[0, 1]),
                verify(&idle, "out", &[2]),
                verify(&stale, "out", &[0]),
                verify(&open, "missing", &[0]),
            ],
            ..Default::default()
        };
        let response = handle(&t.broker, &ctx(ApiKey::AddPartitionsToTxn, 4), request);
        let out = |p, code| ("out".to_string(), p, code);
        assert_eq!(
            codes(&response),
            vec![
                (
                    "open".to_string(),
                    vec![out(0, ErrorCode::None), out(1, ErrorCode::InvalidTxnState)]
                ),
                ("idle".to_string(), vec![out(2, ErrorCode::InvalidTxnState)]),
                ("open".to_string(), vec![out(0, ErrorCode::ProducerFenced)]),
                (
                    "open".to_string(),
                    vec![("missing".to_string(), 0, ErrorCode::UnknownTopicOrPartition)]
                ),
            ]
        );
        // Verification changed nothing: the open transaction still holds only partition 0,
        // and the idle id did not start one.
        let open_now = t.broker.transactions.describe("open").unwrap();
        assert_eq!(
            open_now.partitions.into_iter().collect::<Vec<_>>(),
            vec![("out".to_string(), 0)]
        );
        assert_eq!(
            open_now.epoch, open.epoch,
            "not fenced by the stale request"
        );
        let idle_now = t.broker.transactions.describe("idle").unwrap();
        assert_eq!(idle_now.state, TxnState::Empty);
        assert!(idle_now.partitions.is_empty());
        t.stop().await;
    }
}
