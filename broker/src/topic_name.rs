//! Topic name rules, as Kafka enforces them.

/// Longest topic name Kafka allows (the partition directory name must fit in 255 bytes).
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Why a topic name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTopicName {
    /// Empty names are not allowed.
    #[error("topic name is empty")]
    Empty,
    /// `.` and `..` would be path components.
    #[error("topic name cannot be \".\" or \"..\"")]
    Dots,
    /// Longer than [`MAX_TOPIC_NAME_LEN`].
    #[error("topic name is {0} characters long; the limit is 249")]
    TooLong(usize),
    /// A character outside ASCII letters, digits, `.`, `_` and `-`.
    #[error(
        "topic name {0:?} contains a character other than ASCII alphanumerics, '.', '_' and '-'"
    )]
    BadCharacter(String),
}

/// Topics the broker's coordinators own: clients read them but may not write or delete them.
pub const INTERNAL_TOPICS: &[&str] = &["__consumer_offsets", "__transaction_state"];

/// Whether `name` is one of the [`INTERNAL_TOPICS`].
pub fn is_internal_topic(name: &str) -> bool {
    INTERNAL_TOPICS.contains(&name)
}

/// Checks a topic name against Kafka's rules.
pub fn validate_topic_name(name: &str) -> Result<(), InvalidTopicName> {
    if name.is_empty() {
        return Err(InvalidTopicName::Empty);
    }
    if name == "." || name == ".." {
        return Err(InvalidTopicName::Dots);
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(InvalidTopicName::TooLong(name.len()));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(InvalidTopicName::BadCharacter(name.to_string()));
    }
    Ok(())
}

/// The form under which `.` and `_` collide: Kafka refuses a topic whose name differs from an
/// existing one only by those characters, because metric names cannot tell them apart.
pub fn collision_key(name: &str) -> String {
    name.replace('.', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_kafka_names() {
        for name in ["orders", "a.b_c-d", "__consumer_offsets", &"x".repeat(249)] {
            assert_eq!(validate_topic_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn rejects_what_kafka_rejects() {
        assert_eq!(validate_topic_name(""), Err(InvalidTopicName::Empty));
        assert_eq!(validate_topic_name(".."), Err(InvalidTopicName::Dots));
        assert_eq!(
            validate_topic_name(&"x".repeat(250)),
            Err(InvalidTopicName::TooLong(250))
        );
        assert!(matches!(
            validate_topic_name("a/b"),
            Err(InvalidTopicName::BadCharacter(_))
        ));
        assert!(matches!(
            validate_topic_name("caf\u{e9}"),
            Err(InvalidTopicName::BadCharacter(_))
        ));
    }

    #[test]
    fn dots_and_underscores_collide() {
        assert_eq!(collision_key("a.b"), collision_key("a_b"));
        assert_ne!(collision_key("a.b"), collision_key("ab"));
    }
}
