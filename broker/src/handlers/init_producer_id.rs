//! InitProducerId: an id and epoch for an idempotent or transactional producer.

use fjord_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};
use tracing::warn;

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::dispatch::RequestContext;
use crate::error::{fenced_code, init_producer_id_error_code};
use crate::txn::InitProducer;

/// The first version that knows PRODUCER_FENCED (KIP-588).
const PRODUCER_FENCED_FROM: i16 = 4;

/// Answers InitProducerId (v0-v5).
pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let init = InitProducer {
        transactional_id: request.transactional_id,
        transaction_timeout_ms: request.transaction_timeout_ms,
        // The fields default to -1 before v3.
        current: (request.producer_id >= 0)
            .then_some((request.producer_id, request.producer_epoch)),
    };
    match broker.transactions.init_producer_id(&init, now_ms()) {
        Ok(given) => InitProducerIdResponse {
            producer_id: given.producer_id,
            producer_epoch: given.epoch,
            ..Default::default()
        },
        Err(e) => {
            warn!(error = %e, transactional_id = ?init.transactional_id, "InitProducerId refused");
            let fenced = fenced_code(ctx.api_version, PRODUCER_FENCED_FROM);
            InitProducerIdResponse {
                error_code: init_producer_id_error_code(&e, fenced).code(),
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            }
        }
    }
}
