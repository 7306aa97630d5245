//! Reads the topic list out of a consumer's JoinGroup metadata (Kafka's
//! `ConsumerProtocolSubscription`), which the coordinator otherwise relays untouched. Only
//! OffsetDelete and offset expiry need it: a group keeps offsets of topics it consumes.

/// The protocol type of Kafka consumers.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// The topics in a consumer subscription: `version: i16`, then `topics: [string]` as an
/// `i32` count of `i16`-length strings (every version so far starts this way). `None` if the
/// bytes do not parse.
pub fn subscribed_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let rest = metadata.get(2..)?;
    let count = i32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    let mut rest = rest.get(4..)?;
    let mut topics = Vec::with_capacity(usize::try_from(count).ok()?.min(1024));
    for _ in 0..count {
        let len = usize::try_from(i16::from_be_bytes(rest.get(..2)?.try_into().ok()?)).ok()?;
        let name = rest.get(2..2 + len)?;
        topics.push(String::from_utf8(name.to_vec()).ok()?);
        rest = rest.get(2 + len..)?;
    }
    Some(topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds subscription bytes the way a consumer does (version 1, no user data).
    pub(crate) fn subscription(topics: &[&str]) -> Vec<u8> {
        let mut out = vec![0, 1];
        out.extend_from_slice(&i32::try_from(topics.len()).unwrap().to_be_bytes());
        for t in topics {
            out.extend_from_slice(&i16::try_from(t.len()).unwrap().to_be_bytes());
            out.extend_from_slice(t.as_bytes());
        }
        out.extend_from_slice(&(-1i32).to_be_bytes());
        out
    }

    #[test]
    fn reads_topics_and_rejects_garbage() {
        assert_eq!(
            subscribed_topics(&subscription(&["a", "orders"])),
            Some(vec!["a".to_string(), "orders".to_string()])
        );
        assert_eq!(subscribed_topics(&[0, 1, 0, 0, 0, 2, 0, 5, b'x']), None);
        assert_eq!(subscribed_topics(&[]), None);
    }
}
