//! Kafka's JSON message definitions as read from disk, before any interpretation.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// An inclusive version range; empty when `min > max`. "N+" is open-ended (`max = i16::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Versions {
    pub(crate) min: i16,
    pub(crate) max: i16,
}

impl Versions {
    pub(crate) const NONE: Self = Self { min: 0, max: -1 };

    /// Parses "N+", "N-M", "N" or "none".
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text == "none" {
            return Ok(Self::NONE);
        }
        let number = |s: &str| -> Result<i16> {
            s.trim()
                .parse::<i16>()
                .with_context(|| format!("bad version number {s:?} in {text:?}"))
        };
        let range = if let Some(start) = text.strip_suffix('+') {
            Self {
                min: number(start)?,
                max: i16::MAX,
            }
        } else if let Some((lo, hi)) = text.split_once('-') {
            Self {
                min: number(lo)?,
                max: number(hi)?,
            }
        } else {
            let v = number(text)?;
            Self { min: v, max: v }
        };
        if range.min < 0 || range.is_empty() {
            bail!("bad version range {text:?}");
        }
        Ok(range)
    }

    pub(crate) fn is_empty(self) -> bool {
        self.min > self.max
    }

    pub(crate) fn intersect(self, other: Self) -> Self {
        let r = Self {
            min: self.min.max(other.min),
            max: self.max.min(other.max),
        };
        if r.is_empty() {
            Self::NONE
        } else {
            r
        }
    }

    /// The versions of `self` below `other`'s start, assuming `other` is open-ended or empty
    /// (true of every `taggedVersions` in Kafka's definitions).
    pub(crate) fn before(self, other: Self) -> Self {
        if other.is_empty() {
            return self;
        }
        self.intersect(Self {
            min: 0,
            max: other.min - 1,
        })
    }

    /// Human form for docs: "3+", "3-5", "3".
    pub(crate) fn describe(self, within: Self) -> String {
        let r = self.intersect(within);
        if r.is_empty() {
            "none".to_owned()
        } else if r.max >= within.max {
            format!("{}+", r.min)
        } else if r.min == r.max {
            r.min.to_string()
        } else {
            format!("{}-{}", r.min, r.max)
        }
    }
}

/// One JSON file: a request, response, header or data struct.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageSpec {
    pub(crate) api_key: Option<i16>,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) valid_versions: String,
    pub(crate) flexible_versions: Option<String>,
    #[serde(default)]
    pub(crate) fields: Vec<FieldSpec>,
    #[serde(default)]
    pub(crate) common_structs: Vec<StructSpec>,
}

/// A shared struct declared once per message.
#[derive(Debug, Deserialize)]
pub(crate) struct StructSpec {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) fields: Vec<FieldSpec>,
}

/// One field; `fields` holds the definition of a nested struct type.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FieldSpec {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) ty: String,
    pub(crate) versions: Option<String>,
    pub(crate) nullable_versions: Option<String>,
    pub(crate) tagged_versions: Option<String>,
    /// A number, though some files spell it as a string.
    pub(crate) tag: Option<serde_json::Value>,
    pub(crate) flexible_versions: Option<String>,
    #[serde(default)]
    pub(crate) ignorable: bool,
    pub(crate) default: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) fields: Option<Vec<FieldSpec>>,
}

/// Drops `//` comment lines (Kafka's JSON files carry license and version notes in them).
pub(crate) fn strip_comments(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and parses one definition file.
pub(crate) fn load(path: &Path) -> Result<MessageSpec> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // Through `Value` first: a few files repeat a key, and Kafka's parser keeps the last one.
    let value: serde_json::Value = serde_json::from_str(&strip_comments(&text))
        .with_context(|| format!("parsing {}", path.display()))?;
    serde_json::from_value(value).with_context(|| format!("reading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_open_ranges() {
        assert_eq!(
            Versions::parse("3+").unwrap(),
            Versions {
                min: 3,
                max: i16::MAX
            }
        );
    }

    #[test]
    fn parses_closed_ranges_and_single_versions() {
        assert_eq!(Versions::parse("3-5").unwrap(), Versions { min: 3, max: 5 });
        assert_eq!(Versions::parse("7").unwrap(), Versions { min: 7, max: 7 });
    }

    #[test]
    fn parses_none_as_empty() {
        assert!(Versions::parse("none").unwrap().is_empty());
    }

    #[test]
    fn rejects_garbage_and_backwards_ranges() {
        assert!(Versions::parse("x+").is_err());
        assert!(Versions::parse("5-3").is_err());
    }

    #[test]
    fn strips_comment_lines_only() {
        let text = "// licence\n{\n  // note\n  \"a\": \"http://x\"\n}";
        let value: serde_json::Value = serde_json::from_str(&strip_comments(text)).unwrap();
        assert_eq!(value["a"], "http://x");
    }

    #[test]
    fn before_splits_off_tagged_versions() {
        let all = Versions::parse("0+").unwrap();
        let tagged = Versions::parse("12+").unwrap();
        assert_eq!(all.before(tagged), Versions { min: 0, max: 11 });
        assert_eq!(all.before(Versions::NONE), all);
    }
}
