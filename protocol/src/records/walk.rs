//! Walking the records of one batch without materialising them.
//!
//! [`walk_records`] hands each record's [`RecordFrame`] (borrowed fields, nothing copied) to a
//! visitor, in order, and checks the batch's framing as it goes: every record parses, there are
//! exactly as many as the header declares, and nothing is left over. Uncompressed records are
//! walked in place. Compressed ones are decompressed as a stream into a window that holds the
//! record being walked (64 KiB unless one record is larger), never the whole batch, and the
//! stream stops with [`RecordError::DecompressedTooLarge`] past the caller's cap. So the cost of
//! a check is one decompressor and one window per batch, and no allocation per record.

use std::ops::ControlFlow;

use super::batch::records_payload;
use super::compression::{Compression, Decompressor};
use super::header::BatchHeader;
use super::record::RecordFrame;
use super::RecordError;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::primitives::varint;

/// Initial window for decompressed records: a few typical records, and a read size that keeps
/// the decompressors' per-call overhead small.
const WINDOW: usize = 64 * 1024;
/// Longest varint: enough to read any record's length prefix.
const MAX_VARINT_LEN: usize = 5;

/// Walks the records of one complete batch whose header is `header`, calling `visit` with each
/// record's index and frame until it breaks. Returns the value `visit` broke with, or `None`
/// when every record was visited and the batch's framing is sound. Compressed records are
/// decompressed into at most `max_decompressed` bytes. The CRC is not checked here.
pub fn walk_records<B>(
    header: &BatchHeader,
    batch: &[u8],
    max_decompressed: usize,
    visit: impl FnMut(usize, &RecordFrame<'_>) -> ControlFlow<B>,
) -> Result<Option<B>, RecordError> {
    let (count, payload, codec) = records_payload(header, batch)?;
    let walk = Walk {
        count,
        declared: header.record_count,
        visit,
    };
    if codec == Compression::None {
        walk.in_place(payload)
    } else {
        let stream = Decompressor::new(codec, payload, max_decompressed)?;
        walk.streamed(Window::new(stream), max_decompressed)
    }
}

/// One walk: how many records to expect and whom to show them.
struct Walk<F> {
    /// Records the header declares.
    count: usize,
    /// The same, as declared (for errors).
    declared: i32,
    /// The caller's visitor.
    visit: F,
}

impl<F> Walk<F> {
    fn in_place<B>(mut self, data: &[u8]) -> Result<Option<B>, RecordError>
    where
        F: FnMut(usize, &RecordFrame<'_>) -> ControlFlow<B>,
    {
        let mut rest = data;
        for index in 0..self.count {
            let (next, frame) =
                RecordFrame::parse(rest).map_err(|e| invalid_record(index, e, data.len()))?;
            if let ControlFlow::Break(b) = (self.visit)(index, &frame) {
                return Ok(Some(b));
            }
            rest = next;
        }
        if !rest.is_empty() {
            return Err(RecordError::TrailingRecordBytes {
                count: self.declared,
                remaining: rest.len(),
            });
        }
        Ok(None)
    }

    fn streamed<B>(mut self, mut window: Window<'_>, cap: usize) -> Result<Option<B>, RecordError>
    where
        F: FnMut(usize, &RecordFrame<'_>) -> ControlFlow<B>,
    {
        for index in 0..self.count {
            // The length prefix says how much of the stream the record covers; a malformed
            // prefix is left for the frame parser to report with its path.
            window.fill(MAX_VARINT_LEN)?;
            let prefix = window.data();
            let needed = match varint(prefix) {
                Ok((rest, len)) => {
                    (prefix.len() - rest.len()).saturating_add(usize::try_from(len).unwrap_or(0))
                }
                Err(_) => prefix.len(),
            };
            // A record that cannot end within the cap is refused before it is buffered.
            if needed > cap.saturating_sub(window.consumed) {
                return Err(window.too_large());
            }
            window.fill(needed)?;
            let data = window.data();
            let (rest, frame) = RecordFrame::parse(data)
                .map_err(|e| invalid_record(index, e, window.consumed + data.len()))?;
            let used = data.len() - rest.len();
            if let ControlFlow::Break(b) = (self.visit)(index, &frame) {
                return Ok(Some(b));
            }
            window.consume(used);
        }
        let remaining = window.drain()?;
        if remaining != 0 {
            return Err(RecordError::TrailingRecordBytes {
                count: self.declared,
                remaining,
            });
        }
        Ok(None)
    }
}

/// The error for record `index`, with its offset from the start of the records given the length
/// of everything up to the end of the input the parse saw.
fn invalid_record(index: usize, e: nom::Err<DecodeError>, input_end: usize) -> RecordError {
    let source = match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => DecodeError::new(DecodeErrorKind::Truncated { needed: 1 }, 0),
    };
    RecordError::InvalidRecord {
        index,
        source: source.at_input(input_end),
    }
}

/// Decompressed records, a window at a time.
struct Window<'a> {
    /// Where the bytes come from.
    stream: Decompressor<'a>,
    /// Buffer; `start..end` holds bytes read and not yet consumed.
    buf: Vec<u8>,
    /// First unconsumed byte in `buf`.
    start: usize,
    /// End of the bytes read into `buf`.
    end: usize,
    /// Whether the stream has ended.
    eof: bool,
    /// Bytes consumed before `start`, since the stream began (for error offsets and the cap).
    consumed: usize,
}

impl<'a> Window<'a> {
    fn new(stream: Decompressor<'a>) -> Self {
        Self {
            stream,
            buf: vec![0; WINDOW],
            start: 0,
            end: 0,
            eof: false,
            consumed: 0,
        }
    }

    /// The bytes read and not consumed.
    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Reads until at least `want` bytes are unconsumed or the stream ends. The buffer grows
    /// only when a record does not fit, and only as far as bytes really arrive, so a length
    /// prefix that lies costs nothing until the stream backs it.
    fn fill(&mut self, want: usize) -> Result<(), RecordError> {
        while self.end - self.start < want && !self.eof {
            if self.end == self.buf.len() {
                if self.start > 0 {
                    self.buf.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    self.start = 0;
                } else {
                    let len = self.buf.len();
                    // `want > len` here: the loop runs only while the window holds less.
                    self.buf
                        .resize(len.saturating_mul(2).min(want).max(len + 1), 0);
                }
            }
            let read = self.stream.read(&mut self.buf[self.end..])?;
            if read == 0 {
                self.eof = true;
            }
            self.end += read;
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.consumed += n;
    }

    /// Reads the rest of the stream and returns how many bytes it held.
    fn drain(&mut self) -> Result<usize, RecordError> {
        let mut remaining = 0;
        loop {
            self.fill(1)?;
            let n = self.end - self.start;
            if n == 0 {
                return Ok(remaining);
            }
            remaining += n;
            self.consume(n);
        }
    }

    fn too_large(&self) -> RecordError {
        self.stream.too_large()
    }
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, Bytes, BytesMut};

    use super::*;
    use crate::records::compression::compress;
    use crate::records::header::{compute_crc, HEADER_LEN};
    use crate::records::{RecordBatch, RecordBatchBuilder};

    /// A batch of `count` records whose records are `plain` (any bytes), compressed with `codec`;
    /// header, lengths and CRC are consistent, so only the records can be wrong.
    fn batch_over(codec: Compression, plain: &[u8], count: i32) -> Bytes {
        let payload = compress(codec, plain).unwrap();
        let mut buf = BytesMut::new();
        buf.put_i64(0);
        buf.put_i32(i32::try_from(HEADER_LEN - 12 + payload.len()).unwrap());
        buf.put_i32(-1);
        buf.put_i8(2);
        buf.put_u32(0);
        buf.put_i16(codec.id());
        buf.put_i32(count - 1);
        buf.put_i64(1000);
        buf.put_i64(1000);
        buf.put_i64(-1);
        buf.put_i16(-1);
        buf.put_i32(-1);
        buf.put_i32(count);
        buf.put_slice(&payload);
        let crc = compute_crc(&buf);
        buf[17..21].copy_from_slice(&crc.to_be_bytes());
        buf.freeze()
    }

    /// The records of a batch built normally, uncompressed, as plain bytes.
    fn plain_records(count: usize, value_len: usize) -> Vec<u8> {
        let mut builder = RecordBatchBuilder::new();
        for i in 0..count {
            builder.push(
                1000 + i64::try_from(i).unwrap(),
                Some(Bytes::from(format!("key-{i}"))),
                Some(Bytes::from(vec![b'v'; value_len])),
                vec![],
            );
        }
        builder.build().unwrap()[HEADER_LEN..].to_vec()
    }

    fn walk(batch: &[u8], cap: usize) -> Result<Vec<(i64, i32, usize)>, RecordError> {
        let header = BatchHeader::parse(batch)?;
        let mut seen = Vec::new();
        let broke = walk_records::<()>(&header, batch, cap, |_, r| {
            seen.push((
                r.timestamp_delta,
                r.offset_delta,
                r.value.map_or(0, <[u8]>::len),
            ));
            ControlFlow::Continue(())
        })?;
        assert_eq!(broke, None);
        Ok(seen)
    }

    #[test]
    fn every_codec_walks_what_decode_sees() {
        let mut builder = RecordBatchBuilder::new();
        builder.push(
            5,
            Some(Bytes::from_static(b"k")),
            None,
            vec![crate::records::Header {
                key: "h".into(),
                value: Some(Bytes::from_static(b"x")),
            }],
        );
        // Larger than the window, so the window must grow to hold it.
        builder.push(6, None, Some(Bytes::from(vec![7u8; 3 * WINDOW])), vec![]);
        for i in 0..500 {
            builder.push(7 + i, Some(Bytes::from(format!("k{i}"))), None, vec![]);
        }
        for codec in Compression::ALL {
            let batch = builder.clone().compression(codec).build().unwrap();
            let decoded = RecordBatch::decode(&batch, 1 << 20).unwrap();
            let expected: Vec<_> = decoded
                .records
                .iter()
                .map(|r| {
                    let len = r.value.as_ref().map_or(0, Bytes::len);
                    (r.timestamp_delta, r.offset_delta, len)
                })
                .collect();
            assert_eq!(walk(&batch, 1 << 20).unwrap(), expected, "{codec}");
        }
    }

    #[test]
    fn garbage_records_fail_at_the_same_place_compressed_or_not() {
        let mut plain = plain_records(10, 20);
        // Record 3's length prefix becomes 0x7f: a length of -64.
        let third = plain_records(3, 20).len();
        plain[third] = 0x7f;
        let reference = walk(&batch_over(Compression::None, &plain, 10), 1 << 20).unwrap_err();
        let RecordError::InvalidRecord { index: 3, source } = &reference else {
            panic!("unexpected {reference:?}");
        };
        assert_eq!(source.offset(), Some(third));
        for codec in Compression::ALL {
            let err = walk(&batch_over(codec, &plain, 10), 1 << 20).unwrap_err();
            assert_eq!(err, reference, "{codec}");
            assert_eq!(err.error_code(), crate::ErrorCode::CorruptMessage);
        }
    }

    #[test]
    fn walking_agrees_with_decoding_on_every_corrupted_byte() {
        let mut builder = RecordBatchBuilder::new();
        builder.push(
            1000,
            Some(Bytes::from_static(b"key")),
            Some(Bytes::from_static(b"value")),
            vec![crate::records::Header {
                key: "trace".into(),
                value: Some(Bytes::from_static(b"abc")),
            }],
        );
        builder.push(1001, None, Some(Bytes::from_static(b"v2")), vec![]);
        builder.push(1002, Some(Bytes::from_static(b"k3")), None, vec![]);
        let plain = builder.build().unwrap()[HEADER_LEN..].to_vec();
        for codec in [Compression::None, Compression::Zstd, Compression::Snappy] {
            for at in 0..plain.len() {
                for byte in [0x00, 0x7f, 0x80, 0xff, plain[at] ^ 0x01] {
                    let mut bad = plain.clone();
                    bad[at] = byte;
                    let batch = batch_over(codec, &bad, 3);
                    let walked = walk(&batch, 1 << 20).map(|seen| seen.len());
                    let decoded = RecordBatch::decode(&batch, 1 << 20).map(|b| b.records.len());
                    assert_eq!(walked, decoded, "{codec}: byte {at} set to {byte:#04x}");
                }
            }
        }
    }

    #[test]
    fn random_bytes_are_corrupt_in_every_codec() {
        let noise: Vec<u8> = (0..4000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for codec in Compression::ALL {
            let err = walk(&batch_over(codec, &noise, 3), 1 << 20).unwrap_err();
            assert_eq!(
                err.error_code(),
                crate::ErrorCode::CorruptMessage,
                "{codec}: {err}"
            );
        }
    }

    #[test]
    fn counts_that_disagree_with_the_records_fail() {
        let plain = plain_records(4, 10);
        for codec in Compression::ALL {
            let more = walk(&batch_over(codec, &plain, 5), 1 << 20).unwrap_err();
            assert!(
                matches!(more, RecordError::InvalidRecord { index: 4, .. }),
                "{codec}: {more:?}"
            );
            let fewer = walk(&batch_over(codec, &plain, 3), 1 << 20).unwrap_err();
            let tail = plain.len() - plain_records(3, 10).len();
            assert_eq!(
                fewer,
                RecordError::TrailingRecordBytes {
                    count: 3,
                    remaining: tail
                },
                "{codec}"
            );
        }
    }

    #[test]
    fn a_bomb_of_valid_records_stops_at_the_cap() {
        // 64 records of 64 KiB: 4 MiB of valid records against a 1 MiB cap.
        let plain = plain_records(64, 64 * 1024);
        for codec in Compression::ALL {
            if codec == Compression::None {
                continue;
            }
            let err = walk(&batch_over(codec, &plain, 64), 1 << 20).unwrap_err();
            assert_eq!(
                err,
                RecordError::DecompressedTooLarge {
                    codec,
                    limit: 1 << 20
                },
                "{codec}"
            );
            // The same records fit a larger cap.
            assert_eq!(
                walk(&batch_over(codec, &plain, 64), 8 << 20).unwrap().len(),
                64
            );
        }
    }

    #[test]
    fn a_record_claiming_more_than_the_cap_is_refused_before_reading_it() {
        // One record whose length prefix claims 100 MiB, followed by a few bytes.
        let mut plain = BytesMut::new();
        crate::primitives::put_varint(&mut plain, 100 << 20);
        plain.put_slice(&[0; 16]);
        let err = walk(&batch_over(Compression::Zstd, &plain, 1), 1 << 20).unwrap_err();
        assert_eq!(err.error_code(), crate::ErrorCode::MessageTooLarge);
    }

    #[test]
    fn a_visitor_can_stop_early() {
        let batch = batch_over(Compression::Lz4, &plain_records(10, 5), 10);
        let header = BatchHeader::parse(&batch).unwrap();
        let found = walk_records(&header, &batch, 1 << 20, |index, r| {
            if r.timestamp_delta >= 4 {
                ControlFlow::Break(index)
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(found, Ok(Some(4)));
    }
}
