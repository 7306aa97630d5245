//! JoinGroup (v0-v9): converts to the coordinator's request and back.

use fjord_protocol::messages::join_group_response::JoinGroupResponseMember;
use fjord_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::group_code;
use crate::group::types::{JoinGroup, Protocol};

/// Joins (or rejoins) a member; the reply may wait for the whole join phase.
pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: JoinGroupRequest,
) -> JoinGroupResponse {
    let version = ctx.api_version;
    let join = JoinGroup {
        // v0 has no rebalance timeout: the session timeout serves for both.
        rebalance_timeout_ms: if version == 0 {
            request.session_timeout_ms
        } else {
            request.rebalance_timeout_ms
        },
        session_timeout_ms: request.session_timeout_ms,
        require_known_member_id: version >= 4 && request.group_instance_id.is_none(),
        supports_skip_assignment: version >= 9,
        group_id: request.group_id,
        member_id: request.member_id,
        group_instance_id: request.group_instance_id,
        protocol_type: request.protocol_type,
        protocols: request
            .protocols
            .into_iter()
            .map(|p| Protocol {
                name: p.name,
                metadata: p.metadata,
            })
            .collect(),
        client_id: ctx.client_id.clone(),
        client_host: format!("/{}", ctx.peer.ip()),
        fresh_member_suffix: uuid::Uuid::new_v4().to_string(),
    };
    let result = broker.groups.join(join).await;
    JoinGroupResponse {
        error_code: group_code(result.error),
        generation_id: result.generation_id.0,
        protocol_type: result.protocol_type,
        // Before v7 the protocol name is not nullable.
        protocol_name: if version < 7 {
            Some(result.protocol_name.unwrap_or_default())
        } else {
            result.protocol_name
        },
        leader: result.leader,
        skip_assignment: result.skip_assignment,
        member_id: result.member_id,
        members: result
            .members
            .into_iter()
            .map(|m| JoinGroupResponseMember {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                metadata: m.metadata,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
