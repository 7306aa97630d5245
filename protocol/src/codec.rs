//! The traits every generated message implements, and the wire plumbing their code calls.
//!
//! The generated code in [`crate::messages`] is thin: it says which fields exist in which
//! version and in what order. How a string, an array or a tagged-field section looks on the
//! wire lives here, once, in the [`wire`] module.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::messages::ApiKey;

/// An inclusive range of message versions; empty when `min > max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    /// Lowest version in the range.
    pub min: i16,
    /// Highest version in the range.
    pub max: i16,
}

impl VersionRange {
    /// The empty range (a message with no flexible versions).
    pub const NONE: Self = Self { min: 0, max: -1 };

    /// Whether `version` lies in the range.
    pub const fn contains(self, version: i16) -> bool {
        self.min <= version && version <= self.max
    }

    /// Whether the range holds no version at all.
    pub const fn is_empty(self) -> bool {
        self.min > self.max
    }
}

/// A tagged field this codec does not know, kept so it survives a decode/encode round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTaggedField {
    /// The field's tag.
    pub tag: u32,
    /// The field's bytes, exactly as they were on the wire.
    pub data: Bytes,
}

/// A value that can be read from the front of a buffer in a given version.
pub trait Decode: Sized {
    /// Decodes one value from the front of `buf` and advances `buf` past it.
    ///
    /// `bytes` and `records` fields share `buf`'s allocation instead of copying.
    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError>;
}

/// A value that can be written in a given version.
pub trait Encode {
    /// Appends the value, as it looks in `version`, to `buf`.
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError>;

    /// The number of bytes [`Encode::encode`] would write.
    fn encoded_len(&self, version: i16) -> Result<usize, EncodeError>;
}

/// A top-level message (request, response, header or embedded protocol struct).
pub trait Message: Decode + Encode {
    /// The message's name in Kafka's definitions, like `ProduceRequest`.
    const NAME: &'static str;
    /// The versions this codec reads and writes.
    const VERSIONS: VersionRange;
    /// The versions that use compact encodings and tagged fields.
    const FLEXIBLE_VERSIONS: VersionRange;
}

/// A request body, tied to its API key and its response type.
pub trait Request: Message {
    /// The API key that announces this request in the request header.
    const API_KEY: ApiKey;
    /// The body a broker answers with.
    type Response: Message;
}

/// An `i16` that is not one of the API keys this codec knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown API key {0}")]
pub struct UnknownApiKey(pub i16);

/// Decodes a whole message from the front of `buf`: checks the version, parses, and advances
/// `buf` past what was consumed.
pub(crate) fn decode_message<M: Message + wire::Wire>(
    buf: &mut Bytes,
    version: i16,
) -> Result<M, DecodeError> {
    if !M::VERSIONS.contains(version) {
        return Err(DecodeError::new(
            crate::error::DecodeErrorKind::UnsupportedVersion(version),
            buf.len(),
        )
        .at_input(buf.len()));
    }
    let source = buf.clone();
    let cx = wire::Cx {
        version,
        compact: M::FLEXIBLE_VERSIONS.contains(version),
    };
    let (consumed, value) = crate::primitives::finish(M::read(&source, &source, cx), source.len())?;
    buf.advance(consumed);
    Ok(value)
}

/// Checks the version of a message about to be written.
fn check_encode_version<M: Message>(version: i16) -> Result<wire::Cx, EncodeError> {
    if M::VERSIONS.contains(version) {
        Ok(wire::Cx {
            version,
            compact: M::FLEXIBLE_VERSIONS.contains(version),
        })
    } else {
        Err(EncodeError::UnsupportedVersion {
            message: M::NAME,
            version,
        })
    }
}

/// Writes a whole message after checking its version.
pub(crate) fn encode_message<M: Message + wire::Wire>(
    message: &M,
    buf: &mut BytesMut,
    version: i16,
) -> Result<(), EncodeError> {
    let cx = check_encode_version::<M>(version)?;
    message.write(buf, cx)
}

/// The encoded size of a whole message after checking its version.
pub(crate) fn message_len<M: Message + wire::Wire>(
    message: &M,
    version: i16,
) -> Result<usize, EncodeError> {
    let cx = check_encode_version::<M>(version)?;
    message.size(cx)
}

/// How each kind of value looks on the wire. Used by the generated code only.
pub(crate) mod wire {
    use bytes::{BufMut, Bytes, BytesMut};
    use uuid::Uuid;

    use super::RawTaggedField;
    use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
    use crate::primitives::{self as p, PResult};

    /// What a value's encoding depends on: the message version and whether lengths are compact.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Cx {
        /// The version of the enclosing message.
        pub(crate) version: i16,
        /// Compact (varint) lengths, as in flexible versions.
        pub(crate) compact: bool,
    }

    /// A value with one wire form (never null).
    pub(crate) trait Wire: Sized {
        /// Parses the value; `src` is the buffer `input` was sliced from, for zero-copy bytes.
        fn read<'a>(src: &Bytes, input: &'a [u8], cx: Cx) -> PResult<'a, Self>;
        /// Writes the value.
        fn write(&self, buf: &mut BytesMut, cx: Cx) -> Result<(), EncodeError>;
        /// The number of bytes [`Wire::write`] writes.
        fn size(&self, cx: Cx) -> Result<usize, EncodeError>;
    }

    /// A value that has a null form on the wire.
    pub(crate) trait Nullable: Wire {
        /// Parses the value or null.
        fn read_opt<'a>(src: &Bytes, input: &'a [u8], cx: Cx) -> PResult<'a, Option<Self>>;
        /// Writes the value or null.
        fn write_opt(value: Option<&Self>, buf: &mut BytesMut, cx: Cx) -> Result<(), EncodeError>;
        /// The number of bytes [`Nullable::write_opt`] writes.
        fn size_opt(value: Option<&Self>, cx: Cx) -> Result<usize, EncodeError>;
    }

    /// Adds `name` to the path of an error coming out of a field's parser.
    pub(crate) fn field<'a, T>(name: &'static str, result: PResult<'a, T>) -> PResult<'a, T> {
        result.map_err(|e| e.map(|e| e.in_field(name)))
    }

    fn null_error(input: &[u8]) -> nom::Err<DecodeError> {
        nom::Err::Error(DecodeError::new(
            DecodeErrorKind::UnexpectedNull,
            input.len(),
        ))
    }

    /// Reads a field whose Rust type is `Option<T>`; null is only accepted when `nullable`.
    pub(crate) fn read_opt<'a, T: Nullable>(
        src: &Bytes,
        input: &'a [u8],
        cx: Cx,
        nullable: bool,
    ) -> PResult<'a, Option<T>> {
        if nullable {
            T::read_opt(src, input, cx)
        } else {
            T::read(src, input, cx).map(|(rest, v)| (rest, Some(v)))
        }
    }

    /// Writes a field whose Rust type is `Option<T>`; null is only written when `nullable`.
    pub(crate) fn write_opt<T: Nullable>(
        buf: &mut BytesMut,
        value: Option<&T>,
        cx: Cx,
        nullable: bool,
        at: (&'static str, &'static str),
    ) -> Result<(), EncodeError> {
        if value.is_none() && !nullable {
            return Err(unexpected_null(at, cx.version));
        }
        T::write_opt(value, buf, cx)
    }

    /// The size of a field whose Rust type is `Option<T>`.
    pub(crate) fn size_opt<T: Nullable>(
        value: Option<&T>,
        cx: Cx,
        nullable: bool,
        at: (&'static str, &'static str),
    ) -> Result<usize, EncodeError> {
        if value.is_none() && !nullable {
            return Err(unexpected_null(at, cx.version));
        }
        T::size_opt(value, cx)
    }

    fn unexpected_null(
        (message, field): (&'static str, &'static str),
        version: i16,
    ) -> EncodeError {
        EncodeError::UnexpectedNull {
            message,
            field,
            version,
        }
    }

    /// The error for a non-default value in a field the version does not have.
    pub(crate) fn unsupported(
        message: &'static str,
        field: &'static str,
        version: i16,
    ) -> EncodeError {
        EncodeError::UnsupportedField {
            message,
            field,
            version,
        }
    }

    macro_rules! fixed {
        ($ty:ty, $parse:path, $put:ident, $len:expr) => {
            impl Wire for $ty {
                fn read<'a>(_: &Bytes, input: &'a [u8], _: Cx) -> PResult<'a, Self> {
                    $parse(input)
                }
                fn write(&self, buf: &mut BytesMut, _: Cx) -> Result<(), EncodeError> {
                    buf.$put(*self);
                    Ok(())
                }
                fn size(&self, _: Cx) -> Result<usize, EncodeError> {
                    Ok($len)
                }
            }
        };
    }

    fixed!(i8, p::int8, put_i8, 1);
    fixed!(i16, p::int16, put_i16, 2);
    fixed!(i32, p::int32, put_i32, 4);
    fixed!(i64, p::int64, put_i64, 8);
    fixed!(u16, p::uint16, put_u16, 2);
    fixed!(u32, p::uint32, put_u32, 4);
    fixed!(f64, p::float64, put_f64, 8);

    impl Wire for bool {
        fn read<'a>(_: &Bytes, input: &'a [u8], _: Cx) -> PResult<'a, Self> {
            p::boolean(input)
        }
        fn write(&self, buf: &mut BytesMut, _: Cx) -> Result<(), EncodeError> {
            p::put_bool(buf, *self);
            Ok(())
        }
        fn size(&self, _: Cx) -> Result<usize, EncodeError> {
            Ok(1)
        }
    }

    impl Wire for Uuid {
        fn read<'a>(_: &Bytes, input: &'a [u8], _: Cx) -> PResult<'a, Self> {
            p::uuid(input)
        }
        fn write(&self, buf: &mut BytesMut, _: Cx) -> Result<(), EncodeError> {
            p::put_uuid(buf, self);
            Ok(())
        }
        fn size(&self, _: Cx) -> Result<usize, EncodeError> {
            Ok(16)
        }
    }

    /// Implements [`Wire`] for a nullable type through its [`Nullable`] form.
    macro_rules! via_nullable {
        ($ty:ty $(, $gen:ident)?) => {
            impl$(<$gen: Wire>)? Wire for $ty {
                fn read<'a>(src: &Bytes, input: &'a [u8], cx: Cx) -> PResult<'a, Self> {
                    match <Self as Nullable>::read_opt(src, input, cx)? {
                        (rest, Some(v)) => Ok((rest, v)),
                        (_, None) => Err(null_error(input)),
                    }
                }
                fn write(&self, buf: &mut BytesMut, cx: Cx) -> Result<(), EncodeError> {
                    <Self as Nullable>::write_opt(Some(self), buf, cx)
                }
                fn size(&self, cx: Cx) -> Result<usize, EncodeError> {
                    <Self as Nullable>::size_opt(Some(self), cx)
                }
            }
        };
    }

    via_nullable!(String);
    via_nullable!(Bytes);
    via_nullable!(Vec<T>, T);

    /// Kafka refuses strings longer than an `int16` length can say, in every encoding.
    const MAX_STRING: usize = i16::MAX as usize;

    fn put_len(
        buf: &mut BytesMut,
        len: Option<usize>,
        compact: bool,
        classic: fn(&mut BytesMut, Option<usize>, &'static str) -> Result<(), EncodeError>,
        what: &'static str,
    ) -> Result<(), EncodeError> {
        if compact {
            p::put_compact_len(buf, len, what)
        } else {
            classic(buf, len, what)
        }
    }

    fn len_size(len: Option<usize>, compact: bool, classic: usize) -> usize {
        if compact {
            p::compact_len_len(len)
        } else {
            classic
        }
    }

    impl Nullable for String {
        fn read_opt<'a>(_: &Bytes, input: &'a [u8], cx: Cx) -> PResult<'a, Option<Self>> {
            let len = if cx.compact { p::compact_len } else { p::len16 };
            match p::prefixed(input, len)? {
                (rest, None) => Ok((rest, None)),
                (rest, Some(raw)) => Ok((rest, Some(p::utf8(input, raw)?))),
            }
        }
        fn write_opt(value: Option<&Self>, buf: &mut BytesMut, cx: Cx) -> Result<(), EncodeError> {
            let len = value.map(String::len);
            if let Some(n) = len.filter(|&n| n > MAX_STRING) {
                return Err(EncodeError::TooLong {
                    what: "string",
                    len: n,
                });
            }
            put_len(buf, len, cx.compact, p::put_len16, "string")?;
            if let Some(s) = value {
                buf.put_slice(s.as_bytes());
            }
            Ok(())
        }
        fn size_opt(value: Option<&Self>, cx: Cx) -> Result<usize, EncodeError> {
            let len = value.map(String::len);
            Ok(len_size(len, cx.compact, 2) + len.unwrap_or(0))
        }
    }

    impl Nullable for Bytes {
        fn read_opt<'a>(src: &Bytes, input: &'a [u8], cx: Cx) -> PResult<'a, Option<Self>> {
            let len = if cx.compact { p::compact_len } else { p::len32 };
            let (rest, raw) = p::prefixed(input, len)?;
            Ok((rest, raw.map(|raw| p::share(src, raw))))
        }
        fn write_opt(value: Option<&Self>, buf: &mut BytesMut, cx: Cx) -> Result<(), EncodeError> {
            put_len(
                buf,
                value.map(Bytes::len),
                cx.compact,
                p::put_len32,
                "bytes",
            )?;
            if let Some(b) = value {
                buf.put_slice(b);
            }
            Ok(())
        }
        fn size_opt(value: Option<&Self>, cx: Cx) -> Result<usize, EncodeError> {
            let len = value.map(Bytes::len);
            Ok(len_size(len, cx.compact, 4) + len.unwrap_or(0))
        }
    }

    impl<T: Wire> Nullable for Vec<T> {
        fn read_opt<'a>(src: &Bytes, input: &'a [u8], cx: Cx) -> PResult<'a, Option<Self>> {
            let count = if cx.compact {
                p::compact_array_len
            } else {
                p::array_len32
            };
            // The count parsers check the count against the bytes left, so a lying count
            // cannot make us reserve more than the input's size.
            let (mut input, count) = count(input)?;
            let Some(count) = count else {
                return Ok((input, None));
            };
            let mut out = Vec::with_capacity(count.min(input.len()));
            for i in 0..count {
                let (rest, v) = T::read(src, input, cx).map_err(|e| e.map(|e| e.in_element(i)))?;
                out.push(v);
                input = rest;
            }
            Ok((input, Some(out)))
        }
        fn write_opt(value: Option<&Self>, buf: &mut BytesMut, cx: Cx) -> Result<(), EncodeError> {
            put_len(buf, value.map(Vec::len), cx.compact, p::put_len32, "array")?;
            for v in value.into_iter().flatten() {
                v.write(buf, cx)?;
            }
            Ok(())
        }
        fn size_opt(value: Option<&Self>, cx: Cx) -> Result<usize, EncodeError> {
            let mut total = len_size(value.map(Vec::len), cx.compact, 4);
            for v in value.into_iter().flatten() {
                total += v.size(cx)?;
            }
            Ok(total)
        }
    }

    /// Reads a nullable struct: an `int8` presence marker (negative for null), then the struct.
    pub(crate) fn read_opt_struct<'a, T: Wire>(
        src: &Bytes,
        input: &'a [u8],
        cx: Cx,
    ) -> PResult<'a, Option<T>> {
        let (rest, marker) = p::int8(input)?;
        if marker < 0 {
            Ok((rest, None))
        } else {
            T::read(src, rest, cx).map(|(rest, v)| (rest, Some(v)))
        }
    }

    /// Writes a nullable struct with its presence marker.
    pub(crate) fn write_opt_struct<T: Wire>(
        value: Option<&T>,
        buf: &mut BytesMut,
        cx: Cx,
    ) -> Result<(), EncodeError> {
        match value {
            None => buf.put_i8(-1),
            Some(v) => {
                buf.put_i8(1);
                v.write(buf, cx)?;
            }
        }
        Ok(())
    }

    /// The size of a nullable struct with its presence marker.
    pub(crate) fn size_opt_struct<T: Wire>(
        value: Option<&T>,
        cx: Cx,
    ) -> Result<usize, EncodeError> {
        Ok(1 + value.map(|v| v.size(cx)).transpose()?.unwrap_or(0))
    }

    /// Reads the number of tagged fields; each takes at least two bytes.
    pub(crate) fn tag_count(input: &[u8]) -> PResult<'_, usize> {
        let (rest, count) = field("_tagged_fields", p::unsigned_varint(input))?;
        let count = count as usize;
        if count > rest.len() / 2 {
            return field(
                "_tagged_fields",
                p::fail(input, DecodeErrorKind::InvalidLength(count as i64)),
            );
        }
        Ok((rest, count))
    }

    /// Reads a tagged field's tag and size; the size is checked against the bytes left.
    pub(crate) fn tag_header(input: &[u8]) -> PResult<'_, (u32, usize)> {
        let (rest, tag) = field("_tagged_fields", p::unsigned_varint(input))?;
        let (rest, size) = field("_tagged_fields", p::unsigned_varint(rest))?;
        let size = size as usize;
        if size > rest.len() {
            return field(
                "_tagged_fields",
                p::fail(rest, DecodeErrorKind::Truncated { needed: size }),
            );
        }
        Ok((rest, (tag, size)))
    }

    /// Checks that a known tagged field's parser consumed exactly the size its header declared.
    pub(crate) fn tagged<'a, T>(
        input: &'a [u8],
        size: usize,
        result: PResult<'a, T>,
    ) -> PResult<'a, T> {
        let (rest, value) = result?;
        if input.len() - rest.len() != size {
            return p::fail(
                input,
                DecodeErrorKind::Invalid("tagged field size mismatch"),
            );
        }
        Ok((rest, value))
    }

    /// Keeps an unknown tagged field's bytes.
    pub(crate) fn unknown_tagged<'a>(
        src: &Bytes,
        input: &'a [u8],
        tag: u32,
        size: usize,
    ) -> PResult<'a, RawTaggedField> {
        let (rest, data) = p::take(input, size)?;
        Ok((
            rest,
            RawTaggedField {
                tag,
                data: p::share(src, data),
            },
        ))
    }

    /// Reads a tagged-field section of a struct that knows no tags in this version.
    pub(crate) fn unknown_tagged_fields<'a>(
        src: &Bytes,
        input: &'a [u8],
    ) -> PResult<'a, Vec<RawTaggedField>> {
        let (mut input, count) = tag_count(input)?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let (rest, (tag, size)) = tag_header(input)?;
            let (rest, raw) = unknown_tagged(src, rest, tag, size)?;
            out.push(raw);
            input = rest;
        }
        Ok((input, out))
    }

    fn varint_u32(n: usize, what: &'static str) -> Result<u32, EncodeError> {
        u32::try_from(n).map_err(|_| EncodeError::TooLong { what, len: n })
    }

    /// Writes the number of tagged fields.
    pub(crate) fn put_tag_count(buf: &mut BytesMut, count: usize) -> Result<(), EncodeError> {
        p::put_unsigned_varint(buf, varint_u32(count, "tagged field count")?);
        Ok(())
    }

    /// Writes a tagged field's tag and size.
    pub(crate) fn put_tag_header(
        buf: &mut BytesMut,
        tag: u32,
        size: usize,
    ) -> Result<(), EncodeError> {
        p::put_unsigned_varint(buf, tag);
        p::put_unsigned_varint(buf, varint_u32(size, "tagged field")?);
        Ok(())
    }

    /// The size of a tagged field's tag and size.
    pub(crate) fn tag_header_size(tag: u32, size: usize) -> usize {
        p::unsigned_varint_len(tag) + p::unsigned_varlong_len(size as u64)
    }

    /// The size of the tagged-field count.
    pub(crate) fn tag_count_size(count: usize) -> usize {
        p::unsigned_varlong_len(count as u64)
    }

    /// Writes the unknown tagged fields at the front of `fields` whose tags are below `below`,
    /// so unknown and known fields come out in ascending tag order; returns the rest.
    pub(crate) fn write_unknown_below<'f>(
        buf: &mut BytesMut,
        mut fields: &'f [RawTaggedField],
        below: u32,
    ) -> Result<&'f [RawTaggedField], EncodeError> {
        while let Some((first, rest)) = fields.split_first() {
            if first.tag >= below {
                break;
            }
            put_tag_header(buf, first.tag, first.data.len())?;
            buf.put_slice(&first.data);
            fields = rest;
        }
        Ok(fields)
    }

    /// Writes all unknown tagged fields left.
    pub(crate) fn write_unknown_rest(
        buf: &mut BytesMut,
        fields: &[RawTaggedField],
    ) -> Result<(), EncodeError> {
        for f in fields {
            put_tag_header(buf, f.tag, f.data.len())?;
            buf.put_slice(&f.data);
        }
        Ok(())
    }

    /// The size of the unknown tagged fields.
    pub(crate) fn unknown_size(fields: &[RawTaggedField]) -> usize {
        fields
            .iter()
            .map(|f| tag_header_size(f.tag, f.data.len()) + f.data.len())
            .sum()
    }
}

/// Proptest strategies for generated messages, by version (feature `arbitrary`).
#[cfg(feature = "arbitrary")]
pub mod arbitrary {
    use bytes::Bytes;
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::RawTaggedField;

    /// A type with random values that are valid in a given version.
    pub trait Arbitrary: Sized + std::fmt::Debug {
        /// Values valid in `version`: absent fields at their defaults, nulls only where allowed.
        fn arbitrary(version: i16) -> BoxedStrategy<Self>;
    }

    /// Any value of a primitive type.
    pub fn any<T: proptest::arbitrary::Arbitrary + 'static>() -> BoxedStrategy<T> {
        proptest::arbitrary::any::<T>().boxed()
    }

    /// Always `value`.
    pub fn just<T: Clone + std::fmt::Debug + 'static>(value: T) -> BoxedStrategy<T> {
        Just(value).boxed()
    }

    /// Finite floats (NaN would break equality checks).
    pub fn float() -> BoxedStrategy<f64> {
        proptest::arbitrary::any::<i32>()
            .prop_map(|n| f64::from(n) / 8.0)
            .boxed()
    }

    /// Random UUIDs.
    pub fn uuid() -> BoxedStrategy<Uuid> {
        proptest::arbitrary::any::<u128>()
            .prop_map(Uuid::from_u128)
            .boxed()
    }

    /// Short strings, including non-ASCII characters.
    pub fn string() -> BoxedStrategy<String> {
        proptest::collection::vec(proptest::char::any(), 0..6)
            .prop_map(String::from_iter)
            .boxed()
    }

    /// Short byte strings.
    pub fn bytes() -> BoxedStrategy<Bytes> {
        proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..12)
            .prop_map(Bytes::from)
            .boxed()
    }

    /// Short arrays.
    pub fn vec<T: std::fmt::Debug + 'static>(element: BoxedStrategy<T>) -> BoxedStrategy<Vec<T>> {
        proptest::collection::vec(element, 0..3).boxed()
    }

    /// Null or a value.
    pub fn option<T: std::fmt::Debug + 'static>(
        value: BoxedStrategy<T>,
    ) -> BoxedStrategy<Option<T>> {
        proptest::option::of(value).boxed()
    }

    /// Always a value (the field is not nullable in this version).
    pub fn some<T: std::fmt::Debug + 'static>(value: BoxedStrategy<T>) -> BoxedStrategy<Option<T>> {
        value.prop_map(Some).boxed()
    }

    /// Unknown tagged fields in ascending tag order, clear of every tag Kafka defines.
    pub fn unknown_tagged(flexible: bool) -> BoxedStrategy<Vec<RawTaggedField>> {
        if !flexible {
            return Just(Vec::new()).boxed();
        }
        proptest::collection::btree_map(100u32..110, bytes(), 0..3)
            .prop_map(|fields| {
                fields
                    .into_iter()
                    .map(|(tag, data)| RawTaggedField { tag, data })
                    .collect()
            })
            .boxed()
    }
}
