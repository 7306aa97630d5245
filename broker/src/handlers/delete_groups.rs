//! DeleteGroups (v0-v2): removes empty groups and their offsets.

use fjord_protocol::messages::delete_groups_response::DeletableGroupResult;
use fjord_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::group_code;

/// Deletes groups.
pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let results = broker.groups.delete(request.groups_names).await;
    DeleteGroupsResponse {
        results: results
            .into_iter()
            .map(|(group_id, error)| DeletableGroupResult {
                group_id,
                error_code: group_code(error),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
