//! How `consume` prints a record: a template (`{offset}: {value}\n`) or JSON lines.
//!
//! Keys and values are written as the raw bytes they are, so replaying a topic into a file
//! reproduces what was produced, byte for byte. JSON output carries UTF-8 payloads as strings
//! and anything else as `{"base64": "..."}`.

use std::io::{self, Write};

use base64::Engine as _;
use fjord_protocol::records::Header;
use serde_json::{json, Value};

use crate::parse::unescape;

/// One record as the formatter sees it.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// The record's timestamp, epoch milliseconds.
    pub timestamp: i64,
    /// The key, if any.
    pub key: Option<&'a [u8]>,
    /// The value, if any.
    pub value: Option<&'a [u8]>,
    /// The headers, in order.
    pub headers: &'a [Header],
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text copied as it is.
    Literal(String),
    /// `{topic}`.
    Topic,
    /// `{partition}`.
    Partition,
    /// `{offset}`.
    Offset,
    /// `{timestamp}` (epoch milliseconds).
    Timestamp,
    /// `{key}` (raw bytes; nothing for a null key).
    Key,
    /// `{value}` (raw bytes; nothing for a null value).
    Value,
    /// `{headers}` as `k=v,k=v`.
    Headers,
}

/// An output format for records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// A template with `{key}`, `{value}`, `{offset}`, `{partition}`, `{timestamp}`,
    /// `{headers}` and `{topic}` placeholders.
    Template(Vec<Piece>),
    /// One JSON object per line.
    Json,
}

impl Format {
    /// `json`, or a template (backslash escapes like `\n` and `\t` are understood). A template
    /// without a trailing newline gets one, so each record stays on its own line.
    pub fn parse(spec: &str) -> Self {
        if spec == "json" {
            return Self::Json;
        }
        let mut text = unescape(spec);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Self::Template(parse_template(&text))
    }

    /// Writes one record.
    pub fn write(&self, out: &mut impl Write, record: &RecordView<'_>) -> io::Result<()> {
        match self {
            Self::Json => {
                serde_json::to_writer(&mut *out, &to_json(record))?;
                out.write_all(b"\n")
            }
            Self::Template(pieces) => {
                for piece in pieces {
                    write_piece(out, piece, record)?;
                }
                Ok(())
            }
        }
    }
}

fn parse_template(text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        literal.push_str(&rest[..open]);
        let after = &rest[open..];
        let placeholder = after.find('}').map(|close| (&after[1..close], close));
        let piece = placeholder.and_then(|(name, close)| {
            let piece = match name {
                "topic" => Piece::Topic,
                "partition" => Piece::Partition,
                "offset" => Piece::Offset,
                "timestamp" => Piece::Timestamp,
                "key" => Piece::Key,
                "value" => Piece::Value,
                "headers" => Piece::Headers,
                _ => return None,
            };
            Some((piece, close))
        });
        match piece {
            Some((piece, close)) => {
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(piece);
                rest = &after[close + 1..];
            }
            None => {
                literal.push('{');
                rest = &after[1..];
            }
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    pieces
}

fn write_piece(out: &mut impl Write, piece: &Piece, record: &RecordView<'_>) -> io::Result<()> {
    match piece {
        Piece::Literal(text) => out.write_all(text.as_bytes()),
        Piece::Topic => out.write_all(record.topic.as_bytes()),
        Piece::Partition => write!(out, "{}", record.partition),
        Piece::Offset => write!(out, "{}", record.offset),
        Piece::Timestamp => write!(out, "{}", record.timestamp),
        Piece::Key => out.write_all(record.key.unwrap_or_default()),
        Piece::Value => out.write_all(record.value.unwrap_or_default()),
        Piece::Headers => {
            for (i, header) in record.headers.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                out.write_all(header.key.as_bytes())?;
                out.write_all(b"=")?;
                out.write_all(header.value.as_deref().unwrap_or_default())?;
            }
            Ok(())
        }
    }
}

/// A payload as JSON: a string when it is UTF-8, `{"base64": ...}` otherwise, null when absent.
pub fn payload_json(bytes: Option<&[u8]>) -> Value {
    match bytes {
        None => Value::Null,
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => Value::String(text.to_owned()),
            Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
        },
    }
}

fn to_json(record: &RecordView<'_>) -> Value {
    let headers: Vec<Value> = record
        .headers
        .iter()
        .map(|h| json!({ "key": h.key, "value": payload_json(h.value.as_deref()) }))
        .collect();
    json!({
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": payload_json(record.key),
        "value": payload_json(record.value),
        "headers": headers,
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn render(format: &Format, record: &RecordView<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        format.write(&mut out, record).unwrap();
        out
    }

    fn sample(headers: &[Header]) -> RecordView<'_> {
        RecordView {
            topic: "orders",
            partition: 2,
            offset: 15,
            timestamp: 1_700_000_000_000,
            key: Some(b"k1"),
            value: Some(b"hello"),
            headers,
        }
    }

    #[test]
    fn default_template_prints_the_value_and_a_newline() {
        let out = render(&Format::parse("{value}"), &sample(&[]));
        assert_eq!(out, b"hello\n");
    }

    #[test]
    fn template_fills_every_placeholder_and_keeps_unknown_braces() {
        let headers = [Header {
            key: "h".to_owned(),
            value: Some(Bytes::from_static(b"v")),
        }];
        let format = Format::parse(
            r"{topic}/{partition}@{offset} {timestamp} {key}={value} [{headers}] {nope}\n",
        );
        let out = render(&format, &sample(&headers));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "orders/2@15 1700000000000 k1=hello [h=v] {nope}\n"
        );
    }

    #[test]
    fn json_uses_strings_for_utf8_and_base64_for_binary() {
        let mut record = sample(&[]);
        let binary = [0xff_u8, 0x00];
        record.value = Some(&binary);
        record.key = None;
        let out = render(&Format::Json, &record);
        let parsed: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed["offset"], 15);
        assert_eq!(parsed["key"], Value::Null);
        assert_eq!(parsed["value"]["base64"], "/wA=");
    }
}
