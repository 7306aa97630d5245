//! Parsers for command-line values: `k=v` pairs, timestamps, sizes and durations.

use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A command-line value that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not `KEY=VALUE`.
    #[error("expected KEY=VALUE, got {0:?}")]
    KeyValue(String),
    /// Neither RFC 3339 nor epoch milliseconds.
    #[error(
        "expected an RFC 3339 time (2024-05-01T12:00:00Z) or epoch milliseconds, got {input:?}"
    )]
    Timestamp {
        /// The input.
        input: String,
        /// Why RFC 3339 parsing failed.
        #[source]
        source: time::error::Parse,
    },
    /// Not a size like `512`, `16KiB`, `1MB`.
    #[error("expected a size like 512, 16KiB or 1MB, got {0:?}")]
    Size(String),
    /// Not a duration like `500ms`, `10s`, `2m`.
    #[error("expected a duration like 500ms, 10s or 2m, got {0:?}")]
    Duration(String),
}

/// Parses `KEY=VALUE` (the value may contain `=`).
pub fn key_value(input: &str) -> Result<(String, String), ParseError> {
    match input.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(ParseError::KeyValue(input.to_owned())),
    }
}

/// Parses a timestamp to epoch milliseconds: an integer is taken as milliseconds already,
/// anything else must be RFC 3339.
pub fn timestamp_ms(input: &str) -> Result<i64, ParseError> {
    if let Ok(ms) = input.parse::<i64>() {
        return Ok(ms);
    }
    let parsed =
        OffsetDateTime::parse(input, &Rfc3339).map_err(|source| ParseError::Timestamp {
            input: input.to_owned(),
            source,
        })?;
    let ms = parsed.unix_timestamp_nanos() / 1_000_000;
    Ok(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// Parses a byte size: a number with an optional unit (`B`, `KB`/`KiB`, `MB`/`MiB`, `GB`/`GiB`;
/// the decimal and binary units are both 1024-based, as tools in this field commonly treat them).
pub fn size(input: &str) -> Result<u64, ParseError> {
    let err = || ParseError::Size(input.to_owned());
    let trimmed = input.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let number: u64 = digits.parse().map_err(|_| err())?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(err()),
    };
    number.checked_mul(multiplier).ok_or_else(err)
}

/// Parses a duration: a number with a unit `us`, `ms`, `s`, `m` or `h` (bare numbers are
/// seconds).
pub fn duration(input: &str) -> Result<Duration, ParseError> {
    let err = || ParseError::Duration(input.to_owned());
    let trimmed = input.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let number: u64 = digits.parse().map_err(|_| err())?;
    match unit {
        "us" => Ok(Duration::from_micros(number)),
        "ms" => Ok(Duration::from_millis(number)),
        "" | "s" => Ok(Duration::from_secs(number)),
        "m" => number
            .checked_mul(60)
            .map(Duration::from_secs)
            .ok_or_else(err),
        "h" => number
            .checked_mul(3600)
            .map(Duration::from_secs)
            .ok_or_else(err),
        _ => Err(err()),
    }
}

/// Turns `\n`, `\t`, `\r`, `\0` and `\\` in a user-given template or separator into the
/// characters they name, so `--format '{key}\t{value}\n'` works from a shell.
pub fn unescape(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_splits_at_the_first_equals_sign() {
        assert_eq!(
            key_value("retention.ms=a=b").unwrap(),
            ("retention.ms".to_owned(), "a=b".to_owned())
        );
        assert!(key_value("novalue").is_err());
        assert!(key_value("=v").is_err());
    }

    #[test]
    fn timestamps_accept_epoch_ms_and_rfc3339_with_offsets() {
        assert_eq!(timestamp_ms("1700000000123").unwrap(), 1_700_000_000_123);
        assert_eq!(
            timestamp_ms("2023-11-14T22:13:20.123Z").unwrap(),
            1_700_000_000_123
        );
        assert_eq!(
            timestamp_ms("2023-11-15T00:13:20+02:00").unwrap(),
            1_700_000_000_000
        );
        assert!(timestamp_ms("yesterday").is_err());
    }

    #[test]
    fn sizes_and_durations_take_units() {
        assert_eq!(size("512").unwrap(), 512);
        assert_eq!(size("16KiB").unwrap(), 16 * 1024);
        assert_eq!(size("1MB").unwrap(), 1024 * 1024);
        assert!(size("1XB").is_err());
        assert_eq!(duration("500us").unwrap(), Duration::from_micros(500));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(duration("2m").unwrap(), Duration::from_secs(120));
        assert!(duration("soon").is_err());
    }

    #[test]
    fn unescape_handles_common_escapes() {
        assert_eq!(unescape(r"{key}\t{value}\n"), "{key}\t{value}\n");
        assert_eq!(unescape(r"a\\b\q"), r"a\b\q");
    }
}
