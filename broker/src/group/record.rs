//! The records the coordinator keeps in `__consumer_offsets`, and their byte format (see
//! `docs/consumer-offsets-format.md`). Each is a key and a value; a missing value is a
//! tombstone that deletes the key, so compaction keeps only the latest state.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::types::{CommittedOffset, GenerationId, TopicPartition};

/// Key type of an offset record.
const OFFSET_KEY: i16 = 1;
/// Key type of a group metadata record.
const GROUP_KEY: i16 = 2;
/// Value format version written today.
const VALUE_VERSION: i16 = 0;

/// One record of the offsets log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogRecord {
    /// A committed offset, or its deletion.
    Offset {
        /// The group.
        group_id: String,
        /// The partition.
        partition: TopicPartition,
        /// The offset; `None` deletes it.
        value: Option<CommittedOffset>,
    },
    /// A group's membership, or its deletion.
    Group {
        /// The group.
        group_id: String,
        /// The group; `None` deletes it.
        value: Option<GroupSnapshot>,
    },
}

/// A group as persisted: what survives a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSnapshot {
    /// The protocol type.
    pub protocol_type: String,
    /// The generation.
    pub generation: GenerationId,
    /// The selected protocol.
    pub protocol: Option<String>,
    /// The leader.
    pub leader: Option<String>,
    /// When the group entered its state.
    pub state_timestamp_ms: i64,
    /// The members.
    pub members: Vec<MemberSnapshot>,
}

/// A member as persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSnapshot {
    /// The member id.
    pub member_id: String,
    /// The static instance id.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// Metadata for the selected protocol.
    pub subscription: Bytes,
    /// The member's assignment.
    pub assignment: Bytes,
}

/// Why a stored record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordFormatError {
    /// The bytes end before the field.
    #[error("offsets record truncated reading {field}")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// A key type we do not know.
    #[error("unknown offsets record key type {0}")]
    UnknownKeyType(i16),
    /// A value version we do not know.
    #[error("unknown offsets record value version {0}")]
    UnknownValueVersion(i16),
    /// A string that is not UTF-8.
    #[error("offsets record field {field} is not UTF-8: {source}")]
    NotUtf8 {
        /// The field.
        field: &'static str,
        /// Where the bytes went wrong.
        source: std::str::Utf8Error,
    },
}

impl LogRecord {
    /// The record's key bytes.
    pub fn key(&self) -> Bytes {
        let mut out = BytesMut::new();
        match self {
            Self::Offset {
                group_id,
                partition,
                ..
            } => {
                out.put_i16(OFFSET_KEY);
                put_str(&mut out, group_id);
                put_str(&mut out, &partition.topic);
                out.put_i32(partition.partition);
            }
            Self::Group { group_id, .. } => {
                out.put_i16(GROUP_KEY);
                put_str(&mut out, group_id);
            }
        }
        out.freeze()
    }

    /// The record's value bytes, `None` for a tombstone.
    pub fn value(&self) -> Option<Bytes> {
        let mut out = BytesMut::new();
        out.put_i16(VALUE_VERSION);
        match self {
            Self::Offset { value: None, .. } | Self::Group { value: None, .. } => return None,
            Self::Offset { value: Some(o), .. } => {
                out.put_i64(o.offset);
                out.put_i32(o.leader_epoch);
                put_str(&mut out, &o.metadata);
                out.put_i64(o.commit_timestamp_ms);
            }
            Self::Group { value: Some(g), .. } => {
                put_str(&mut out, &g.protocol_type);
                out.put_i32(g.generation.0);
                put_opt_str(&mut out, g.protocol.as_deref());
                put_opt_str(&mut out, g.leader.as_deref());
                out.put_i64(g.state_timestamp_ms);
                out.put_i32(i32::try_from(g.members.len()).unwrap_or(i32::MAX));
                for m in &g.members {
                    put_str(&mut out, &m.member_id);
                    put_opt_str(&mut out, m.group_instance_id.as_deref());
                    put_str(&mut out, &m.client_id);
                    put_str(&mut out, &m.client_host);
                    out.put_i32(m.rebalance_timeout_ms);
                    out.put_i32(m.session_timeout_ms);
                    put_bytes(&mut out, &m.subscription);
                    put_bytes(&mut out, &m.assignment);
                }
            }
        }
        Some(out.freeze())
    }

    /// Reads a record back from its key and value.
    pub fn decode(mut key: &[u8], value: Option<&[u8]>) -> Result<Self, RecordFormatError> {
        let key_type = get_i16(&mut key, "key type")?;
        match key_type {
            OFFSET_KEY => {
                let group_id = get_str(&mut key, "group id")?;
                let topic = get_str(&mut key, "topic")?;
                let partition = get_i32(&mut key, "partition")?;
                let value = value.map(decode_offset).transpose()?;
                Ok(Self::Offset {
                    group_id,
                    partition: TopicPartition { topic, partition },
                    value,
                })
            }
            GROUP_KEY => {
                let group_id = get_str(&mut key, "group id")?;
                let value = value.map(decode_group).transpose()?;
                Ok(Self::Group { group_id, value })
            }
            other => Err(RecordFormatError::UnknownKeyType(other)),
        }
    }
}

fn decode_offset(mut v: &[u8]) -> Result<CommittedOffset, RecordFormatError> {
    check_version(&mut v)?;
    Ok(CommittedOffset {
        offset: get_i64(&mut v, "offset")?,
        leader_epoch: get_i32(&mut v, "leader epoch")?,
        metadata: get_str(&mut v, "metadata")?,
        commit_timestamp_ms: get_i64(&mut v, "commit timestamp")?,
    })
}

fn decode_group(mut v: &[u8]) -> Result<GroupSnapshot, RecordFormatError> {
    check_version(&mut v)?;
    let protocol_type = get_str(&mut v, "protocol type")?;
    let generation = GenerationId(get_i32(&mut v, "generation")?);
    let protocol = get_opt_str(&mut v, "protocol")?;
    let leader = get_opt_str(&mut v, "leader")?;
    let state_timestamp_ms = get_i64(&mut v, "state timestamp")?;
    let count = get_i32(&mut v, "member count")?;
    let mut members = Vec::new();
    for _ in 0..count.max(0) {
        members.push(MemberSnapshot {
            member_id: get_str(&mut v, "member id")?,
            group_instance_id: get_opt_str(&mut v, "group instance id")?,
            client_id: get_str(&mut v, "client id")?,
            client_host: get_str(&mut v, "client host")?,
            rebalance_timeout_ms: get_i32(&mut v, "rebalance timeout")?,
            session_timeout_ms: get_i32(&mut v, "session timeout")?,
            subscription: get_bytes(&mut v, "subscription")?,
            assignment: get_bytes(&mut v, "assignment")?,
        });
    }
    Ok(GroupSnapshot {
        protocol_type,
        generation,
        protocol,
        leader,
        state_timestamp_ms,
        members,
    })
}

fn check_version(v: &mut &[u8]) -> Result<(), RecordFormatError> {
    match get_i16(v, "value version")? {
        VALUE_VERSION => Ok(()),
        other => Err(RecordFormatError::UnknownValueVersion(other)),
    }
}

fn put_str(out: &mut BytesMut, s: &str) {
    out.put_i16(i16::try_from(s.len()).unwrap_or(i16::MAX));
    out.put_slice(&s.as_bytes()[..s.len().min(i16::MAX as usize)]);
}

fn put_opt_str(out: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(out, s),
        None => out.put_i16(-1),
    }
}

fn put_bytes(out: &mut BytesMut, b: &[u8]) {
    out.put_i32(i32::try_from(b.len()).unwrap_or(i32::MAX));
    out.put_slice(b);
}

fn need(v: &[u8], n: usize, field: &'static str) -> Result<(), RecordFormatError> {
    if v.len() < n {
        Err(RecordFormatError::Truncated { field })
    } else {
        Ok(())
    }
}

fn get_i16(v: &mut &[u8], field: &'static str) -> Result<i16, RecordFormatError> {
    need(v, 2, field)?;
    Ok(v.get_i16())
}

fn get_i32(v: &mut &[u8], field: &'static str) -> Result<i32, RecordFormatError> {
    need(v, 4, field)?;
    Ok(v.get_i32())
}

fn get_i64(v: &mut &[u8], field: &'static str) -> Result<i64, RecordFormatError> {
    need(v, 8, field)?;
    Ok(v.get_i64())
}

fn get_opt_str(v: &mut &[u8], field: &'static str) -> Result<Option<String>, RecordFormatError> {
    let len = get_i16(v, field)?;
    let Ok(len) = usize::try_from(len) else {
        return Ok(None);
    };
    need(v, len, field)?;
    let s = std::str::from_utf8(&v[..len])
        .map_err(|source| RecordFormatError::NotUtf8 { field, source })?
        .to_string();
    v.advance(len);
    Ok(Some(s))
}

fn get_str(v: &mut &[u8], field: &'static str) -> Result<String, RecordFormatError> {
    Ok(get_opt_str(v, field)?.unwrap_or_default())
}

fn get_bytes(v: &mut &[u8], field: &'static str) -> Result<Bytes, RecordFormatError> {
    let len = usize::try_from(get_i32(v, field)?).unwrap_or(0);
    need(v, len, field)?;
    let b = Bytes::copy_from_slice(&v[..len]);
    v.advance(len);
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(record: &LogRecord) -> LogRecord {
        let key = record.key();
        let value = record.value();
        LogRecord::decode(&key, value.as_deref()).unwrap()
    }

    #[test]
    fn offsets_groups_and_tombstones_round_trip() {
        let offset = LogRecord::Offset {
            group_id: "g".into(),
            partition: TopicPartition::new("t", 3),
            value: Some(CommittedOffset {
                offset: 42,
                leader_epoch: 7,
                metadata: "meta".into(),
                commit_timestamp_ms: 1_700_000_000_000,
            }),
        };
        assert_eq!(round_trip(&offset), offset);
        let group = LogRecord::Group {
            group_id: "g".into(),
            value: Some(GroupSnapshot {
                protocol_type: "consumer".into(),
                generation: GenerationId(4),
                protocol: Some("range".into()),
                leader: Some("m-1".into()),
                state_timestamp_ms: 99,
                members: vec![MemberSnapshot {
                    member_id: "m-1".into(),
                    group_instance_id: Some("i-1".into()),
                    client_id: "c".into(),
                    client_host: "/127.0.0.1".into(),
                    rebalance_timeout_ms: 1000,
                    session_timeout_ms: 6000,
                    subscription: Bytes::from_static(b"sub"),
                    assignment: Bytes::from_static(b"asg"),
                }],
            }),
        };
        assert_eq!(round_trip(&group), group);
        let tombstone = LogRecord::Group {
            group_id: "g".into(),
            value: None,
        };
        assert_eq!(tombstone.value(), None);
        assert_eq!(round_trip(&tombstone), tombstone);
    }

    #[test]
    fn truncated_and_unknown_records_fail() {
        assert_eq!(
            LogRecord::decode(&[0, 9, 0, 0], None),
            Err(RecordFormatError::UnknownKeyType(9))
        );
        assert_eq!(
            LogRecord::decode(&[0, 1, 0, 5, b'a'], None),
            Err(RecordFormatError::Truncated { field: "group id" })
        );
        let key = LogRecord::Group {
            group_id: "g".into(),
            value: None,
        }
        .key();
        assert_eq!(
            LogRecord::decode(&key, Some(&[0, 3])),
            Err(RecordFormatError::UnknownValueVersion(3))
        );
    }
}
