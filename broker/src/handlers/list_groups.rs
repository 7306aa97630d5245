//! ListGroups (v0-v5), with the state filter (v4+) and the type filter (v5+).

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::list_groups_response::ListedGroup;
use fjord_protocol::messages::{ListGroupsRequest, ListGroupsResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::group::admin::CLASSIC_GROUP_TYPE;
use crate::group::types::ListGroups;

/// Lists groups.
pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: ListGroupsRequest,
) -> ListGroupsResponse {
    let filters = ListGroups {
        states: request.states_filter,
        types: request.types_filter,
    };
    match broker.groups.list(filters).await {
        Ok(groups) => ListGroupsResponse {
            groups: groups
                .into_iter()
                .map(|g| ListedGroup {
                    group_id: g.group_id,
                    protocol_type: g.protocol_type,
                    group_state: g.state.to_string(),
                    group_type: CLASSIC_GROUP_TYPE.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
        Err(_) => ListGroupsResponse {
            error_code: ErrorCode::CoordinatorNotAvailable.code(),
            ..Default::default()
        },
    }
}
