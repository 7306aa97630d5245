//! The Kafka error codes inside a response, wherever its version puts them (top level, per
//! topic, per partition), so error rates can be counted per API and code the way Kafka's
//! `ErrorsPerSec` does.

use fjord_protocol::messages::ResponseBody;

/// Most distinct codes kept for one response; more than this in one answer is rare and the
/// extra codes are not worth an allocation per request.
pub(crate) const MAX_CODES: usize = 8;

/// The distinct non-zero error codes of one response, in order of first appearance.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ErrorCodes {
    codes: [i16; MAX_CODES],
    len: usize,
}

impl ErrorCodes {
    /// Notes one code; `0` (NONE) and repeats are ignored.
    fn add(&mut self, code: i16) {
        if code == 0 || self.as_slice().contains(&code) || self.len == MAX_CODES {
            return;
        }
        if let Some(slot) = self.codes.get_mut(self.len) {
            *slot = code;
            self.len += 1;
        }
    }

    fn extend(&mut self, codes: impl IntoIterator<Item = i16>) {
        for code in codes {
            self.add(code);
        }
    }

    /// The codes noted.
    pub(crate) fn as_slice(&self) -> &[i16] {
        self.codes.get(..self.len).unwrap_or_default()
    }
}

/// Every distinct non-zero error code in `body`.
pub(crate) fn error_codes(body: &ResponseBody) -> ErrorCodes {
    let mut out = ErrorCodes::default();
    match body {
        ResponseBody::Produce(r) => out.extend(
            r.responses
                .iter()
                .flat_map(|t| &t.partition_responses)
                .map(|p| p.error_code),
        ),
        ResponseBody::Fetch(r) => {
            out.add(r.error_code);
            out.extend(
                r.responses
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .map(|p| p.error_code),
            );
        }
        ResponseBody::ListOffsets(r) => {
            out.extend(
                r.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .map(|p| p.error_code),
            );
        }
        ResponseBody::Metadata(r) => {
            for topic in &r.topics {
                out.add(topic.error_code);
                out.extend(topic.partitions.iter().map(|p| p.error_code));
            }
        }
        ResponseBody::OffsetCommit(r) => {
            out.extend(
                r.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .map(|p| p.error_code),
            );
        }
        ResponseBody::OffsetFetch(r) => {
            out.add(r.error_code);
            out.extend(
                r.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .map(|p| p.error_code),
            );
            for group in &r.groups {
                out.add(group.error_code);
                out.extend(
                    group
                        .topics
                        .iter()
                        .flat_map(|t| &t.partitions)
                        .map(|p| p.error_code),
                );
            }
        }
        ResponseBody::FindCoordinator(r) => {
            out.add(r.error_code);
            out.extend(r.coordinators.iter().map(|c| c.error_code));
        }
        ResponseBody::JoinGroup(r) => out.add(r.error_code),
        ResponseBody::Heartbeat(r) => out.add(r.error_code),
        ResponseBody::SyncGroup(r) => out.add(r.error_code),
        ResponseBody::ListGroups(r) => out.add(r.error_code),
        ResponseBody::ApiVersions(r) => out.add(r.error_code),
        ResponseBody::InitProducerId(r) => out.add(r.error_code),
        ResponseBody::AddOffsetsToTxn(r) => out.add(r.error_code),
        ResponseBody::EndTxn(r) => out.add(r.error_code),
        ResponseBody::DescribeCluster(r) => out.add(r.error_code),
        ResponseBody::ListTransactions(r) => out.add(r.error_code),
        ResponseBody::LeaveGroup(r) => {
            out.add(r.error_code);
            out.extend(r.members.iter().map(|m| m.error_code));
        }
        ResponseBody::DescribeGroups(r) => out.extend(r.groups.iter().map(|g| g.error_code)),
        ResponseBody::DeleteGroups(r) => out.extend(r.results.iter().map(|g| g.error_code)),
        ResponseBody::OffsetDelete(r) => {
            out.add(r.error_code);
            out.extend(
                r.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .map(|p| p.error_code),
            );
        }
        ResponseBody::CreateTopics(r) => out.extend(r.topics.iter().map(|t| t.error_code)),
        ResponseBody::DeleteTopics(r) => out.extend(r.responses.iter().map(|t| t.error_code)),
        ResponseBody::CreatePartitions(r) => out.extend(r.results.iter().map(|t| t.error_code)),
        ResponseBody::DeleteRecords(r) => {
            out.extend(
                r.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .map(|p| p.error_code),
            );
        }
        ResponseBody::DescribeConfigs(r) => out.extend(r.results.iter().map(|c| c.error_code)),
        ResponseBody::AlterConfigs(r) => out.extend(r.responses.iter().map(|c| c.error_code)),
        ResponseBody::IncrementalAlterConfigs(r) => {
            out.extend(r.responses.iter().map(|c| c.error_code));
        }
        ResponseBody::DescribeProducers(r) => {
            out.extend(
                r.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .map(|p| p.error_code),
            );
        }
        ResponseBody::OffsetForLeaderEpoch(r) => {
            out.extend(
                r.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .map(|p| p.error_code),
            );
        }
        ResponseBody::TxnOffsetCommit(r) => {
            out.extend(
                r.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .map(|p| p.error_code),
            );
        }
        ResponseBody::DescribeTopicPartitions(r) => {
            for topic in &r.topics {
                out.add(topic.error_code);
                out.extend(topic.partitions.iter().map(|p| p.error_code));
            }
        }
        ResponseBody::DescribeTransactions(r) => {
            out.extend(r.transaction_states.iter().map(|t| t.error_code));
        }
        ResponseBody::AddPartitionsToTxn(r) => out.add(r.error_code),
        ResponseBody::WriteTxnMarkers(r) => out.extend(
            r.markers
                .iter()
                .flat_map(|m| &m.topics)
                .flat_map(|t| &t.partitions)
                .map(|p| p.error_code),
        ),
        // APIs we do not serve: nothing is ever answered with them.
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use fjord_protocol::error_code::ErrorCode;
    use fjord_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use fjord_protocol::messages::{HeartbeatResponse, ProduceResponse};

    use super::*;

    fn partition(code: ErrorCode) -> PartitionProduceResponse {
        PartitionProduceResponse {
            error_code: code.code(),
            ..Default::default()
        }
    }

    #[test]
    fn nested_codes_are_found_once_each_and_none_is_skipped() {
        let body = ResponseBody::Produce(ProduceResponse {
            responses: vec![
                TopicProduceResponse {
                    partition_responses: vec![
                        partition(ErrorCode::None),
                        partition(ErrorCode::MessageTooLarge),
                    ],
                    ..Default::default()
                },
                TopicProduceResponse {
                    partition_responses: vec![
                        partition(ErrorCode::CorruptMessage),
                        partition(ErrorCode::MessageTooLarge),
                    ],
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        assert_eq!(
            error_codes(&body).as_slice(),
            &[
                ErrorCode::MessageTooLarge.code(),
                ErrorCode::CorruptMessage.code()
            ]
        );
    }

    #[test]
    fn a_clean_response_has_no_codes() {
        let body = ResponseBody::Heartbeat(HeartbeatResponse::default());
        assert!(error_codes(&body).as_slice().is_empty());
    }

    #[test]
    fn codes_beyond_the_cap_are_dropped() {
        let mut codes = ErrorCodes::default();
        codes.extend(1..=20);
        assert_eq!(codes.as_slice().len(), MAX_CODES);
    }
}
