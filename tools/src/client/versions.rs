//! ApiVersions negotiation: for each API, the highest version both this tool and the broker
//! speak.
//!
//! This tool's side is a table of the versions its request builders handle (not simply the
//! codec's range: a builder must fill each version's fields correctly). The broker's side comes
//! from its ApiVersions response.

use std::collections::HashMap;

use fjord_protocol::messages::api_versions_response::ApiVersion;
use fjord_protocol::messages::ApiKey;

/// The versions this tool's request builders handle, per API.
const CLIENT_APIS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 11),
    (ApiKey::Fetch, 4, 17),
    (ApiKey::ListOffsets, 1, 10),
    (ApiKey::Metadata, 1, 12),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
];

/// The versions this tool handles for `api`, if it uses the API at all.
pub fn client_range(api: ApiKey) -> Option<(i16, i16)> {
    CLIENT_APIS
        .iter()
        .find(|(key, _, _)| *key == api)
        .map(|&(_, min, max)| (min, max))
}

/// What one broker advertised, and the version chosen for each API.
#[derive(Debug, Clone, Default)]
pub struct Versions {
    /// The broker's advertised range per API key, including keys this tool does not know.
    broker: HashMap<i16, (i16, i16)>,
}

impl Versions {
    /// The table for a broker that advertised `apis`.
    pub fn from_advertised(apis: &[ApiVersion]) -> Self {
        Self {
            broker: apis
                .iter()
                .map(|a| (a.api_key, (a.min_version, a.max_version)))
                .collect(),
        }
    }

    /// The broker's advertised range for `api`.
    pub fn broker_range(&self, api: ApiKey) -> Option<(i16, i16)> {
        self.broker.get(&(api as i16)).copied()
    }

    /// The highest version of `api` both sides speak, or `None` if the ranges do not overlap.
    pub fn negotiate(&self, api: ApiKey) -> Option<i16> {
        let (client_min, client_max) = client_range(api)?;
        let (broker_min, broker_max) = self.broker_range(api)?;
        let max = client_max.min(broker_max);
        (max >= client_min.max(broker_min)).then_some(max)
    }

    /// Whether the broker advertises `api` in a version this tool speaks.
    pub fn supports(&self, api: ApiKey) -> bool {
        self.negotiate(api).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advertised(key: ApiKey, min: i16, max: i16) -> ApiVersion {
        ApiVersion {
            api_key: key as i16,
            min_version: min,
            max_version: max,
            ..ApiVersion::default()
        }
    }

    #[test]
    fn picks_the_highest_common_version() {
        let versions = Versions::from_advertised(&[
            advertised(ApiKey::Fetch, 4, 13),
            advertised(ApiKey::Produce, 0, 99),
        ]);
        assert_eq!(versions.negotiate(ApiKey::Fetch), Some(13));
        assert_eq!(versions.negotiate(ApiKey::Produce), Some(11));
    }

    #[test]
    fn disjoint_ranges_and_missing_apis_are_unsupported() {
        let versions = Versions::from_advertised(&[advertised(ApiKey::Produce, 0, 2)]);
        assert_eq!(versions.negotiate(ApiKey::Produce), None);
        assert_eq!(versions.negotiate(ApiKey::Fetch), None);
        assert!(!versions.supports(ApiKey::DeleteGroups));
    }
}
