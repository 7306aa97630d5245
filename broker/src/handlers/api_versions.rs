//! ApiVersions: the APIs and version ranges we serve, from the one table in `dispatch`.

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::api_versions_response::ApiVersion;
use fjord_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use crate::broker::Broker;
use crate::dispatch::{RequestContext, SUPPORTED_APIS};

/// Answers ApiVersions.
pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: &ApiVersionsRequest,
) -> ApiVersionsResponse {
    if ctx.api_version >= 3 && !valid_software_field(&request.client_software_name) {
        let mut response = response(broker);
        response.error_code = ErrorCode::InvalidRequest.code();
        return response;
    }
    response(broker)
}

/// KIP-511: client software name and version must be non-empty and made of
/// alphanumerics, `.`, `-`.
fn valid_software_field(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Our API list, with no error.
pub fn response(_broker: &Broker) -> ApiVersionsResponse {
    ApiVersionsResponse {
        error_code: ErrorCode::None.code(),
        api_keys: SUPPORTED_APIS
            .iter()
            .map(|a| ApiVersion {
                api_key: a.key as i16,
                min_version: a.min,
                max_version: a.max,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_names_follow_kip_511() {
        assert!(valid_software_field("librdkafka"));
        assert!(valid_software_field("apache-kafka-java"));
        assert!(valid_software_field("2.3.0"));
        assert!(!valid_software_field(""));
        assert!(!valid_software_field("has space"));
    }
}
