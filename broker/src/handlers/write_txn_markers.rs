//! WriteTxnMarkers: a transaction coordinator asks for commit or abort markers. Our own
//! coordinator writes markers directly; this serves tools and tests that send the request.

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use fjord_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::dispatch::RequestContext;
use crate::error::marker_error_code;
use crate::producer_state::{TxnMarker, TxnOutcome};

/// Answers WriteTxnMarkers (v1).
pub fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    let now = now_ms();
    let markers = request
        .markers
        .into_iter()
        .map(|m| {
            let marker = TxnMarker {
                producer_id: m.producer_id,
                producer_epoch: m.producer_epoch,
                outcome: if m.transaction_result {
                    TxnOutcome::Commit
                } else {
                    TxnOutcome::Abort
                },
                coordinator_epoch: m.coordinator_epoch,
                timestamp: now,
            };
            let topics = m
                .topics
                .into_iter()
                .map(|t| {
                    let topic = broker.topics.get(&t.name);
                    let partitions = t
                        .partition_indexes
                        .iter()
                        .map(|&partition_index| {
                            let code =
                                match topic.as_ref().and_then(|t| t.partition(partition_index)) {
                                    None => ErrorCode::UnknownTopicOrPartition,
                                    Some(p) => match p.append_marker(&marker, now) {
                                        Ok(_) => ErrorCode::None,
                                        Err(e) => marker_error_code(&e),
                                    },
                                };
                            WritableTxnMarkerPartitionResult {
                                partition_index,
                                error_code: code.code(),
                                ..Default::default()
                            }
                        })
                        .collect();
                    WritableTxnMarkerTopicResult {
                        name: t.name,
                        partitions,
                        ..Default::default()
                    }
                })
                .collect();
            WritableTxnMarkerResult {
                producer_id: m.producer_id,
                topics,
                ..Default::default()
            }
        })
        .collect();
    WriteTxnMarkersResponse {
        markers,
        ..Default::default()
    }
}
