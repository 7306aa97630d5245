//! LeaveGroup (v0-v5): one member before v3, a batch (by member or instance id) after.

use fjord_protocol::messages::leave_group_response::MemberResponse;
use fjord_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::group_code;
use crate::group::types::{LeaveGroup, LeavingMember};

/// Removes members from a group.
pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let batch = ctx.api_version >= 3;
    let members = if batch {
        request
            .members
            .into_iter()
            .map(|m| LeavingMember {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
            })
            .collect()
    } else {
        vec![LeavingMember {
            member_id: request.member_id,
            group_instance_id: None,
        }]
    };
    let result = broker
        .groups
        .leave(LeaveGroup {
            group_id: request.group_id,
            members,
        })
        .await;
    if !batch {
        // One member: its outcome is the request's.
        let error = result
            .error
            .or_else(|| result.members.first().and_then(|(_, e)| *e));
        return LeaveGroupResponse {
            error_code: group_code(error),
            ..Default::default()
        };
    }
    LeaveGroupResponse {
        error_code: group_code(result.error),
        members: result
            .members
            .into_iter()
            .map(|(m, error)| MemberResponse {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                error_code: group_code(error),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
