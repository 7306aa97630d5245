//! TxnOffsetCommit: consumer offsets committed inside a transaction, visible to the group
//! only when the transaction commits.

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use fjord_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::dispatch::RequestContext;
use crate::error::{fenced_code, group_error_code, txn_request_error_code};
use crate::group::types::{GenerationId, OffsetCommit};
use crate::txn::state::PendingOffset;
use crate::txn::TxnProducer;

/// The first version that knows PRODUCER_FENCED (KIP-588).
const PRODUCER_FENCED_FROM: i16 = 3;

/// Answers TxnOffsetCommit (v0-v4).
pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let producer = TxnProducer {
        transactional_id: request.transactional_id,
        producer_id: request.producer_id,
        epoch: request.producer_epoch,
    };
    let known = |topic: &str, partition: i32| {
        broker
            .topics
            .get(topic)
            .and_then(|t| t.partition(partition))
            .is_some()
    };
    let offsets: Vec<PendingOffset> = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .filter(|p| known(&t.name, p.partition_index))
                .map(|p| PendingOffset {
                    group_id: request.group_id.clone(),
                    partition: (t.name.clone(), p.partition_index),
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata.clone().unwrap_or_default(),
                })
        })
        .collect();
    // The member is checked now, when the offsets join the transaction (KIP-447): a zombie
    // consumer of an old generation is refused here, and the commit later writes them as is.
    // Before v3 the request carries no member, and nothing is checked.
    let member = OffsetCommit {
        group_id: request.group_id.clone(),
        generation_id: GenerationId(request.generation_id),
        member_id: request.member_id.clone(),
        group_instance_id: request.group_instance_id.clone(),
        offsets: Vec::new(),
    };
    let code = match broker.groups.check_txn_member(member).await {
        Some(e) => group_error_code(e),
        None => match broker
            .transactions
            .commit_offsets(&producer, offsets, now_ms())
        {
            Ok(()) => ErrorCode::None,
            Err(e) => {
                txn_request_error_code(&e, fenced_code(ctx.api_version, PRODUCER_FENCED_FROM))
            }
        },
    };
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| TxnOffsetCommitResponsePartition {
                    partition_index: p.partition_index,
                    error_code: if known(&t.name, p.partition_index) {
                        code.code()
                    } else {
                        ErrorCode::UnknownTopicOrPartition.code()
                    },
                    ..Default::default()
                })
                .collect();
            TxnOffsetCommitResponseTopic {
                name: t.name,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    TxnOffsetCommitResponse {
        topics,
        ..Default::default()
    }
}
