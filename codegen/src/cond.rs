//! Version conditions as Rust expressions, simplified against the versions a struct can be in.

use crate::schema::Versions;

/// Whether a version set holds, relative to a context range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cond {
    Always,
    Never,
    AtLeast(i16),
    AtMost(i16),
    Exactly(i16),
    Between(i16, i16),
}

impl Cond {
    /// The condition "version is in `set`" for versions in `context`.
    pub(crate) fn new(set: Versions, context: Versions) -> Self {
        let r = set.intersect(context);
        if r.is_empty() {
            Self::Never
        } else if r == context {
            Self::Always
        } else if r.min == r.max {
            Self::Exactly(r.min)
        } else if r.max == context.max {
            Self::AtLeast(r.min)
        } else if r.min == context.min {
            Self::AtMost(r.max)
        } else {
            Self::Between(r.min, r.max)
        }
    }

    /// The condition as a boolean expression over `version`.
    pub(crate) fn expr(&self) -> String {
        match self {
            Self::Always => "true".to_owned(),
            Self::Never => "false".to_owned(),
            Self::AtLeast(n) => format!("version >= {n}"),
            Self::AtMost(n) => format!("version <= {n}"),
            Self::Exactly(n) => format!("version == {n}"),
            Self::Between(a, b) => format!("({a}..={b}).contains(&version)"),
        }
    }

    /// The negated condition as a boolean expression over `version`.
    pub(crate) fn negated(&self) -> String {
        match self {
            Self::Always => "false".to_owned(),
            Self::Never => "true".to_owned(),
            Self::AtLeast(n) => format!("version < {n}"),
            Self::AtMost(n) => format!("version > {n}"),
            Self::Exactly(n) => format!("version != {n}"),
            Self::Between(a, b) => format!("!({a}..={b}).contains(&version)"),
        }
    }

    /// Wraps `body` in `if <cond> { .. }`, or drops the `if` when the answer is known.
    pub(crate) fn guard(&self, body: &str) -> String {
        match self {
            Self::Always => body.to_owned(),
            Self::Never => String::new(),
            _ => format!("if {} {{\n{body}}}\n", self.expr()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(min: i16, max: i16) -> Versions {
        Versions { min, max }
    }

    #[test]
    fn simplifies_against_context() {
        let ctx = v(0, 11);
        assert_eq!(Cond::new(v(0, i16::MAX), ctx), Cond::Always);
        assert_eq!(Cond::new(Versions::NONE, ctx), Cond::Never);
        assert_eq!(Cond::new(v(3, i16::MAX), ctx), Cond::AtLeast(3));
        assert_eq!(Cond::new(v(0, 4), ctx), Cond::AtMost(4));
        assert_eq!(Cond::new(v(3, 5), ctx), Cond::Between(3, 5));
        assert_eq!(Cond::new(v(11, i16::MAX), ctx), Cond::Exactly(11));
        assert_eq!(Cond::new(v(3, i16::MAX), v(4, 11)), Cond::Always);
    }

    #[test]
    fn negation_is_minimal() {
        assert_eq!(Cond::AtLeast(3).negated(), "version < 3");
        assert_eq!(Cond::Between(3, 5).negated(), "!(3..=5).contains(&version)");
    }
}
