//! `consume --group` and the `group` commands, against the broker's consumer group APIs.

use fjord_compat_tests::Broker;
use fjord_protocol::messages::ApiKey;
use serde_json::Value;

use crate::common::{consume_json, create_topic, fails, json, numbered, ok, produce, run};
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
