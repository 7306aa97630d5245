//! EndTxn: commit or abort a producer's transaction.

use fjord_protocol::messages::{EndTxnRequest, EndTxnResponse};

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::dispatch::RequestContext;
use crate::error::{fenced_code, txn_request_error_code};
use crate::txn::TxnProducer;

/// The first version that knows PRODUCER_FENCED (KIP-588).
const PRODUCER_FENCED_FROM: i16 = 2;

/// Answers EndTxn (v0-v4). The producer id and epoch fields of the response are v5+ only
/// (transactions version 2), so they keep their defaults.
pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: EndTxnRequest,
) -> EndTxnResponse {
    let producer = TxnProducer {
        transactional_id: request.transactional_id,
        producer_id: request.producer_id,
        epoch: request.producer_epoch,
    };
    let error_code = match broker
        .transactions
        .end(&broker.groups, &producer, request.committed, now_ms())
        .await
    {
        Ok(()) => 0,
        Err(e) => {
            txn_request_error_code(&e, fenced_code(ctx.api_version, PRODUCER_FENCED_FROM)).code()
        }
    };
    EndTxnResponse {
        error_code,
        ..Default::default()
    }
}
