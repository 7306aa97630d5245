//! DescribeCluster: the cluster id, the controller and the brokers clients can reach.
//!
//! This broker is the whole cluster, so it is its own controller. v1 lets the client say which
//! kind of endpoint it meant to reach; a broker answers only requests meant for brokers.

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use fjord_protocol::messages::{DescribeClusterRequest, DescribeClusterResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;

/// Endpoint types of DescribeCluster v1.
mod endpoint {
    /// A broker's client listener.
    pub(super) const BROKERS: i8 = 1;
    /// A controller's listener.
    pub(super) const CONTROLLERS: i8 = 2;
}

/// DescribeCluster v1 added the endpoint type.
const ENDPOINT_TYPE_FROM: i16 = 1;

/// Kafka's value for "authorized operations not requested".
const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

/// The operations Kafka defines on a cluster, as its ACL operation bits: CREATE (5),
/// ALTER (7), DESCRIBE (8), CLUSTER_ACTION (9), DESCRIBE_CONFIGS (10), ALTER_CONFIGS (11) and
/// IDEMPOTENT_WRITE (12). Without authorization every client may do all of them.
const ALL_CLUSTER_OPERATIONS: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

/// Answers DescribeCluster.
pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: &DescribeClusterRequest,
) -> DescribeClusterResponse {
    let endpoint_type = if ctx.api_version >= ENDPOINT_TYPE_FROM {
        endpoint::BROKERS
    } else {
        DescribeClusterResponse::default().endpoint_type
    };
    if ctx.api_version >= ENDPOINT_TYPE_FROM && request.endpoint_type != endpoint::BROKERS {
        let (code, message) = if request.endpoint_type == endpoint::CONTROLLERS {
            (
                ErrorCode::MismatchedEndpointType,
                "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER".to_string(),
            )
        } else {
            (
                ErrorCode::UnsupportedEndpointType,
                format!("Unsupported endpoint type {}", request.endpoint_type),
            )
        };
        return DescribeClusterResponse {
            error_code: code.code(),
            error_message: Some(message),
            endpoint_type,
            ..Default::default()
        };
    }
    let (host, port) = broker.advertised.clone();
    DescribeClusterResponse {
        error_code: ErrorCode::None.code(),
        error_message: None,
        endpoint_type,
        cluster_id: broker.cluster_id().to_string(),
        controller_id: broker.node_id(),
        brokers: vec![DescribeClusterBroker {
            broker_id: broker.node_id(),
            host,
            port: i32::from(port),
            rack: None,
            ..Default::default()
        }],
        cluster_authorized_operations: if request.include_cluster_authorized_operations {
            ALL_CLUSTER_OPERATIONS
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        },
        ..Default::default()
    }
}
