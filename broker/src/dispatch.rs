//! The table of APIs we serve and the routing of each decoded request to its handler.
//!
//! One table drives both ApiVersions and dispatch, so what we advertise and what we answer
//! cannot disagree. An API goes into the table only when every version in its range works.

use std::net::SocketAddr;

use bytes::Bytes;
use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::{ApiKey, ApiVersionsResponse, RequestBody, ResponseBody};
use fjord_protocol::DecodeError;

use crate::broker::Broker;
use crate::handlers;

/// One API and the versions we serve of it.
#[derive(Debug, Clone, Copy)]
pub struct SupportedApi {
    /// The API.
    pub key: ApiKey,
    /// Oldest version served.
    pub min: i16,
    /// Newest version served.
    pub max: i16,
}

const fn api(key: ApiKey, min: i16, max: i16) -> SupportedApi {
    SupportedApi { key, min, max }
}

/// Every API we advertise, with its version range.
pub const SUPPORTED_APIS: &[SupportedApi] = &[
    // Produce v0-v2 are advertised, as Kafka 4 does, so old librdkafka keeps compression on;
    // requests of those versions are answered with UNSUPPORTED_VERSION.
    api(ApiKey::Produce, 0, 11),
    api(ApiKey::Fetch, 4, 17),
    api(ApiKey::ListOffsets, 1, 9),
    api(ApiKey::Metadata, 0, 12),
    api(ApiKey::FindCoordinator, 0, 6),
    api(ApiKey::ApiVersions, 0, 4),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::DeleteTopics, 1, 6),
    api(ApiKey::DescribeConfigs, 1, 4),
    // Classic consumer groups.
    api(ApiKey::JoinGroup, 0, 9),
    api(ApiKey::SyncGroup, 0, 5),
    api(ApiKey::Heartbeat, 0, 4),
    api(ApiKey::LeaveGroup, 0, 5),
    api(ApiKey::OffsetCommit, 2, 9),
    api(ApiKey::OffsetFetch, 1, 9),
    api(ApiKey::ListGroups, 0, 5),
    api(ApiKey::DescribeGroups, 0, 5),
    api(ApiKey::DeleteGroups, 0, 2),
    api(ApiKey::OffsetDelete, 0, 0),
    // Idempotent producers.
    api(ApiKey::InitProducerId, 0, 5),
    api(ApiKey::DescribeProducers, 0, 0),
    // Transactions (protocol version 1: EndTxn up to v4).
    api(ApiKey::AddPartitionsToTxn, 0, 4),
    api(ApiKey::AddOffsetsToTxn, 0, 4),
    api(ApiKey::EndTxn, 0, 4),
    api(ApiKey::TxnOffsetCommit, 0, 4),
    api(ApiKey::WriteTxnMarkers, 1, 1),
    api(ApiKey::DescribeTransactions, 0, 0),
    api(ApiKey::ListTransactions, 0, 1),
    // Administration.
    api(ApiKey::CreatePartitions, 0, 3),
    api(ApiKey::DeleteRecords, 0, 2),
    api(ApiKey::AlterConfigs, 0, 2),
    api(ApiKey::IncrementalAlterConfigs, 0, 1),
    api(ApiKey::DescribeCluster, 0, 1),
    api(ApiKey::DescribeTopicPartitions, 0, 0),
    api(ApiKey::OffsetForLeaderEpoch, 2, 4),
];

/// Why a request closes its connection instead of being answered.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// An API key we do not serve.
    #[error("unsupported API key {0}")]
    UnknownApi(i16),
    /// A version outside the range we serve (other than ApiVersions, which is answered).
    #[error("unsupported version {version} of {api:?}")]
    UnsupportedVersion {
        /// The API.
        api: ApiKey,
        /// The version asked for.
        version: i16,
    },
    /// The header or body did not decode.
    #[error("malformed {api:?} v{version} request: {source}")]
    Decode {
        /// The API.
        api: ApiKey,
        /// Its version.
        version: i16,
        /// Where and why decoding failed.
        #[source]
        source: DecodeError,
    },
    /// The request exceeds a limit of [`crate::limits`].
    #[error(transparent)]
    Limit(#[from] crate::limits::LimitError),
}

/// What one request gets back.
#[derive(Debug)]
pub enum Outcome {
    /// A response body to send.
    Respond(ResponseBody),
    /// Nothing (Produce with acks=0).
    NoResponse,
    /// Close the connection without answering (only injected test faults, see
    /// [`crate::test_faults`]).
    Disconnect,
}

impl<T: Into<ResponseBody>> From<T> for Outcome {
    fn from(body: T) -> Self {
        Self::Respond(body.into())
    }
}

/// What a handler knows about the request beyond its body.
#[derive(Debug)]
pub struct RequestContext {
    /// The API.
    pub api: ApiKey,
    /// The request's version.
    pub api_version: i16,
    /// Echoed in the response header.
    pub correlation_id: i32,
    /// The client's self-reported id.
    pub client_id: String,
    /// The client's address.
    pub peer: SocketAddr,
}

/// Checks `(key, version)` against [`SUPPORTED_APIS`]. `Ok(None)` means an ApiVersions request
/// of a version we do not serve, which is answered in v0 rather than closing the connection.
pub fn supported(key: i16, version: i16) -> Result<Option<ApiKey>, DispatchError> {
    let entry = SUPPORTED_APIS
        .iter()
        .find(|a| a.key as i16 == key)
        .ok_or(DispatchError::UnknownApi(key))?;
    if (entry.min..=entry.max).contains(&version) {
        Ok(Some(entry.key))
    } else if entry.key == ApiKey::ApiVersions {
        Ok(None)
    } else {
        Err(DispatchError::UnsupportedVersion {
            api: entry.key,
            version,
        })
    }
}

/// The v0 answer to an ApiVersions request of an unknown version: UNSUPPORTED_VERSION with our
/// API list, so the client can retry with a version we serve (KIP-511).
pub fn unsupported_api_versions(broker: &Broker) -> ApiVersionsResponse {
    let mut response = handlers::api_versions::response(broker);
    response.error_code = ErrorCode::UnsupportedVersion.code();
    response
}

/// Decodes the request body and runs its handler.
pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    body: Bytes,
) -> Result<Outcome, DispatchError> {
    let request = decode(ctx, body)?;
    route(broker, ctx, request).await
}

/// Decodes the request body (apart from [`route`] so the connection can time each).
pub fn decode(ctx: &RequestContext, mut body: Bytes) -> Result<RequestBody, DispatchError> {
    RequestBody::decode(ctx.api, ctx.api_version, &mut body).map_err(|source| {
        DispatchError::Decode {
            api: ctx.api,
            version: ctx.api_version,
            source,
        }
    })
}

/// Checks a decoded request against the broker's limits and runs its handler.
pub async fn route(
    broker: &Broker,
    ctx: &RequestContext,
    request: RequestBody,
) -> Result<Outcome, DispatchError> {
    crate::limits::check_request(&request, broker.config.limits.max_partitions_per_request)?;
    Ok(match request {
        RequestBody::ApiVersions(r) => handlers::api_versions::handle(broker, ctx, &r).into(),
        RequestBody::Metadata(r) => handlers::metadata::handle(broker, ctx, r).await.into(),
        RequestBody::Produce(r) => handlers::produce::handle(broker, ctx, r).await,
        RequestBody::Fetch(r) => handlers::fetch::handle(broker, ctx, r).await.into(),
        RequestBody::ListOffsets(r) => handlers::list_offsets::handle(broker, ctx, r).into(),
        RequestBody::FindCoordinator(r) => {
            handlers::find_coordinator::handle(broker, ctx, r).into()
        }
        RequestBody::CreateTopics(r) => {
            handlers::create_topics::handle(broker, ctx, r).await.into()
        }
        RequestBody::DeleteTopics(r) => {
            handlers::delete_topics::handle(broker, ctx, r).await.into()
        }
        RequestBody::DescribeConfigs(r) => {
            handlers::describe_configs::handle(broker, ctx, r).into()
        }
        RequestBody::JoinGroup(r) => handlers::join_group::handle(broker, ctx, r).await.into(),
        RequestBody::SyncGroup(r) => handlers::sync_group::handle(broker, ctx, r).await.into(),
        RequestBody::Heartbeat(r) => handlers::heartbeat::handle(broker, ctx, r).await.into(),
        RequestBody::LeaveGroup(r) => handlers::leave_group::handle(broker, ctx, r).await.into(),
        RequestBody::OffsetCommit(r) => {
            handlers::offset_commit::handle(broker, ctx, r).await.into()
        }
        RequestBody::OffsetFetch(r) => handlers::offset_fetch::handle(broker, ctx, r).await.into(),
        RequestBody::ListGroups(r) => handlers::list_groups::handle(broker, ctx, r).await.into(),
        RequestBody::DescribeGroups(r) => handlers::describe_groups::handle(broker, ctx, r)
            .await
            .into(),
        RequestBody::DeleteGroups(r) => {
            handlers::delete_groups::handle(broker, ctx, r).await.into()
        }
        RequestBody::OffsetDelete(r) => {
            handlers::offset_delete::handle(broker, ctx, r).await.into()
        }
        RequestBody::InitProducerId(r) => handlers::init_producer_id::handle(broker, ctx, r).into(),
        RequestBody::DescribeProducers(r) => {
            handlers::describe_producers::handle(broker, ctx, r).into()
        }
        RequestBody::AddPartitionsToTxn(r) => {
            handlers::add_partitions_to_txn::handle(broker, ctx, r).into()
        }
        RequestBody::AddOffsetsToTxn(r) => {
            handlers::add_offsets_to_txn::handle(broker, ctx, r).into()
        }
        RequestBody::EndTxn(r) => handlers::end_txn::handle(broker, ctx, r).await.into(),
        RequestBody::TxnOffsetCommit(r) => handlers::txn_offset_commit::handle(broker, ctx, r)
            .await
            .into(),
        RequestBody::WriteTxnMarkers(r) => {
            handlers::write_txn_markers::handle(broker, ctx, r).into()
        }
        RequestBody::DescribeTransactions(r) => {
            handlers::describe_transactions::handle(broker, ctx, r).into()
        }
        RequestBody::ListTransactions(r) => {
            handlers::list_transactions::handle(broker, ctx, &r).into()
        }
        RequestBody::CreatePartitions(r) => handlers::create_partitions::handle(broker, ctx, r)
            .await
            .into(),
        RequestBody::DeleteRecords(r) => handlers::delete_records::handle(broker, ctx, r)
            .await
            .into(),
        RequestBody::AlterConfigs(r) => handlers::alter_configs::handle(broker, ctx, r).into(),
        RequestBody::IncrementalAlterConfigs(r) => {
            handlers::incremental_alter_configs::handle(broker, ctx, r).into()
        }
        RequestBody::DescribeCluster(r) => {
            handlers::describe_cluster::handle(broker, ctx, &r).into()
        }
        RequestBody::DescribeTopicPartitions(r) => {
            handlers::describe_topic_partitions::handle(broker, ctx, &r).into()
        }
        RequestBody::OffsetForLeaderEpoch(r) => {
            handlers::offset_for_leader_epoch::handle(broker, ctx, r).into()
        }
        other => {
            return Err(DispatchError::UnknownApi(other.api_key() as i16));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_within_the_codec() {
        for a in SUPPORTED_APIS {
            let codec = a.key.versions();
            assert!(codec.min <= a.min && a.max <= codec.max, "{:?}", a.key);
        }
    }

    #[test]
    fn unknown_keys_and_versions_close() {
        assert!(matches!(
            supported(9999, 0),
            Err(DispatchError::UnknownApi(9999))
        ));
        assert!(matches!(
            supported(ApiKey::Fetch as i16, 3),
            Err(DispatchError::UnsupportedVersion { .. })
        ));
        assert!(matches!(
            supported(ApiKey::ApiVersions as i16, 99),
            Ok(None)
        ));
        assert!(matches!(
            supported(ApiKey::Metadata as i16, 12),
            Ok(Some(ApiKey::Metadata))
        ));
    }
}
