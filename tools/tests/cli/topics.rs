//! `topic create | list | describe | alter | delete`.

use fjord_compat_tests::Broker;
use serde_json::Value;

use crate::common::{create_topic, fails, json, ok, produce, run};

fn listed_names(broker: &Broker) -> Vec<String> {
    json(&run(broker, &["topic", "list", "--json"]))
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|t| t["name"].as_str().expect("a name").to_owned())
        .collect()
}

fn config<'a>(described: &'a Value, name: &str) -> &'a Value {
    described["configs"]
        .as_array()
        .expect("configs")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no config {name} in {described}"))
}

#[test]
fn create_list_describe_delete() {
    let broker = Broker::start();
    ok(&run(
        &broker,
        &[
            "topic",
            "create",
            "orders",
            "-p",
            "3",
            "--config",
            "retention.ms=123456",
        ],
    ));
    assert!(listed_names(&broker).contains(&"orders".to_owned()));

    produce(
        &broker,
        "orders",
        &crate::common::numbered("v", 5),
        &["-p", "1"],
    );
    let described = json(&run(&broker, &["topic", "describe", "orders", "--json"]));
    let partitions = described["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 3);
    for p in partitions {
        assert!(p["leader"].as_i64().expect("leader") >= 0, "{p}");
        assert_eq!(p["log_start_offset"], 0);
        let expected_end = if p["partition"] == 1 { 5 } else { 0 };
        assert_eq!(p["log_end_offset"], expected_end, "{p}");
    }
    let retention = config(&described, "retention.ms");
    assert_eq!(retention["value"], "123456");
    assert_eq!(retention["source"], "topic");

    // The human form names the same facts.
    let text = ok(&run(&broker, &["topic", "describe", "orders"]));
    assert!(text.contains("partitions: 3"), "{text}");
    assert!(text.contains("retention.ms"), "{text}");

    ok(&run(&broker, &["topic", "delete", "orders"]));
    assert!(!listed_names(&broker).contains(&"orders".to_owned()));
    let err = fails(&run(&broker, &["topic", "describe", "orders"]));
    assert!(err.contains("unknown topic \"orders\""), "{err}");
}

#[test]
fn creating_an_existing_topic_fails_with_the_kafka_error() {
    let broker = Broker::start();
    create_topic(&broker, "dup", 1);
    let err = fails(&run(&broker, &["topic", "create", "dup"]));
    assert!(err.contains("TOPIC_ALREADY_EXISTS"), "{err}");
}

#[test]
fn alter_sets_configs_when_the_broker_supports_it_and_says_so_otherwise() {
    let broker = Broker::start();
    create_topic(&broker, "tuned", 1);
    let advertised = broker_supports(
        &broker,
        fjord_protocol::messages::ApiKey::IncrementalAlterConfigs,
    );
    let output = run(
        &broker,
        &["topic", "alter", "tuned", "--config", "retention.ms=999000"],
    );
    if advertised {
        ok(&output);
        let described = json(&run(&broker, &["topic", "describe", "tuned", "--json"]));
        assert_eq!(config(&described, "retention.ms")["value"], "999000");
    } else {
        let err = fails(&output);
        assert!(
            err.contains("does not advertise IncrementalAlterConfigs"),
            "{err}"
        );
    }
}

/// Whether the broker advertises `api` in a version `fjordctl` speaks.
pub(crate) fn broker_supports(broker: &Broker, api: fjord_protocol::messages::ApiKey) -> bool {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = fjord_tools::client::Connection::connect(&broker.bootstrap(), "test")
            .await
            .expect("connect");
        client.versions().supports(api)
    })
}
