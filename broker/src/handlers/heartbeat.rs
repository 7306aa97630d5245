//! Heartbeat (v0-v4): keeps a member's session alive and tells it about rebalances.

use fjord_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::group_code;
use crate::group::types::{GenerationId, Heartbeat};

/// Records a heartbeat.
pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: HeartbeatRequest,
) -> HeartbeatResponse {
    let heartbeat = Heartbeat {
        group_id: request.group_id,
        generation_id: GenerationId(request.generation_id),
        member_id: request.member_id,
        group_instance_id: request.group_instance_id,
    };
    HeartbeatResponse {
        error_code: group_code(broker.groups.heartbeat(heartbeat).await),
        ..Default::default()
    }
}
