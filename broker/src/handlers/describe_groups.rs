//! DescribeGroups (v0-v5).

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use fjord_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::group_code;

/// What `authorized_operations` says when the client did not ask (Kafka's "omitted").
const OPERATIONS_OMITTED: i32 = i32::MIN;
/// Without ACLs every client may read, describe and delete a group (bits of Kafka's
/// `AclOperation` codes 3, 8 and 6).
const ALL_GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

/// Describes groups.
pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let operations = if request.include_authorized_operations {
        ALL_GROUP_OPERATIONS
    } else {
        OPERATIONS_OMITTED
    };
    let groups = match broker.groups.describe(request.groups.clone()).await {
        Ok(groups) => groups
            .into_iter()
            .map(|g| DescribedGroup {
                error_code: group_code(g.error),
                group_id: g.group_id,
                group_state: g.state.to_string(),
                protocol_type: g.protocol_type,
                protocol_data: g.protocol,
                members: g
                    .members
                    .into_iter()
                    .map(|m| DescribedGroupMember {
                        member_id: m.member_id,
                        group_instance_id: m.group_instance_id,
                        client_id: m.client_id,
                        client_host: m.client_host,
                        member_metadata: m.metadata,
                        member_assignment: m.assignment,
                        ..Default::default()
                    })
                    .collect(),
                authorized_operations: operations,
                ..Default::default()
            })
            .collect(),
        Err(_) => request
            .groups
            .into_iter()
            .map(|group_id| DescribedGroup {
                error_code: ErrorCode::CoordinatorNotAvailable.code(),
                group_id,
                authorized_operations: operations,
                ..Default::default()
            })
            .collect(),
    };
    DescribeGroupsResponse {
        groups,
        ..Default::default()
    }
}
