//! Typed decode and encode errors, and [`Error`], the crate's one error type over all of them.
//!
//! A decode error says *where* it happened: the path of fields from the message root and the
//! byte offset, so a failure reads like
//! `fetch_request.topics[1].partitions[0].fetch_offset: need 8 bytes at 57, have 3`.
//! The path is only built on the error path; successful decodes pay nothing for it.

use std::fmt;

use crate::records::RecordError;

/// Any failure of this crate. Each operation returns its own narrower error (decoding a message
/// only ever fails with a [`DecodeError`]); this is the one type a caller holds when it mixes
/// operations, and `?` converts each into it. The wrapped error stays the
/// [`source`](std::error::Error::source), so a report prints the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A message, header or primitive did not decode.
    #[error("decoding failed")]
    Decode(#[from] DecodeError),
    /// A value could not be written in the requested version.
    #[error("encoding failed")]
    Encode(#[from] EncodeError),
    /// A record batch or legacy message set was rejected.
    #[error("record batch rejected")]
    Record(#[from] RecordError),
}

/// What went wrong while decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ended before a value was complete.
    Truncated {
        /// Bytes the value needs from `offset` on.
        needed: usize,
    },
    /// A length or count prefix that is negative (and not null) or larger than the input.
    InvalidLength(i64),
    /// A null where the field is not nullable in this version.
    UnexpectedNull,
    /// A string that is not UTF-8.
    InvalidUtf8,
    /// A varint longer than its type allows.
    VarintTooLong,
    /// A message version outside the range this codec knows.
    UnsupportedVersion(i16),
    /// An API key this codec does not know.
    UnknownApiKey(i16),
    /// A value that breaks a rule of the format (for example a bad CRC or magic byte).
    Invalid(&'static str),
    /// Bytes left over after a value that should have consumed the whole input.
    TrailingBytes(usize),
    /// A nom combinator failed.
    Parser(nom::error::ErrorKind),
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed } => write!(f, "need {needed} bytes"),
            Self::InvalidLength(n) => write!(f, "invalid length {n}"),
            Self::UnexpectedNull => f.write_str("null in a non-nullable field"),
            Self::InvalidUtf8 => f.write_str("string is not UTF-8"),
            Self::VarintTooLong => f.write_str("varint too long"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported version {v}"),
            Self::UnknownApiKey(k) => write!(f, "unknown API key {k}"),
            Self::Invalid(why) => f.write_str(why),
            Self::TrailingBytes(n) => write!(f, "{n} trailing bytes"),
            Self::Parser(kind) => write!(f, "parser failed: {}", kind.description()),
        }
    }
}

/// One step of the path from a message's root to the failing field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A named field.
    Field(&'static str),
    /// An element of an array.
    Index(usize),
}

/// A decode failure with where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    /// What went wrong.
    pub kind: DecodeErrorKind,
    /// Innermost segment last; built while the error travels outwards.
    path: Vec<PathSegment>,
    /// Bytes of input left at the failure; turned into an offset by [`DecodeError::at_input`].
    remaining: usize,
    /// Byte offset of the failure from the start of the decoded buffer, once known.
    offset: Option<usize>,
}

impl DecodeError {
    /// An error of `kind` with `remaining` bytes of input left where it happened.
    pub fn new(kind: DecodeErrorKind, remaining: usize) -> Self {
        Self {
            kind,
            path: Vec::new(),
            remaining,
            offset: None,
        }
    }

    /// Adds the field that contained the failure (called from the inside out).
    #[must_use]
    pub fn in_field(mut self, name: &'static str) -> Self {
        self.path.insert(0, PathSegment::Field(name));
        self
    }

    /// Adds the array element that contained the failure (called from the inside out).
    #[must_use]
    pub fn in_element(mut self, index: usize) -> Self {
        self.path.insert(0, PathSegment::Index(index));
        self
    }

    /// Fixes the byte offset, given the length of the whole input the parse started on.
    #[must_use]
    pub fn at_input(mut self, input_len: usize) -> Self {
        if self.offset.is_none() {
            self.offset = Some(input_len.saturating_sub(self.remaining));
        }
        self
    }

    /// Byte offset from the start of the decoded buffer, when known.
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }

    /// The field path, like `topics[1].partitions[0].fetch_offset`.
    pub fn path(&self) -> String {
        let mut out = String::new();
        for segment in &self.path {
            match segment {
                PathSegment::Field(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                }
                PathSegment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path();
        if !path.is_empty() {
            write!(f, "{path}: ")?;
        }
        write!(f, "{}", self.kind)?;
        if let Some(offset) = self.offset {
            write!(f, " at {offset}")?;
        }
        if matches!(self.kind, DecodeErrorKind::Truncated { .. }) {
            write!(f, ", have {}", self.remaining)?;
        }
        Ok(())
    }
}

impl<'a> nom::error::ParseError<&'a [u8]> for DecodeError {
    fn from_error_kind(input: &'a [u8], kind: nom::error::ErrorKind) -> Self {
        Self::new(DecodeErrorKind::Parser(kind), input.len())
    }

    fn append(_input: &'a [u8], _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// An encode failure: the value cannot be written in the requested version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A field holds a non-default value but the version does not have the field.
    #[error("field {field} of {message} is not supported in version {version}")]
    UnsupportedField {
        /// The message or struct name.
        message: &'static str,
        /// The field name.
        field: &'static str,
        /// The version being written.
        version: i16,
    },
    /// A null in a field that is not nullable in this version.
    #[error("field {field} of {message} cannot be null in version {version}")]
    UnexpectedNull {
        /// The message or struct name.
        message: &'static str,
        /// The field name.
        field: &'static str,
        /// The version being written.
        version: i16,
    },
    /// A version outside the message's valid range.
    #[error("{message} has no version {version}")]
    UnsupportedVersion {
        /// The message name.
        message: &'static str,
        /// The version asked for.
        version: i16,
    },
    /// A string, byte string or array longer than its length prefix can say.
    #[error("{what} is too long to encode: {len}")]
    TooLong {
        /// What was too long.
        what: &'static str,
        /// Its length.
        len: usize,
    },
}
