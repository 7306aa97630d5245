//! Gauges computed when `/metrics` is scraped, from state that already lives elsewhere: each
//! partition's offsets, size and segment count, and each consumer group's state, members,
//! committed offsets and lag. Reading them on demand keeps the produce path free of gauge
//! updates, and a deleted topic or group disappears from the next scrape.

use std::fmt::Write as _;

use crate::broker::Broker;
use crate::group::lag::{consumer_lag, PartitionLag};
use crate::group::types::{ListGroups, OffsetFetch};
use crate::topics::Topics;

/// One metric family: its name, help text, type and samples (label pairs and value).
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    /// `gauge`, or `counter` for a count kept outside the recorder.
    kind: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, i64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            kind: "gauge",
            samples: Vec::new(),
        }
    }

    fn counter(name: &'static str, help: &'static str) -> Self {
        Self {
            kind: "counter",
            ..Self::new(name, help)
        }
    }

    fn push(&mut self, labels: Vec<(&'static str, String)>, value: i64) {
        self.samples.push((labels, value));
    }

    /// Writes the family in the Prometheus text format (nothing when it has no samples).
    fn write(&self, out: &mut String) {
        if self.samples.is_empty() {
            return;
        }
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        for (labels, value) in &self.samples {
            out.push_str(self.name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (key, value)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{key}=\"{}\"", escape(value));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {value}");
        }
    }
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Appends every scrape-time gauge to `out`.
pub async fn render(broker: &Broker, out: &mut String) {
    let mut info = Family::new("fjord_build_info", "The running fjord version (always 1).");
    info.push(vec![("version", env!("CARGO_PKG_VERSION").to_string())], 1);
    info.write(out);
    panics(out);
    partitions(&broker.topics, out);
    groups(broker, out).await;
}

/// The panics caught while serving requests. The count lives in an atomic of [`crate::limits`]
/// (counted with or without a recorder) and is read here, so it is present, as 0, from the
/// first scrape on.
fn panics(out: &mut String) {
    let mut caught = Family::counter(
        super::names::PANICS_CAUGHT,
        "Panics caught while handling a request (each closed only its own connection).",
    );
    caught.push(
        Vec::new(),
        i64::try_from(crate::limits::panics_caught()).unwrap_or(i64::MAX),
    );
    caught.write(out);
}

/// Per-partition log gauges.
fn partitions(topics: &Topics, out: &mut String) {
    let mut start = Family::new(
        "fjord_log_start_offset",
        "First offset still in the partition's log.",
    );
    let mut high = Family::new(
        "fjord_log_high_watermark",
        "Offset after the last record consumers may read.",
    );
    let mut size = Family::new(
        "fjord_log_size_bytes",
        "Bytes of the partition's log segments.",
    );
    let mut segments = Family::new("fjord_log_segments", "Segments in the partition's log.");
    for topic in topics.list() {
        for partition in topic.partitions().iter() {
            let labels = || {
                vec![
                    ("topic", topic.name.clone()),
                    ("partition", partition.index.to_string()),
                ]
            };
            start.push(labels(), partition.log.log_start_offset());
            high.push(labels(), partition.high_watermark());
            size.push(
                labels(),
                i64::try_from(partition.log.size_bytes()).unwrap_or(i64::MAX),
            );
            segments.push(
                labels(),
                i64::try_from(partition.log.segment_count()).unwrap_or(i64::MAX),
            );
        }
    }
    for family in [start, high, size, segments] {
        family.write(out);
    }
}

/// Per-group gauges: state, members, committed offsets and lag. A coordinator that is not
/// running contributes nothing.
async fn groups(broker: &Broker, out: &mut String) {
    let Ok(overviews) = broker.groups.list(ListGroups::default()).await else {
        return;
    };
    let ids: Vec<String> = overviews.iter().map(|g| g.group_id.clone()).collect();
    let Ok(descriptions) = broker.groups.describe(ids).await else {
        return;
    };
    let mut state = Family::new(
        "fjord_consumer_group_state",
        "1 for each group's current state (Empty, PreparingRebalance, CompletingRebalance, \
         Stable).",
    );
    let mut members = Family::new("fjord_consumer_group_members", "Members of each group.");
    let mut committed = Family::new(
        "fjord_consumer_group_committed_offset",
        "The group's committed offset per partition.",
    );
    let mut lag = Family::new(
        "fjord_consumer_group_lag",
        "High watermark minus the group's committed offset, per partition.",
    );
    for group in &descriptions {
        state.push(
            vec![
                ("group", group.group_id.clone()),
                ("state", group.state.to_string()),
            ],
            1,
        );
        members.push(
            vec![("group", group.group_id.clone())],
            i64::try_from(group.members.len()).unwrap_or(i64::MAX),
        );
        let fetched = broker
            .groups
            .fetch(OffsetFetch {
                group_id: group.group_id.clone(),
                partitions: None,
            })
            .await;
        for row in group_lag(&broker.topics, &fetched.offsets) {
            let labels = || {
                vec![
                    ("group", group.group_id.clone()),
                    ("topic", row.partition.topic.clone()),
                    ("partition", row.partition.partition.to_string()),
                ]
            };
            committed.push(labels(), row.committed);
            lag.push(labels(), row.lag);
        }
    }
    for family in [state, members, committed, lag] {
        family.write(out);
    }
}

/// The lag of each committed partition against its high watermark.
fn group_lag(
    topics: &Topics,
    offsets: &[(
        crate::group::types::TopicPartition,
        Option<crate::group::types::CommittedOffset>,
    )],
) -> Vec<PartitionLag> {
    consumer_lag(offsets, |tp| {
        topics
            .get(&tp.topic)?
            .partition(tp.partition)
            .map(|p| p.high_watermark())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic_config::TopicConfig;

    #[test]
    fn label_values_are_escaped() {
        let mut family = Family::new("fjord_x", "Help.");
        family.push(vec![("group", "a\"b\\c\nd".to_string())], 3);
        let mut out = String::new();
        family.write(&mut out);
        assert_eq!(
            out,
            "# HELP fjord_x Help.\n# TYPE fjord_x gauge\nfjord_x{group=\"a\\\"b\\\\c\\nd\"} 3\n"
        );
    }

    #[test]
    fn panics_caught_are_a_counter_present_from_the_start() {
        let mut out = String::new();
        panics(&mut out);
        assert!(
            out.contains("# TYPE fjord_panics_caught_total counter\n"),
            "{out}"
        );
        let value = out
            .lines()
            .find_map(|l| l.strip_prefix("fjord_panics_caught_total "))
            .unwrap_or_else(|| panic!("no sample in {out}"));
        // Other tests in this process may have counted panics: only the form is checked here.
        assert!(value.parse::<u64>().is_ok(), "{out}");
    }

    #[test]
    fn empty_families_are_left_out() {
        let mut out = String::new();
        Family::new("fjord_x", "Help.").write(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn every_partition_gets_its_log_gauges() {
        let dir = tempfile::tempdir().unwrap();
        let topics = Topics::load(dir.path()).unwrap();
        topics.create("orders", 2, TopicConfig::default()).unwrap();
        let mut out = String::new();
        partitions(&topics, &mut out);
        for partition in 0..2 {
            let labels = format!("{{topic=\"orders\",partition=\"{partition}\"}}");
            for line in [
                format!("fjord_log_start_offset{labels} 0"),
                format!("fjord_log_high_watermark{labels} 0"),
                format!("fjord_log_size_bytes{labels} 0"),
                format!("fjord_log_segments{labels} 1"),
            ] {
                assert!(out.lines().any(|l| l == line), "{line} in {out}");
            }
        }
    }
}
