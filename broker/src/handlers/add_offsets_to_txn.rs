//! AddOffsetsToTxn: a consumer group's offsets may be committed inside the transaction.

use fjord_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::dispatch::RequestContext;
use crate::error::{fenced_code, txn_request_error_code};
use crate::txn::TxnProducer;

/// The first version that knows PRODUCER_FENCED (KIP-588).
const PRODUCER_FENCED_FROM: i16 = 2;

/// Answers AddOffsetsToTxn (v0-v4).
pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let producer = TxnProducer {
        transactional_id: request.transactional_id,
        producer_id: request.producer_id,
        epoch: request.producer_epoch,
    };
    let error_code = match broker
        .transactions
        .add_offsets(&producer, request.group_id, now_ms())
    {
        Ok(()) => 0,
        Err(e) => {
            txn_request_error_code(&e, fenced_code(ctx.api_version, PRODUCER_FENCED_FROM)).code()
        }
    };
    AddOffsetsToTxnResponse {
        error_code,
        ..Default::default()
    }
}
