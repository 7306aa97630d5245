//! FindCoordinator: on a single node this broker coordinates every group and transaction.

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::find_coordinator_response::Coordinator;
use fjord_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;

/// Key types a client may ask about: consumer group, transactional id, share group.
const KNOWN_KEY_TYPES: [i8; 3] = [0, 1, 2];

/// Answers FindCoordinator, with one key (v0-v3) or a batch of keys (v4+).
pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let (host, port) = broker.advertised.clone();
    let error = if KNOWN_KEY_TYPES.contains(&request.key_type) {
        ErrorCode::None
    } else {
        ErrorCode::InvalidRequest
    };
    let found = error == ErrorCode::None;
    if ctx.api_version < 4 {
        return FindCoordinatorResponse {
            error_code: error.code(),
            error_message: (!found).then(|| format!("unknown key type {}", request.key_type)),
            node_id: if found { broker.node_id() } else { -1 },
            host: if found { host } else { String::new() },
            port: if found { i32::from(port) } else { -1 },
            ..Default::default()
        };
    }
    FindCoordinatorResponse {
        coordinators: request
            .coordinator_keys
            .into_iter()
            .map(|key| Coordinator {
                key,
                node_id: if found { broker.node_id() } else { -1 },
                host: if found { host.clone() } else { String::new() },
                port: if found { i32::from(port) } else { -1 },
                error_code: error.code(),
                error_message: None,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
