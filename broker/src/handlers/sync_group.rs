//! SyncGroup (v0-v5): the leader hands in the assignment; every member gets its share.

use fjord_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::group_code;
use crate::group::types::{GenerationId, SyncGroup};

/// Syncs a member; the reply may wait for the leader's assignment.
pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: SyncGroupRequest,
) -> SyncGroupResponse {
    let sync = SyncGroup {
        group_id: request.group_id,
        generation_id: GenerationId(request.generation_id),
        member_id: request.member_id,
        group_instance_id: request.group_instance_id,
        protocol_type: request.protocol_type,
        protocol_name: request.protocol_name,
        assignments: request
            .assignments
            .into_iter()
            .map(|a| (a.member_id, a.assignment))
            .collect(),
    };
    let result = broker.groups.sync(sync).await;
    SyncGroupResponse {
        error_code: group_code(result.error),
        protocol_type: result.protocol_type,
        protocol_name: result.protocol_name,
        assignment: result.assignment,
        ..Default::default()
    }
}
