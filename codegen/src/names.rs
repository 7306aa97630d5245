//! Turning Kafka's CamelCase names into Rust names.

/// `ThrottleTimeMs` → `throttle_time_ms`, `V3AndBelowTopics` → `v3_and_below_topics`,
/// `IsrNodes` → `isr_nodes`, `TopicIDs` → `topic_ids`.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            // A plural "s" after an acronym ("IDs") does not start a new word.
            let plural_s = chars.get(i + 1) == Some(&'s') && chars.get(i + 2).is_none();
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower && !plural_s)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A field identifier: keywords become raw identifiers.
pub(crate) fn field_ident(snake: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern",
        "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
        "pub", "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use",
        "where", "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv",
        "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    if KEYWORDS.contains(&snake) {
        format!("r#{snake}")
    } else {
        snake.to_owned()
    }
}

/// Words of a CamelCase name for prose: `ThrottleTimeMs` → `throttle time ms`.
pub(crate) fn words(name: &str) -> String {
    snake_case(name).replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases_kafka_names() {
        assert_eq!(snake_case("ThrottleTimeMs"), "throttle_time_ms");
        assert_eq!(snake_case("PartitionData"), "partition_data");
        assert_eq!(snake_case("TopicId"), "topic_id");
        assert_eq!(snake_case("V3AndBelowTopics"), "v3_and_below_topics");
        assert_eq!(
            snake_case("ResultsByTopicV3AndBelow"),
            "results_by_topic_v3_and_below"
        );
        assert_eq!(snake_case("ProduceRequest"), "produce_request");
        assert_eq!(snake_case("TopicIDs"), "topic_ids");
        assert_eq!(snake_case("IsrNodes"), "isr_nodes");
    }

    #[test]
    fn keywords_become_raw_identifiers() {
        assert_eq!(field_ident("type"), "r#type");
        assert_eq!(field_ident("match"), "r#match");
        assert_eq!(field_ident("topics"), "topics");
    }
}
