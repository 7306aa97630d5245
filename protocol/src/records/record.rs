//! One record of a v2 batch.
//!
//! Layout: length (varint, bytes after itself), attributes (i8, unused), timestamp delta
//! (varlong), offset delta (varint), key (varint length, -1 for null, then bytes), value (same),
//! header count (varint), then per header a key (varint length, UTF-8) and a value (varint
//! length, -1 for null).
//!
//! [`RecordFrame`] walks the framing and borrows every field; [`Record`] owns its fields as
//! slices of the buffer the record was parsed from: decoding copies nothing but header keys.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::primitives::{
    fail, int8, put_varint, put_varlong, share, take, varint, varint_len, varlong, varlong_len,
    PResult,
};

/// A record header: a string key and an optional value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header name.
    pub key: String,
    /// The header value; `None` is a null value, distinct from an empty one.
    pub value: Option<Bytes>,
}

/// One record of a v2 batch, with its offset and timestamp relative to the batch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Timestamp minus the batch's base timestamp.
    pub timestamp_delta: i64,
    /// Offset minus the batch's base offset.
    pub offset_delta: i32,
    /// The key, or `None` for a null key.
    pub key: Option<Bytes>,
    /// The value, or `None` for a tombstone.
    pub value: Option<Bytes>,
    /// Headers in the order they were written.
    pub headers: Vec<Header>,
}

/// Maps a parser error to one that names `field`.
fn field<'a, T>(name: &'static str, result: PResult<'a, T>) -> PResult<'a, T> {
    result.map_err(|e| e.map(|e| e.in_field(name)))
}

/// Parses a varint length: `None` for -1, otherwise a length within `input`.
fn var_len(input: &[u8]) -> PResult<'_, Option<usize>> {
    let (rest, len) = varint(input)?;
    if len == -1 {
        return Ok((rest, None));
    }
    match usize::try_from(len) {
        Ok(n) if n <= rest.len() => Ok((rest, Some(n))),
        Ok(n) => fail(rest, DecodeErrorKind::Truncated { needed: n }),
        Err(_) => fail(input, DecodeErrorKind::InvalidLength(i64::from(len))),
    }
}

/// Parses varint-length nullable bytes as a slice of `input`.
fn var_slice(input: &[u8]) -> PResult<'_, Option<&[u8]>> {
    let (rest, len) = var_len(input)?;
    match len {
        None => Ok((rest, None)),
        Some(n) => take(rest, n).map(|(rest, raw)| (rest, Some(raw))),
    }
}

/// Walks one header: a non-null UTF-8 key and a nullable value, both borrowed.
fn parse_header(input: &[u8]) -> PResult<'_, (&str, Option<&[u8]>)> {
    let (rest, len) = field("key", var_len(input))?;
    let Some(len) = len else {
        return field("key", fail(input, DecodeErrorKind::UnexpectedNull));
    };
    let (rest, raw) = field("key", take(rest, len))?;
    let Ok(key) = std::str::from_utf8(raw) else {
        return field("key", fail(input, DecodeErrorKind::InvalidUtf8));
    };
    let (rest, value) = field("value", var_slice(rest))?;
    Ok((rest, (key, value)))
}

/// One record's framing walked and checked, its fields borrowed from the bytes it was parsed
/// from. This is the one record parser: [`Record::parse`] materialises a frame, and
/// [`super::walk`] checks records with it without copying or allocating anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFrame<'a> {
    /// Timestamp minus the batch's base timestamp.
    pub timestamp_delta: i64,
    /// Offset minus the batch's base offset.
    pub offset_delta: i32,
    /// The key, or `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// The value, or `None` for a tombstone.
    pub value: Option<&'a [u8]>,
    /// Number of headers.
    pub header_count: usize,
    /// The headers' bytes, already checked to hold `header_count` well-formed headers, so that
    /// [`RecordFrame::headers`] need not report errors.
    headers: &'a [u8],
}

impl<'a> RecordFrame<'a> {
    /// Walks one record from the front of `input`: every length, varint and header is checked,
    /// and the record must use exactly the bytes its length prefix claims. Nothing is copied.
    pub fn parse(input: &'a [u8]) -> PResult<'a, Self> {
        let (body, len) = field("length", varint(input))?;
        let Ok(len) = usize::try_from(len) else {
            return field(
                "length",
                fail(input, DecodeErrorKind::InvalidLength(len.into())),
            );
        };
        let (after, _) = field("length", take(body, len))?;
        // Fields are parsed from `body`, not from a slice cut at `len`, so that error offsets
        // count from the caller's input; a record that reads past its length fails below.
        let (rest, _attributes) = field("attributes", int8(body))?;
        let (rest, timestamp_delta) = field("timestamp_delta", varlong(rest))?;
        let (rest, offset_delta) = field("offset_delta", varint(rest))?;
        let (rest, key) = field("key", var_slice(rest))?;
        let (rest, value) = field("value", var_slice(rest))?;
        let (headers, count) = field("headers", varint(rest))?;
        let Ok(header_count) = usize::try_from(count) else {
            return field(
                "headers",
                fail(headers, DecodeErrorKind::InvalidLength(count.into())),
            );
        };
        let mut rest = headers;
        for i in 0..header_count {
            let (next, _) =
                parse_header(rest).map_err(|e| e.map(|e| e.in_element(i).in_field("headers")))?;
            rest = next;
        }
        // The fields must fill the declared length exactly, as Kafka requires.
        if body.len() - rest.len() != len {
            let declared = i64::try_from(len).unwrap_or(i64::MAX);
            return field(
                "length",
                fail(input, DecodeErrorKind::InvalidLength(declared)),
            );
        }
        let headers = &headers[..headers.len() - rest.len()];
        Ok((
            after,
            Self {
                timestamp_delta,
                offset_delta,
                key,
                value,
                header_count,
                headers,
            },
        ))
    }

    /// The headers in order, as (key, value).
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, Option<&'a [u8]>)> + 'a {
        let mut rest = self.headers;
        // `parse` checked these bytes, so the walk cannot fail; stopping is the safe answer if
        // it somehow did.
        (0..self.header_count).map_while(move |_| {
            let (next, header) = parse_header(rest).ok()?;
            rest = next;
            Some(header)
        })
    }
}

impl Record {
    /// Parses one record from the front of `input`, which must be a slice of `source` (keys and
    /// values become slices of `source`). The record must use exactly the bytes its length
    /// prefix claims.
    pub fn parse<'a>(source: &Bytes, input: &'a [u8]) -> PResult<'a, Record> {
        let (after, frame) = RecordFrame::parse(input)?;
        Ok((after, Self::from_frame(source, &frame)))
    }

    /// The record a frame describes; the frame's slices must lie inside `source`, whose
    /// allocation keys and values then share. Only header keys are copied.
    pub fn from_frame(source: &Bytes, frame: &RecordFrame<'_>) -> Record {
        Record {
            timestamp_delta: frame.timestamp_delta,
            offset_delta: frame.offset_delta,
            key: frame.key.map(|k| share(source, k)),
            value: frame.value.map(|v| share(source, v)),
            headers: frame
                .headers()
                .map(|(key, value)| Header {
                    key: key.to_owned(),
                    value: value.map(|v| share(source, v)),
                })
                .collect(),
        }
    }

    /// Bytes after the length prefix.
    fn body_len(&self) -> usize {
        let bytes_len = |b: &Option<Bytes>| match b {
            None => varint_len(-1),
            Some(b) => varint_len(len_as_i32(b.len())) + b.len(),
        };
        1 + varlong_len(self.timestamp_delta)
            + varint_len(self.offset_delta)
            + bytes_len(&self.key)
            + bytes_len(&self.value)
            + varint_len(len_as_i32(self.headers.len()))
            + self
                .headers
                .iter()
                .map(|h| varint_len(len_as_i32(h.key.len())) + h.key.len() + bytes_len(&h.value))
                .sum::<usize>()
    }

    /// Size of the encoded record, length prefix included.
    pub fn encoded_len(&self) -> usize {
        let body = self.body_len();
        varint_len(len_as_i32(body)) + body
    }

    /// Writes the record, length prefix included.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let body = self.body_len();
        put_varint(buf, checked_len(body, "record")?);
        buf.put_i8(0);
        put_varlong(buf, self.timestamp_delta);
        put_varint(buf, self.offset_delta);
        put_var_bytes(buf, self.key.as_deref(), "record key")?;
        put_var_bytes(buf, self.value.as_deref(), "record value")?;
        put_varint(buf, checked_len(self.headers.len(), "record headers")?);
        for header in &self.headers {
            put_var_bytes(buf, Some(header.key.as_bytes()), "header key")?;
            put_var_bytes(buf, header.value.as_deref(), "header value")?;
        }
        Ok(())
    }
}

/// A length as the i32 a varint holds; lengths past `i32::MAX` are refused by [`Record::encode`],
/// so for sizing saturating is enough.
fn len_as_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

fn checked_len(len: usize, what: &'static str) -> Result<i32, EncodeError> {
    i32::try_from(len).map_err(|_| EncodeError::TooLong { what, len })
}

fn put_var_bytes(
    buf: &mut BytesMut,
    value: Option<&[u8]>,
    what: &'static str,
) -> Result<(), EncodeError> {
    match value {
        None => put_varint(buf, -1),
        Some(v) => {
            put_varint(buf, checked_len(v.len(), what)?);
            buf.put_slice(v);
        }
    }
    Ok(())
}

/// Parses `count` records from `data` (a slice of `source`), then requires `data` to be used up.
/// Errors carry the record's index and an offset relative to the start of `data`.
pub fn parse_records(
    source: &Bytes,
    data: &[u8],
    count: usize,
) -> Result<(Vec<Record>, usize), (usize, DecodeError)> {
    // The smallest record is 7 bytes, which bounds what a lying count can reserve.
    let mut records = Vec::with_capacity(count.min(data.len() / 7));
    let mut rest = data;
    for index in 0..count {
        match Record::parse(source, rest) {
            Ok((next, record)) => {
                records.push(record);
                rest = next;
            }
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                return Err((index, e.at_input(data.len())));
            }
            Err(nom::Err::Incomplete(_)) => {
                let e = DecodeError::new(DecodeErrorKind::Truncated { needed: 1 }, 0);
                return Err((index, e.at_input(data.len())));
            }
        }
    }
    Ok((records, rest.len()))
}
