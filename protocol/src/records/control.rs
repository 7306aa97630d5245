//! Control records: the single record of a control batch, such as a transaction marker.
//!
//! Key: version (i16, 0) and type (i16). Value of a commit or abort marker: version (i16, 0)
//! and the coordinator epoch (i32). Newer versions may append fields; like Kafka, readers take
//! the fields they know and ignore the rest.

use bytes::{BufMut, Bytes, BytesMut};

use super::RecordError;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::primitives::{finish, int16, int32};

/// What a control record marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// The transaction was aborted (type 0).
    Abort,
    /// The transaction was committed (type 1).
    Commit,
    /// Any other type (leader change, `KRaft` snapshot markers, ...), kept as its number.
    Other(i16),
}

impl ControlRecordType {
    /// The type number on the wire.
    pub fn id(self) -> i16 {
        match self {
            Self::Abort => 0,
            Self::Commit => 1,
            Self::Other(id) => id,
        }
    }

    /// The type with number `id`.
    pub fn from_id(id: i16) -> Self {
        match id {
            0 => Self::Abort,
            1 => Self::Commit,
            other => Self::Other(other),
        }
    }
}

/// The key of a control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlRecord {
    /// Key format version; 0 today.
    pub version: i16,
    /// What the record marks.
    pub kind: ControlRecordType,
}

/// Wraps a decode failure of a control record.
fn invalid(e: DecodeError) -> RecordError {
    RecordError::InvalidControlRecord(e)
}

fn negative_version(field: &'static str, version: i16, len: usize) -> RecordError {
    invalid(
        DecodeError::new(DecodeErrorKind::UnsupportedVersion(version), len)
            .in_field(field)
            .at_input(len),
    )
}

impl ControlRecord {
    /// Size of the key in the current version.
    pub const KEY_LEN: usize = 4;

    /// A version 0 key of type `kind`.
    pub fn new(kind: ControlRecordType) -> Self {
        Self { version: 0, kind }
    }

    /// Parses a control record key.
    pub fn parse_key(key: &[u8]) -> Result<Self, RecordError> {
        let (_, (version, kind)) = finish(
            int16(key).and_then(|(rest, version)| {
                int16(rest).map(|(rest, kind)| (rest, (version, kind)))
            }),
            key.len(),
        )
        .map_err(invalid)?;
        if version < 0 {
            return Err(negative_version("control_key.version", version, key.len()));
        }
        Ok(Self {
            version,
            kind: ControlRecordType::from_id(kind),
        })
    }

    /// Encodes the key.
    pub fn encode_key(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(Self::KEY_LEN);
        buf.put_i16(self.version);
        buf.put_i16(self.kind.id());
        buf.freeze()
    }
}

/// The value of a commit or abort marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndTxnMarker {
    /// Value format version; 0 today.
    pub version: i16,
    /// Epoch of the transaction coordinator that wrote the marker.
    pub coordinator_epoch: i32,
}

impl EndTxnMarker {
    /// Size of the value in the current version.
    pub const VALUE_LEN: usize = 6;

    /// A version 0 marker value.
    pub fn new(coordinator_epoch: i32) -> Self {
        Self {
            version: 0,
            coordinator_epoch,
        }
    }

    /// Parses a marker value.
    pub fn parse(value: &[u8]) -> Result<Self, RecordError> {
        let (_, (version, coordinator_epoch)) = finish(
            int16(value).and_then(|(rest, version)| {
                int32(rest).map(|(rest, epoch)| (rest, (version, epoch)))
            }),
            value.len(),
        )
        .map_err(invalid)?;
        if version < 0 {
            return Err(negative_version(
                "end_txn_marker.version",
                version,
                value.len(),
            ));
        }
        Ok(Self {
            version,
            coordinator_epoch,
        })
    }

    /// Encodes the value.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(Self::VALUE_LEN);
        buf.put_i16(self.version);
        buf.put_i32(self.coordinator_epoch);
        buf.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_round_trips_and_has_kafka_layout() {
        let key = ControlRecord::new(ControlRecordType::Commit);
        let bytes = key.encode_key();
        assert_eq!(&bytes[..], &[0, 0, 0, 1]);
        assert_eq!(ControlRecord::parse_key(&bytes), Ok(key));
        let abort = ControlRecord::new(ControlRecordType::Abort).encode_key();
        assert_eq!(&abort[..], &[0, 0, 0, 0]);
    }

    #[test]
    fn marker_value_round_trips() {
        let marker = EndTxnMarker::new(7);
        let bytes = marker.encode();
        assert_eq!(&bytes[..], &[0, 0, 0, 0, 0, 7]);
        assert_eq!(EndTxnMarker::parse(&bytes), Ok(marker));
    }

    #[test]
    fn short_or_negative_keys_fail() {
        assert!(ControlRecord::parse_key(&[0, 0, 0]).is_err());
        assert!(ControlRecord::parse_key(&[0xff, 0xff, 0, 1]).is_err());
        assert!(EndTxnMarker::parse(&[0, 0, 0, 0, 0]).is_err());
    }
}
