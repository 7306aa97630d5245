//! Consumer lag as Kafka's tools report it, defined once for the broker's metrics and for
//! `fjordctl`, which reach the same numbers from opposite sides of the wire.

/// Records a group has yet to consume in a partition: the log end offset minus the committed
/// offset, never below zero (a commit past the end, as after a truncation, is no lag).
pub fn consumer_lag(log_end_offset: i64, committed_offset: i64) -> i64 {
    log_end_offset.saturating_sub(committed_offset).max(0)
}

#[cfg(test)]
mod tests {
    use super::consumer_lag;

    #[test]
    fn lag_is_log_end_minus_committed_and_never_negative() {
        assert_eq!(consumer_lag(100, 40), 60);
        assert_eq!(consumer_lag(100, 100), 0);
        assert_eq!(consumer_lag(10, 25), 0);
        assert_eq!(consumer_lag(i64::MAX, i64::MIN), i64::MAX);
    }
}
