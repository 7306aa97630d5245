//! ListTransactions: transactional ids, filtered by state, producer id and (v1+) how long
//! their transaction has been open.

use fjord_protocol::messages::list_transactions_response::TransactionState;
use fjord_protocol::messages::{ListTransactionsRequest, ListTransactionsResponse};

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::dispatch::RequestContext;
use crate::txn::state::TxnState;

/// Every state name a filter may use.
const STATES: [TxnState; 6] = [
    TxnState::Empty,
    TxnState::Ongoing,
    TxnState::PrepareCommit,
    TxnState::PrepareAbort,
    TxnState::CompleteCommit,
    TxnState::CompleteAbort,
];

/// Answers ListTransactions (v0-v1).
pub fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: &ListTransactionsRequest,
) -> ListTransactionsResponse {
    let unknown_state_filters: Vec<String> = request
        .state_filters
        .iter()
        .filter(|f| !STATES.iter().any(|s| s.name() == f.as_str()))
        .cloned()
        .collect();
    let now = now_ms();
    let transaction_states = broker
        .transactions
        .list()
        .into_iter()
        .filter(|t| {
            let m = &t.metadata;
            (request.state_filters.is_empty()
                || request.state_filters.iter().any(|f| f == m.state.name()))
                && (request.producer_id_filters.is_empty()
                    || request.producer_id_filters.contains(&m.producer_id))
                // v1: only transactions open longer than the duration (negative: no filter).
                && (request.duration_filter < 0
                    || (m.txn_start_ms >= 0
                        && now.saturating_sub(m.txn_start_ms) > request.duration_filter))
        })
        .map(|t| TransactionState {
            transactional_id: t.transactional_id,
            producer_id: t.metadata.producer_id,
            transaction_state: t.metadata.state.name().to_string(),
            ..Default::default()
        })
        .collect();
    ListTransactionsResponse {
        unknown_state_filters,
        transaction_states,
        ..Default::default()
    }
}
