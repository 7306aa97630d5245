//! Builders of valid v2 record batches, for tests and benchmarks of code that stores them.

use fjord_protocol::records::header::{compute_crc, HEADER_LEN};

use fjord_protocol::records::BatchHeader;

use crate::records::{put_varlong, read_records, MalformedRecord};

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

/// A batch to build: base timestamp, records, and a few header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSpec {
    /// Base timestamp; record timestamps are stored relative to it.
    pub base_timestamp: i64,
    /// The records.
    pub records: Vec<RecordSpec>,
    /// Batch attributes (compression bits are set but records are never compressed).
    pub attributes: i16,
    /// Producer id, -1 for none.
    pub producer_id: i64,
}

impl BatchSpec {
    /// An empty batch with this base timestamp.
    pub fn new(base_timestamp: i64) -> Self {
        Self {
            base_timestamp,
            records: Vec::new(),
            attributes: 0,
            producer_id: -1,
        }
    }

    /// Adds a record.
    #[must_use]
    pub fn record(mut self, r: RecordSpec) -> Self {
        self.records.push(r);
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
        let mut body = Vec::new();
        let mut max_ts = self.base_timestamp;
        for (i, r) in self.records.iter().enumerate() {
            let ts = r.timestamp.unwrap_or(self.base_timestamp);
            max_ts = max_ts.max(ts);
            let mut rec = vec![0u8]; // attributes
            put_varlong(&mut rec, ts - self.base_timestamp);
            put_varlong(&mut rec, i as i64);
            put_bytes(&mut rec, r.key.as_deref());
            put_bytes(&mut rec, r.value.as_deref());
            put_varlong(&mut rec, r.headers.len() as i64);
            for (k, v) in &r.headers {
                put_bytes(&mut rec, Some(k));
                put_bytes(&mut rec, Some(v));
            }
            put_varlong(&mut body, rec.len() as i64);
            body.extend_from_slice(&rec);
        }
        let n = self.records.len();
        let total = HEADER_LEN + body.len();
        let mut b = Vec::with_capacity(total);
        b.extend_from_slice(&0i64.to_be_bytes());
        b.extend_from_slice(&((total - 12) as i32).to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.push(2);
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&self.attributes.to_be_bytes());
        b.extend_from_slice(&(n.saturating_sub(1) as i32).to_be_bytes());
        b.extend_from_slice(&self.base_timestamp.to_be_bytes());
        b.extend_from_slice(&max_ts.to_be_bytes());
        b.extend_from_slice(&self.producer_id.to_be_bytes());
        b.extend_from_slice(&(-1i16).to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.extend_from_slice(&(n as i32).to_be_bytes());
        b.extend_from_slice(&body);
        let crc = compute_crc(&b);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }
}

fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_varlong(out, -1),
        Some(b) => {
            put_varlong(out, b.len() as i64);
            out.extend_from_slice(b);
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

/// The records of one uncompressed batch (`batch` is the whole batch).
pub fn records_of(batch: &[u8]) -> Result<Vec<StoredRecord>, MalformedRecord> {
    let header = BatchHeader::parse(batch).map_err(|_not_a_batch| MalformedRecord { at: 0 })?;
    Ok(read_records(batch, &header)?
        .into_iter()
        .map(|r| StoredRecord {
            offset: header.base_offset + i64::from(r.offset_delta),
            timestamp: header.base_timestamp + r.timestamp_delta,
            key: r.key.map(<[u8]>::to_vec),
            value: r.value.map(<[u8]>::to_vec),
        })
        .collect())
}
