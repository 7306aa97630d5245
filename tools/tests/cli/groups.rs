//! `consume --group` and the `group` commands, against the broker's consumer group APIs.

use std::collections::BTreeMap;

use fjord_compat_tests::Broker;
use fjord_protocol::messages::ApiKey;
use serde_json::Value;

use crate::common::{
    consume_json, create_topic, fails, first_at_or_after, json, numbered, ok, produce,
    produce_spread_in_time, rfc3339, run,
};
use crate::topics::broker_supports;

/// The broker must advertise the group APIs for these tests to mean anything.
fn broker_with_groups() -> Broker {
    let broker = Broker::start();
    for api in [
        ApiKey::JoinGroup,
        ApiKey::SyncGroup,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::ListGroups,
        ApiKey::DescribeGroups,
        ApiKey::DeleteGroups,
    ] {
        assert!(
            broker_supports(&broker, api),
            "the broker does not advertise {}",
            api.name()
        );
    }
    broker
}

fn committed(described: &Value, partition: i64) -> Value {
    described["offsets"]
        .as_array()
        .expect("offsets")
        .iter()
        .find(|o| o["partition"] == partition)
        .map_or(Value::Null, |o| o["committed_offset"].clone())
}

#[test]
fn group_consume_commits_exactly_what_it_printed_and_resumes_there() {
    let broker = broker_with_groups();
    create_topic(&broker, "work", 1);
    produce(&broker, "work", &numbered("v", 10), &[]);

    let first = consume_json(
        &broker,
        "work",
        &["-g", "workers", "--from-beginning", "-n", "4"],
    );
    assert_eq!(first.len(), 4);
    let described = json(&run(&broker, &["group", "describe", "workers", "--json"]));
    assert_eq!(committed(&described, 0), 4);
    let offsets = described["offsets"].as_array().expect("offsets");
    assert_eq!(offsets[0]["log_end_offset"], 10);
    assert_eq!(offsets[0]["lag"], 6);
    assert_eq!(described["members"].as_array().map(Vec::len), Some(0));

    // The committed offset wins over --from-beginning.
    let rest = consume_json(
        &broker,
        "work",
        &["-g", "workers", "--from-beginning", "-e"],
    );
    let offsets: Vec<i64> = rest
        .iter()
        .map(|r| r["offset"].as_i64().expect("offset"))
        .collect();
    assert_eq!(offsets, (4..10).collect::<Vec<_>>());
    let described = json(&run(&broker, &["group", "describe", "workers", "--json"]));
    assert_eq!(committed(&described, 0), 10);
}

#[test]
fn group_list_reset_offsets_and_delete() {
    let broker = broker_with_groups();
    create_topic(&broker, "ledger", 2);
    produce(&broker, "ledger", &numbered("v", 20), &[]);
    consume_json(
        &broker,
        "ledger",
        &["-g", "auditors", "--from-beginning", "-e"],
    );

    let listed = json(&run(&broker, &["group", "list", "--json"]));
    let names: Vec<&str> = listed
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["group"].as_str())
        .collect();
    assert!(names.contains(&"auditors"), "{listed}");

    // Dry run: shows the plan, commits nothing.
    let plan = json(&run(
        &broker,
        &[
            "group",
            "reset-offsets",
            "auditors",
            "--topic",
            "ledger",
            "--to-offset",
            "3",
            "--dry-run",
            "--json",
        ],
    ));
    assert!(plan
        .as_array()
        .expect("plan")
        .iter()
        .all(|p| p["new_offset"] == 3));
    let described = json(&run(&broker, &["group", "describe", "auditors", "--json"]));
    assert_eq!(committed(&described, 0), 10);

    ok(&run(
        &broker,
        &[
            "group",
            "reset-offsets",
            "auditors",
            "--topic",
            "ledger",
            "--to-offset",
            "3",
        ],
    ));
    let described = json(&run(&broker, &["group", "describe", "auditors", "--json"]));
    assert_eq!(committed(&described, 0), 3);
    assert_eq!(committed(&described, 1), 3);

    ok(&run(
        &broker,
        &[
            "group",
            "reset-offsets",
            "auditors",
            "--topic",
            "ledger",
            "--shift-by",
            "-2",
            "-p",
            "1",
        ],
    ));
    ok(&run(
        &broker,
        &[
            "group",
            "reset-offsets",
            "auditors",
            "--topic",
            "ledger",
            "--to-latest",
            "-p",
            "0",
        ],
    ));
    let described = json(&run(&broker, &["group", "describe", "auditors", "--json"]));
    assert_eq!(committed(&described, 0), 10);
    assert_eq!(committed(&described, 1), 1);

    // Resuming reads exactly from the reset offsets.
    let resumed = consume_json(&broker, "ledger", &["-g", "auditors", "-e"]);
    let from_p1: Vec<i64> = resumed
        .iter()
        .filter(|r| r["partition"] == 1)
        .map(|r| r["offset"].as_i64().expect("offset"))
        .collect();
    assert_eq!(from_p1, (1..10).collect::<Vec<_>>());
    assert!(resumed.iter().all(|r| r["partition"] == 1));

    ok(&run(&broker, &["group", "delete", "auditors"]));
    let listed = json(&run(&broker, &["group", "list", "--json"]));
    assert!(
        !listed
            .as_array()
            .expect("groups")
            .iter()
            .any(|g| g["group"] == "auditors"),
        "{listed}"
    );
}

/// `group reset-offsets GROUP --topic TOPIC TARGET...` (committing); returns the plan.
fn reset(broker: &Broker, group: &str, topic: &str, target: &[&str]) -> Vec<(i64, i64)> {
    let mut args = vec!["group", "reset-offsets", group, "--topic", topic, "--json"];
    args.extend_from_slice(target);
    json(&run(broker, &args))
        .as_array()
        .expect("plan")
        .iter()
        .map(|p| {
            let partition = p["partition"].as_i64().expect("partition");
            (partition, p["new_offset"].as_i64().expect("new offset"))
        })
        .collect()
}

/// Per partition, the offsets `records` hold, in order.
fn by_partition(records: &[Value]) -> Vec<(i64, Vec<i64>)> {
    let mut out: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for r in records {
        out.entry(r["partition"].as_i64().expect("partition"))
            .or_default()
            .push(r["offset"].as_i64().expect("offset"));
    }
    out.into_iter().collect()
}

#[test]
fn reset_to_an_rfc3339_time_and_to_earliest_then_resume_exactly_there() {
    let broker = broker_with_groups();
    create_topic(&broker, "history", 2);
    // Keyless: round-robin, so both partitions hold records from across the whole run.
    produce_spread_in_time(&broker, "history", "h", 16, &[]);
    let all = consume_json(&broker, "history", &["--from-beginning", "-e"]);
    assert_eq!(all.len(), 16);
    let caught_up = consume_json(
        &broker,
        "history",
        &["-g", "rebuild", "--from-beginning", "-e"],
    );
    assert_eq!(caught_up.len(), 16);

    // A cut that opens a new millisecond in the middle of the run, given in a zone west of UTC.
    let mut stamps: Vec<i64> = all
        .iter()
        .map(|r| r["timestamp"].as_i64().expect("timestamp"))
        .collect();
    stamps.sort_unstable();
    let cut = stamps[6..]
        .iter()
        .copied()
        .find(|&t| t > stamps[5])
        .unwrap_or_else(|| panic!("no new millisecond after the sixth record: {stamps:?}"));
    let expected = first_at_or_after(&all, cut);
    assert!(
        expected.values().any(|&o| o > 0 && o < 8),
        "the cut falls inside a partition: {expected:?}"
    );
    let plan = reset(
        &broker,
        "rebuild",
        "history",
        &["--to-timestamp", &rfc3339(cut, -3 * 60)],
    );
    assert_eq!(plan, expected.clone().into_iter().collect::<Vec<_>>());
    let described = json(&run(&broker, &["group", "describe", "rebuild", "--json"]));
    for (&p, &offset) in &expected {
        assert_eq!(committed(&described, p), offset, "partition {p}");
    }

    // A group consumer resumes exactly at the reset offsets (--from-beginning only applies
    // where nothing is committed).
    let resumed = consume_json(
        &broker,
        "history",
        &["-g", "rebuild", "--from-beginning", "-e"],
    );
    let want: Vec<(i64, Vec<i64>)> = expected
        .iter()
        .map(|(&p, &from)| (p, (from..8).collect()))
        .filter(|(_, offsets): &(i64, Vec<i64>)| !offsets.is_empty())
        .collect();
    assert_eq!(by_partition(&resumed), want);
    assert!(resumed
        .iter()
        .all(|r| r["timestamp"].as_i64().expect("timestamp") >= cut));

    let plan = reset(&broker, "rebuild", "history", &["--to-earliest"]);
    assert_eq!(plan, vec![(0, 0), (1, 0)]);
    let replayed = consume_json(&broker, "history", &["-g", "rebuild", "-e"]);
    assert_eq!(
        by_partition(&replayed),
        vec![(0, (0..8).collect()), (1, (0..8).collect())]
    );
    let described = json(&run(&broker, &["group", "describe", "rebuild", "--json"]));
    assert_eq!(committed(&described, 0), 8);
    assert_eq!(committed(&described, 1), 8);
}

#[test]
fn describing_an_unknown_group_fails_or_shows_it_dead() {
    let broker = broker_with_groups();
    let output = run(&broker, &["group", "describe", "nobody", "--json"]);
    // Kafka answers DescribeGroups for an unknown group with state Dead and no members.
    if output.status.success() {
        let described = json(&output);
        assert_eq!(described["state"], "Dead");
        assert_eq!(described["members"].as_array().map(Vec::len), Some(0));
    } else {
        let err = fails(&output);
        assert!(err.contains("nobody"), "{err}");
    }
}
