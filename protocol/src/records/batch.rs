//! Whole v2 record batches: decoding into records, and building new batches.
//!
//! Decoding checks the CRC, decompresses with a caller-given size limit and parses exactly the
//! number of records the header declares, leaving no bytes over. The broker's produce path does
//! not come here (see [`super::validate`]); fetch-side tools, the log cleaner and tests do.

use bytes::{BufMut, Bytes, BytesMut};

use super::compression::{compress, decompress, Compression};
use super::control::{ControlRecord, ControlRecordType, EndTxnMarker};
use super::header::{
    attributes, compute_crc, verify_crc, BatchHeader, Batches, HEADER_LEN, LOG_OVERHEAD,
};
use super::record::{parse_records, Header, Record};
use super::RecordError;

/// Offset of the batch length field.
const LENGTH_AT: usize = 8;
/// Offset of the CRC field, which the builder fills in last.
const CRC_AT: usize = 17;
/// Offset of the record count, the header's last field.
const RECORD_COUNT_AT: usize = 57;
/// Timestamp of records that have none (Kafka's `NO_TIMESTAMP`).
pub const NO_TIMESTAMP: i64 = -1;

/// A decoded v2 batch: its header and its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    /// The header as stored.
    pub header: BatchHeader,
    /// The records, in order.
    pub records: Vec<Record>,
}

impl RecordBatch {
    /// Decodes one complete batch. `batch` must hold exactly the batch; records are decompressed
    /// into at most `max_decompressed` bytes.
    pub fn decode(batch: &Bytes, max_decompressed: usize) -> Result<Self, RecordError> {
        verify_crc(batch)?;
        let header = BatchHeader::parse(batch)?;
        let records = decode_records(&header, batch, max_decompressed)?;
        Ok(Self { header, records })
    }

    /// Re-encodes one batch with another compression codec, keeping everything else: offsets,
    /// timestamps, producer id, epoch and sequence, the transactional flag. This is what a topic
    /// whose `compression.type` names a codec does to batches that arrive in another.
    pub fn recompress(
        batch: &Bytes,
        codec: Compression,
        max_decompressed: usize,
    ) -> Result<Bytes, RecordError> {
        let decoded = Self::decode(batch, max_decompressed)?;
        let h = decoded.header;
        let mut builder = RecordBatchBuilder::new()
            .base_offset(h.base_offset)
            .partition_leader_epoch(h.partition_leader_epoch)
            .compression(codec)
            .producer(h.producer_id, h.producer_epoch, h.base_sequence)
            .transactional(h.is_transactional())
            .control(h.is_control())
            .base_timestamp(h.base_timestamp);
        for record in decoded.records {
            builder.push_record(record);
        }
        builder.build()
    }

    /// Decodes every batch in a concatenation of batches.
    pub fn decode_all(bytes: &Bytes, max_decompressed: usize) -> Result<Vec<Self>, RecordError> {
        Batches::new(bytes)
            .map(|item| {
                let (_, raw) = item?;
                Self::decode(&bytes.slice_ref(raw), max_decompressed)
            })
            .collect()
    }

    /// The batch's compression codec.
    pub fn compression(&self) -> Result<Compression, RecordError> {
        Compression::from_id(self.header.compression())
    }

    /// The records with their absolute offsets and timestamps. With `LogAppendTime` every
    /// record carries the batch's max timestamp, as Kafka reports it.
    pub fn iter_absolute(&self) -> impl Iterator<Item = (i64, i64, &Record)> + '_ {
        let header = &self.header;
        self.records.iter().map(move |record| {
            let offset = header
                .base_offset
                .saturating_add(i64::from(record.offset_delta));
            let timestamp = if header.is_log_append_time() {
                header.max_timestamp
            } else {
                header.base_timestamp.saturating_add(record.timestamp_delta)
            };
            (offset, timestamp, record)
        })
    }

    /// The control record key of a control batch; `None` for a data batch.
    pub fn control_record(&self) -> Option<Result<ControlRecord, RecordError>> {
        if !self.header.is_control() {
            return None;
        }
        let key = self.records.first().and_then(|r| r.key.as_deref());
        Some(match key {
            Some(key) => ControlRecord::parse_key(key),
            None => ControlRecord::parse_key(&[]),
        })
    }
}

/// A copy of `batch` (one complete batch) holding only `records`, which must be some of its own
/// in their order. The records are re-encoded and compressed with the batch's own codec; every
/// other header field is kept (base offset, last offset delta, timestamps, producer id, epoch
/// and sequence, attributes) so the survivors keep their offsets and the log its producer
/// state. This is how log compaction rewrites a batch it drops records from.
pub fn retain_records(batch: &[u8], records: &[Record]) -> Result<Bytes, RecordError> {
    let header = BatchHeader::parse(batch)?;
    let codec = Compression::from_id(header.compression())?;
    let mut plain = BytesMut::with_capacity(records.iter().map(Record::encoded_len).sum());
    for record in records {
        record.encode(&mut plain)?;
    }
    let payload = match codec {
        Compression::None => plain.freeze(),
        codec => Bytes::from(compress(codec, &plain)?),
    };
    let mut buf = BytesMut::with_capacity(HEADER_LEN + payload.len());
    buf.put_slice(&batch[..HEADER_LEN]);
    buf.put_slice(&payload);
    let count = i32::try_from(records.len()).map_err(|_| batch_too_long(records.len()))?;
    buf[RECORD_COUNT_AT..HEADER_LEN].copy_from_slice(&count.to_be_bytes());
    seal(&mut buf)?;
    Ok(buf.freeze())
}

/// Error for a batch whose length or record count does not fit the format's i32.
fn batch_too_long(len: usize) -> crate::error::EncodeError {
    crate::error::EncodeError::TooLong {
        what: "record batch",
        len,
    }
}

/// Fills in the batch length and CRC of a batch whose other bytes are final.
fn seal(buf: &mut BytesMut) -> Result<(), RecordError> {
    let batch_length =
        i32::try_from(buf.len() - LOG_OVERHEAD).map_err(|_| batch_too_long(buf.len()))?;
    buf[LENGTH_AT..LENGTH_AT + 4].copy_from_slice(&batch_length.to_be_bytes());
    let crc = compute_crc(buf);
    buf[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// What reading a batch's records starts from: the record count, the bytes after the header
/// (compressed or not) and the codec, each checked against the header.
pub(super) fn records_payload<'a>(
    header: &BatchHeader,
    batch: &'a [u8],
) -> Result<(usize, &'a [u8], Compression), RecordError> {
    let count = usize::try_from(header.record_count)
        .map_err(|_| RecordError::InvalidRecordCount(header.record_count))?;
    let payload = batch
        .get(HEADER_LEN..header.total_len())
        .ok_or(RecordError::Truncated {
            needed: header.total_len(),
            available: batch.len(),
        })?;
    let codec = Compression::from_id(header.compression())?;
    Ok((count, payload, codec))
}

/// Decodes the records of one complete batch whose header is `header`.
pub fn decode_records(
    header: &BatchHeader,
    batch: &Bytes,
    max_decompressed: usize,
) -> Result<Vec<Record>, RecordError> {
    let (count, payload, codec) = records_payload(header, batch)?;
    let (source, data_range) = if codec == Compression::None {
        (batch.clone(), HEADER_LEN..header.total_len())
    } else {
        let plain = Bytes::from(decompress(codec, payload, max_decompressed)?);
        let len = plain.len();
        (plain, 0..len)
    };
    let data = &source[data_range];
    let (records, remaining) = parse_records(&source, data, count)
        .map_err(|(index, source)| RecordError::InvalidRecord { index, source })?;
    if remaining != 0 {
        return Err(RecordError::TrailingRecordBytes {
            count: header.record_count,
            remaining,
        });
    }
    Ok(records)
}

/// Builds a v2 batch: header fields, records, compression and the CRC.
///
/// Records added with [`push`](Self::push) get consecutive offset deltas and timestamps relative
/// to the first record's (or the set base timestamp); [`push_record`](Self::push_record) keeps
/// the deltas it is given.
#[derive(Debug, Clone)]
pub struct RecordBatchBuilder {
    base_offset: i64,
    partition_leader_epoch: i32,
    compression: Compression,
    /// When set, the timestamp type is `LogAppendTime` and this is the max timestamp.
    log_append_time: Option<i64>,
    transactional: bool,
    control: bool,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    base_timestamp: Option<i64>,
    records: Vec<Record>,
}

impl Default for RecordBatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordBatchBuilder {
    /// An empty, uncompressed, non-idempotent batch at base offset 0.
    pub fn new() -> Self {
        Self {
            base_offset: 0,
            partition_leader_epoch: -1,
            compression: Compression::None,
            log_append_time: None,
            transactional: false,
            control: false,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            base_timestamp: None,
            records: Vec::new(),
        }
    }

    /// A commit or abort marker batch for a producer, as a transaction coordinator writes it.
    pub fn end_txn_marker(
        producer_id: i64,
        producer_epoch: i16,
        kind: ControlRecordType,
        coordinator_epoch: i32,
        timestamp: i64,
    ) -> Self {
        let mut builder = Self::new()
            .producer(producer_id, producer_epoch, -1)
            .transactional(true)
            .control(true);
        builder.push(
            timestamp,
            Some(ControlRecord::new(kind).encode_key()),
            Some(EndTxnMarker::new(coordinator_epoch).encode()),
            Vec::new(),
        );
        builder
    }

    /// Sets the base offset (the broker overwrites it on append).
    #[must_use]
    pub fn base_offset(mut self, base_offset: i64) -> Self {
        self.base_offset = base_offset;
        self
    }

    /// Sets the partition leader epoch.
    #[must_use]
    pub fn partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Sets the compression codec.
    #[must_use]
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Makes the timestamps the broker's append time `now`.
    #[must_use]
    pub fn log_append_time(mut self, now: i64) -> Self {
        self.log_append_time = Some(now);
        self
    }

    /// Sets the idempotent producer id, epoch and the first record's sequence number.
    #[must_use]
    pub fn producer(mut self, id: i64, epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = id;
        self.producer_epoch = epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch as part of a transaction.
    #[must_use]
    pub fn transactional(mut self, transactional: bool) -> Self {
        self.transactional = transactional;
        self
    }

    /// Marks the batch as a control batch.
    #[must_use]
    pub fn control(mut self, control: bool) -> Self {
        self.control = control;
        self
    }

    /// Sets the base timestamp; by default it is the first pushed record's timestamp.
    #[must_use]
    pub fn base_timestamp(mut self, timestamp: i64) -> Self {
        self.base_timestamp = Some(timestamp);
        self
    }

    /// Appends a record with the next offset delta and an absolute `timestamp`.
    pub fn push(
        &mut self,
        timestamp: i64,
        key: Option<Bytes>,
        value: Option<Bytes>,
        headers: Vec<Header>,
    ) -> &mut Self {
        let base = *self.base_timestamp.get_or_insert(timestamp);
        let offset_delta = i32::try_from(self.records.len()).unwrap_or(i32::MAX);
        self.records.push(Record {
            timestamp_delta: timestamp.wrapping_sub(base),
            offset_delta,
            key,
            value,
            headers,
        });
        self
    }

    /// Appends a record with the deltas it carries.
    pub fn push_record(&mut self, record: Record) -> &mut Self {
        self.records.push(record);
        self
    }

    /// Number of records so far.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn attributes(&self) -> i16 {
        let mut attrs = self.compression.id();
        if self.log_append_time.is_some() {
            attrs |= attributes::LOG_APPEND_TIME;
        }
        if self.transactional {
            attrs |= attributes::TRANSACTIONAL;
        }
        if self.control {
            attrs |= attributes::CONTROL;
        }
        attrs
    }

    /// Writes the batch: header, (compressed) records and CRC.
    pub fn build(&self) -> Result<Bytes, RecordError> {
        let records_len: usize = self.records.iter().map(Record::encoded_len).sum();
        // Uncompressed records go straight after the header, written once: a batch of a MiB
        // is otherwise copied a second time from a records buffer into the batch.
        let mut buf = match self.compression {
            Compression::None => {
                let mut buf = BytesMut::with_capacity(HEADER_LEN + records_len);
                buf.resize(HEADER_LEN, 0);
                self.encode_records(&mut buf)?;
                buf
            }
            codec => {
                let mut plain = BytesMut::with_capacity(records_len);
                self.encode_records(&mut plain)?;
                let compressed = compress(codec, &plain)?;
                let mut buf = BytesMut::with_capacity(HEADER_LEN + compressed.len());
                buf.resize(HEADER_LEN, 0);
                buf.put_slice(&compressed);
                buf
            }
        };
        let record_count =
            i32::try_from(self.records.len()).map_err(|_| batch_too_long(self.records.len()))?;
        let base_timestamp = self.base_timestamp.unwrap_or(NO_TIMESTAMP);
        let max_timestamp = match self.log_append_time {
            Some(now) => now,
            None => self
                .records
                .iter()
                .map(|r| base_timestamp.wrapping_add(r.timestamp_delta))
                .max()
                .unwrap_or(NO_TIMESTAMP),
        };
        let last_offset_delta = self.records.last().map_or(0, |r| r.offset_delta);

        let mut header = &mut buf[..HEADER_LEN];
        header.put_i64(self.base_offset);
        header.put_i32(0); // length, sealed below
        header.put_i32(self.partition_leader_epoch);
        header.put_i8(2);
        header.put_u32(0);
        header.put_i16(self.attributes());
        header.put_i32(last_offset_delta);
        header.put_i64(base_timestamp);
        header.put_i64(max_timestamp);
        header.put_i64(self.producer_id);
        header.put_i16(self.producer_epoch);
        header.put_i32(self.base_sequence);
        header.put_i32(record_count);
        seal(&mut buf)?;
        Ok(buf.freeze())
    }

    fn encode_records(&self, buf: &mut BytesMut) -> Result<(), RecordError> {
        for record in &self.records {
            record.encode(buf)?;
        }
        Ok(())
    }
}
