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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testing::{ctx, TestBroker};
    use fjord_protocol::messages::ApiKey;

    /// The listed ids and states, sorted by id, and the unknown filters.
    fn list(
        t: &TestBroker,
        states: &[&str],
        producer_ids: &[i64],
    ) -> (Vec<(String, String)>, Vec<String>) {
        let request = ListTransactionsRequest {
            state_filters: states.iter().map(|s| (*s).to_string()).collect(),
            producer_id_filters: producer_ids.to_vec(),
            ..Default::default()
        };
        let response = handle(&t.broker, &ctx(ApiKey::ListTransactions, 1), &request);
        assert_eq!(response.error_code, 0);
        let mut listed: Vec<(String, String)> = response
            .transaction_states
            .into_iter()
            .map(|s| (s.transactional_id, s.transaction_state))
            .collect();
        listed.sort();
        (listed, response.unknown_state_filters)
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(id, state)| ((*id).to_string(), (*state).to_string()))
            .collect()
    }

    #[tokio::test]
    async fn transactions_are_filtered_by_state_and_producer_id() {
        let t = TestBroker::with_topic("out", 1);
        let open = t.init_producer(Some("open"));
        t.add_partitions(&open, "out", &[0]);
        let _idle = t.init_producer(Some("idle"));
        let done = t.init_producer(Some("done"));
        t.add_partitions(&done, "out", &[0]);
        t.end_txn(&done, true).await;

        let (all, unknown) = list(&t, &[], &[]);
        assert_eq!(
            all,
            pairs(&[
                ("done", "CompleteCommit"),
                ("idle", "Empty"),
                ("open", "Ongoing")
            ])
        );
        assert!(unknown.is_empty());
        assert_eq!(list(&t, &["Ongoing"], &[]).0, pairs(&[("open", "Ongoing")]));
        assert_eq!(
            list(&t, &["Empty", "CompleteCommit"], &[]).0,
            pairs(&[("done", "CompleteCommit"), ("idle", "Empty")])
        );
        assert_eq!(
            list(&t, &[], &[done.producer_id]).0,
            pairs(&[("done", "CompleteCommit")])
        );
        assert!(
            list(&t, &["Ongoing"], &[done.producer_id]).0.is_empty(),
            "both filters apply"
        );
        let (none, unknown) = list(&t, &["Bogus", "PrepareAbort"], &[]);
        assert!(none.is_empty());
        assert_eq!(unknown, vec!["Bogus".to_string()]);
        t.stop().await;
    }
}
