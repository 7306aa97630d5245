//! The protocol's primitive types: parsers over complete input and encoders into `BytesMut`.
//!
//! Every parser checks a claimed length against the bytes present before it allocates or slices,
//! so a lying length field costs nothing. Lengths of `Bytes` fields are sliced out of the source
//! buffer without copying (see [`share`]).

use bytes::{BufMut, Bytes, BytesMut};
use nom::IResult;
use uuid::Uuid;

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};

/// The result of a parser: the rest of the input and the value, or a [`DecodeError`].
pub type PResult<'a, T> = IResult<&'a [u8], T, DecodeError>;

/// Fails with `kind` at the position of `input`.
pub fn fail<T>(input: &[u8], kind: DecodeErrorKind) -> PResult<'_, T> {
    Err(nom::Err::Error(DecodeError::new(kind, input.len())))
}

/// Splits `n` bytes off the front of `input`.
pub fn take(input: &[u8], n: usize) -> PResult<'_, &[u8]> {
    if input.len() < n {
        return fail(input, DecodeErrorKind::Truncated { needed: n });
    }
    let (head, rest) = input.split_at(n);
    Ok((rest, head))
}

fn array<const N: usize>(input: &[u8]) -> PResult<'_, [u8; N]> {
    let (rest, head) = take(input, N)?;
    let mut out = [0u8; N];
    out.copy_from_slice(head);
    Ok((rest, out))
}

/// Parses a big-endian `int8`.
pub fn int8(input: &[u8]) -> PResult<'_, i8> {
    array::<1>(input).map(|(r, b)| (r, i8::from_be_bytes(b)))
}

/// Parses a big-endian `int16`.
pub fn int16(input: &[u8]) -> PResult<'_, i16> {
    array::<2>(input).map(|(r, b)| (r, i16::from_be_bytes(b)))
}

/// Parses a big-endian `uint16`.
pub fn uint16(input: &[u8]) -> PResult<'_, u16> {
    array::<2>(input).map(|(r, b)| (r, u16::from_be_bytes(b)))
}

/// Parses a big-endian `int32`.
pub fn int32(input: &[u8]) -> PResult<'_, i32> {
    array::<4>(input).map(|(r, b)| (r, i32::from_be_bytes(b)))
}

/// Parses a big-endian `uint32`.
pub fn uint32(input: &[u8]) -> PResult<'_, u32> {
    array::<4>(input).map(|(r, b)| (r, u32::from_be_bytes(b)))
}

/// Parses a big-endian `int64`.
pub fn int64(input: &[u8]) -> PResult<'_, i64> {
    array::<8>(input).map(|(r, b)| (r, i64::from_be_bytes(b)))
}

/// Parses a big-endian IEEE 754 `float64`.
pub fn float64(input: &[u8]) -> PResult<'_, f64> {
    array::<8>(input).map(|(r, b)| (r, f64::from_be_bytes(b)))
}

/// Parses a `bool` (any non-zero byte is true, as in Kafka).
pub fn boolean(input: &[u8]) -> PResult<'_, bool> {
    array::<1>(input).map(|(r, b)| (r, b[0] != 0))
}

/// Parses a 16-byte UUID.
pub fn uuid(input: &[u8]) -> PResult<'_, Uuid> {
    array::<16>(input).map(|(r, b)| (r, Uuid::from_bytes(b)))
}

/// Parses an unsigned LEB128 varint of at most 64 bits.
pub fn unsigned_varlong(input: &[u8]) -> PResult<'_, u64> {
    let mut value = 0u64;
    for (i, &byte) in input.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((&input[i + 1..], value));
        }
    }
    if input.len() >= 10 {
        fail(input, DecodeErrorKind::VarintTooLong)
    } else {
        fail(
            input,
            DecodeErrorKind::Truncated {
                needed: input.len() + 1,
            },
        )
    }
}

/// Parses an unsigned varint of at most 32 bits.
pub fn unsigned_varint(input: &[u8]) -> PResult<'_, u32> {
    let mut value = 0u32;
    for (i, &byte) in input.iter().enumerate().take(5) {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((&input[i + 1..], value));
        }
    }
    if input.len() >= 5 {
        fail(input, DecodeErrorKind::VarintTooLong)
    } else {
        fail(
            input,
            DecodeErrorKind::Truncated {
                needed: input.len() + 1,
            },
        )
    }
}

/// Parses a zigzag-encoded signed varint (32 bits), as used inside records.
pub fn varint(input: &[u8]) -> PResult<'_, i32> {
    let (rest, raw) = unsigned_varint(input)?;
    Ok((rest, ((raw >> 1) as i32) ^ -((raw & 1) as i32)))
}

/// Parses a zigzag-encoded signed varlong (64 bits), as used inside records.
pub fn varlong(input: &[u8]) -> PResult<'_, i64> {
    let (rest, raw) = unsigned_varlong(input)?;
    Ok((rest, ((raw >> 1) as i64) ^ -((raw & 1) as i64)))
}

/// Parses a length prefix of a nullable value: `None` for null (-1), otherwise a length that is
/// checked against the bytes left after the prefix.
fn checked_len(
    input: &[u8],
    rest: &[u8],
    len: i64,
) -> Result<Option<usize>, nom::Err<DecodeError>> {
    if len == -1 {
        return Ok(None);
    }
    match usize::try_from(len) {
        Ok(n) if n <= rest.len() => Ok(Some(n)),
        Ok(n) => Err(nom::Err::Error(DecodeError::new(
            DecodeErrorKind::Truncated { needed: n },
            rest.len(),
        ))),
        Err(_) => Err(nom::Err::Error(DecodeError::new(
            DecodeErrorKind::InvalidLength(len),
            input.len(),
        ))),
    }
}

/// Parses an `int16` length prefix (classic strings): `None` for null.
pub fn len16(input: &[u8]) -> PResult<'_, Option<usize>> {
    let (rest, len) = int16(input)?;
    Ok((rest, checked_len(input, rest, i64::from(len))?))
}

/// Parses an `int32` length prefix (classic bytes): `None` for null.
pub fn len32(input: &[u8]) -> PResult<'_, Option<usize>> {
    let (rest, len) = int32(input)?;
    Ok((rest, checked_len(input, rest, i64::from(len))?))
}

/// Parses a compact length prefix (unsigned varint holding length + 1): `None` for null.
pub fn compact_len(input: &[u8]) -> PResult<'_, Option<usize>> {
    let (rest, raw) = unsigned_varint(input)?;
    Ok((rest, checked_len(input, rest, i64::from(raw) - 1)?))
}

/// Parses an `int32` array count: `None` for null. The count is checked against the bytes left,
/// because every element takes at least one byte.
pub fn array_len32(input: &[u8]) -> PResult<'_, Option<usize>> {
    len32(input)
}

/// Parses a compact array count (unsigned varint holding count + 1): `None` for null.
pub fn compact_array_len(input: &[u8]) -> PResult<'_, Option<usize>> {
    compact_len(input)
}

/// Takes a value of the length the prefix parser `len` reads; `None` for null.
pub fn prefixed<'a>(
    input: &'a [u8],
    len: fn(&'a [u8]) -> PResult<'a, Option<usize>>,
) -> PResult<'a, Option<&'a [u8]>> {
    let (rest, n) = len(input)?;
    match n {
        None => Ok((rest, None)),
        Some(n) => take(rest, n).map(|(r, v)| (r, Some(v))),
    }
}

/// Checks that `raw` is UTF-8.
pub fn utf8(input: &[u8], raw: &[u8]) -> Result<String, nom::Err<DecodeError>> {
    std::str::from_utf8(raw)
        .map(str::to_owned)
        .map_err(|_| nom::Err::Error(DecodeError::new(DecodeErrorKind::InvalidUtf8, input.len())))
}

/// Turns a slice of `source` into `Bytes` that share `source`'s allocation.
///
/// `part` must lie inside `source` (it always does when it was parsed out of it); an empty
/// slice gives empty `Bytes`.
pub fn share(source: &Bytes, part: &[u8]) -> Bytes {
    if part.is_empty() {
        Bytes::new()
    } else {
        source.slice_ref(part)
    }
}

/// Converts a nom result at the top of a decode into a plain `Result`, fixing the error offset
/// against the length of the input the decode started on.
pub fn finish<T>(result: PResult<'_, T>, input_len: usize) -> Result<(usize, T), DecodeError> {
    match result {
        Ok((rest, value)) => Ok((input_len - rest.len(), value)),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e.at_input(input_len)),
        Err(nom::Err::Incomplete(_)) => {
            Err(DecodeError::new(DecodeErrorKind::Truncated { needed: 1 }, 0).at_input(input_len))
        }
    }
}

/// Writes an unsigned varint.
pub fn put_unsigned_varint(buf: &mut BytesMut, mut value: u32) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

/// Writes an unsigned varlong.
pub fn put_unsigned_varlong(buf: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

/// Writes a zigzag varint.
pub fn put_varint(buf: &mut BytesMut, value: i32) {
    put_unsigned_varint(buf, ((value << 1) ^ (value >> 31)) as u32);
}

/// Writes a zigzag varlong.
pub fn put_varlong(buf: &mut BytesMut, value: i64) {
    put_unsigned_varlong(buf, ((value << 1) ^ (value >> 63)) as u64);
}

/// Encoded size of an unsigned varint.
pub fn unsigned_varint_len(value: u32) -> usize {
    unsigned_varlong_len(u64::from(value))
}

/// Encoded size of an unsigned varlong.
pub fn unsigned_varlong_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Encoded size of a zigzag varint.
pub fn varint_len(value: i32) -> usize {
    unsigned_varint_len(((value << 1) ^ (value >> 31)) as u32)
}

/// Encoded size of a zigzag varlong.
pub fn varlong_len(value: i64) -> usize {
    unsigned_varlong_len(((value << 1) ^ (value >> 63)) as u64)
}

/// Writes a bool as one byte.
pub fn put_bool(buf: &mut BytesMut, value: bool) {
    buf.put_u8(u8::from(value));
}

/// Writes a UUID's 16 bytes.
pub fn put_uuid(buf: &mut BytesMut, value: &Uuid) {
    buf.put_slice(value.as_bytes());
}

/// Writes the length prefix of a nullable value: classic `int16`.
pub fn put_len16(
    buf: &mut BytesMut,
    len: Option<usize>,
    what: &'static str,
) -> Result<(), EncodeError> {
    match len {
        None => buf.put_i16(-1),
        Some(n) => {
            buf.put_i16(i16::try_from(n).map_err(|_| EncodeError::TooLong { what, len: n })?);
        }
    }
    Ok(())
}

/// Writes the length prefix of a nullable value: classic `int32`.
pub fn put_len32(
    buf: &mut BytesMut,
    len: Option<usize>,
    what: &'static str,
) -> Result<(), EncodeError> {
    match len {
        None => buf.put_i32(-1),
        Some(n) => {
            buf.put_i32(i32::try_from(n).map_err(|_| EncodeError::TooLong { what, len: n })?);
        }
    }
    Ok(())
}

/// Writes the length prefix of a nullable value: compact (length + 1 as an unsigned varint).
pub fn put_compact_len(
    buf: &mut BytesMut,
    len: Option<usize>,
    what: &'static str,
) -> Result<(), EncodeError> {
    match len {
        None => put_unsigned_varint(buf, 0),
        Some(n) => put_unsigned_varint(
            buf,
            u32::try_from(n + 1).map_err(|_| EncodeError::TooLong { what, len: n })?,
        ),
    }
    Ok(())
}

/// Encoded size of a compact length prefix.
pub fn compact_len_len(len: Option<usize>) -> usize {
    match len {
        None => 1,
        Some(n) => unsigned_varlong_len(n as u64 + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varint_round_trips(v: i32) {
            let mut buf = BytesMut::new();
            put_varint(&mut buf, v);
            prop_assert_eq!(buf.len(), varint_len(v));
            let (rest, back) = varint(&buf).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(back, v);
        }

        #[test]
        fn varlong_round_trips(v: i64) {
            let mut buf = BytesMut::new();
            put_varlong(&mut buf, v);
            prop_assert_eq!(buf.len(), varlong_len(v));
            let (rest, back) = varlong(&buf).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(back, v);
        }

        #[test]
        fn unsigned_varint_round_trips(v: u32) {
            let mut buf = BytesMut::new();
            put_unsigned_varint(&mut buf, v);
            prop_assert_eq!(buf.len(), unsigned_varint_len(v));
            let (_, back) = unsigned_varint(&buf).unwrap();
            prop_assert_eq!(back, v);
        }
    }

    #[test]
    fn zero_varint_is_one_byte() {
        assert_eq!(unsigned_varint_len(0), 1);
        assert_eq!(unsigned_varlong_len(u64::MAX), 10);
    }

    #[test]
    fn lying_length_is_rejected_before_slicing() {
        // Claims 2 GiB but carries 3 bytes.
        let input = [0x7f, 0xff, 0xff, 0xff, 1, 2, 3];
        let err = finish(prefixed(&input, len32), input.len()).unwrap_err();
        assert_eq!(
            err.kind,
            DecodeErrorKind::Truncated {
                needed: 0x7fff_ffff
            }
        );
        assert_eq!(err.offset(), Some(4));
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let input = [0xff; 6];
        let err = finish(unsigned_varint(&input), input.len()).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::VarintTooLong);
    }

    #[test]
    fn error_names_its_path() {
        let err = DecodeError::new(DecodeErrorKind::Truncated { needed: 8 }, 3)
            .in_field("fetch_offset")
            .in_element(0)
            .in_field("partitions")
            .in_element(1)
            .in_field("topics")
            .at_input(60);
        assert_eq!(
            err.to_string(),
            "topics[1].partitions[0].fetch_offset: need 8 bytes at 57, have 3"
        );
    }
}
