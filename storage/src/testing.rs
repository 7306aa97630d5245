//! Builders of valid v2 record batches, for tests and benchmarks of code that stores them.

use bytes::Bytes;
use fjord_protocol::records::{BatchHeader, Compression, Header, RecordBatchBuilder, RecordError};

use crate::records::{decode, offset_of};

/// One record to put in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSpec {
    /// Key, `None` for null.
    pub key: Option<Vec<u8>>,
    /// Value, `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// Timestamp; the batch's base timestamp when `None`.
    pub timestamp: Option<i64>,
    /// Record headers.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
}

impl RecordSpec {
    /// A record with this key and value.
    pub fn new(key: Option<&[u8]>, value: Option<&[u8]>) -> Self {
        Self {
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
            timestamp: None,
            headers: Vec::new(),
        }
    }

    /// Sets the record's timestamp.
    #[must_use]
    pub fn timestamp(mut self, ts: i64) -> Self {
        self.timestamp = Some(ts);
        self
    }

    /// Adds a record header.
    #[must_use]
    pub fn header(mut self, key: &[u8], value: &[u8]) -> Self {
        self.headers.push((key.to_vec(), value.to_vec()));
        self
    }
}

/// A batch to build: base timestamp, records and codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSpec {
    /// Base timestamp; record timestamps are stored relative to it.
    pub base_timestamp: i64,
    /// The records.
    pub records: Vec<RecordSpec>,
    /// How the records are compressed.
    pub compression: Compression,
}

impl BatchSpec {
    /// An empty, uncompressed batch with this base timestamp.
    pub fn new(base_timestamp: i64) -> Self {
        Self {
            base_timestamp,
            records: Vec::new(),
            compression: Compression::None,
        }
    }

    /// Adds a record.
    #[must_use]
    pub fn record(mut self, r: RecordSpec) -> Self {
        self.records.push(r);
        self
    }

    /// Compresses the records with `codec`.
    #[must_use]
    pub fn compression(mut self, codec: Compression) -> Self {
        self.compression = codec;
        self
    }

    /// `n` records with values of `value_len` bytes (filled with `fill`) and no key.
    #[must_use]
    pub fn filler(mut self, n: usize, value_len: usize, fill: u8) -> Self {
        let value = vec![fill; value_len];
        for _ in 0..n {
            self.records.push(RecordSpec::new(None, Some(&value)));
        }
        self
    }

    /// Encodes the batch with base offset 0, leader epoch -1 and a correct CRC.
    pub fn build(&self) -> Vec<u8> {
        let mut builder = RecordBatchBuilder::new()
            .compression(self.compression)
            .base_timestamp(self.base_timestamp);
        for r in &self.records {
            let headers = r
                .headers
                .iter()
                .map(|(k, v)| Header {
                    key: String::from_utf8_lossy(k).into_owned(),
                    value: Some(Bytes::copy_from_slice(v)),
                })
                .collect();
            builder.push(
                r.timestamp.unwrap_or(self.base_timestamp),
                r.key.as_deref().map(Bytes::copy_from_slice),
                r.value.as_deref().map(Bytes::copy_from_slice),
                headers,
            );
        }
        match builder.build() {
            Ok(batch) => batch.to_vec(),
            // Only a batch over 2 GiB fails, which no test builds.
            Err(e) => panic!("test batch does not encode: {e}"),
        }
    }
}

/// A record read back from a stored batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Its offset.
    pub offset: i64,
    /// Its timestamp.
    pub timestamp: i64,
    /// Key, `None` for null.
    pub key: Option<Vec<u8>>,
    /// Value, `None` for a tombstone.
    pub value: Option<Vec<u8>>,
}

/// The records of one stored batch (`batch` is the whole batch), decompressed if need be.
pub fn records_of(batch: &[u8]) -> Result<Vec<StoredRecord>, RecordError> {
    let header = BatchHeader::parse(batch)?;
    Ok(decode(&Bytes::copy_from_slice(batch), &header)?
        .into_iter()
        .map(|r| StoredRecord {
            offset: offset_of(&header, &r),
            timestamp: header.base_timestamp.saturating_add(r.timestamp_delta),
            key: r.key.map(|k| k.to_vec()),
            value: r.value.map(|v| v.to_vec()),
        })
        .collect())
}
