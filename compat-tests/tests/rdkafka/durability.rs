//! Data and topic configs surviving a graceful restart and a crash.

use fjord_compat_tests::Broker;
use rdkafka::admin::ConfigSource;
use rdkafka::Offset;

use crate::support::{
    consume, consumer, create_topic, ctx, describe_topic, numbered, produce_ok, producer,
    watermarks, Got, Rec,
};

#[test]
fn records_survive_a_graceful_restart() {
    let scenario =
        "records acknowledged before SIGTERM are readable after restart, offsets continue";
    let mut broker = Broker::start();
    create_topic(&broker, "durable", 2, &[]);
    let values = numbered("d", 20);
    let records: Vec<Rec> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Rec {
            value: Some(v.clone()),
            partition: Some(i32::from(i % 2 == 1)),
            ..Rec::default()
        })
        .collect();
    produce_ok(&producer(&broker, &[]), "durable", &records, scenario);

    broker.restart();

    assert_eq!(
        watermarks(&broker, "durable", 0),
        (0, 10),
        "{}: partition 0",
        ctx(scenario)
    );
    assert_eq!(
        watermarks(&broker, "durable", 1),
        (0, 10),
        "{}: partition 1",
        ctx(scenario)
    );
    let got = consume(
        &consumer(&broker, &[]),
        &[
            ("durable", 0, Offset::Beginning),
            ("durable", 1, Offset::Beginning),
        ],
        20,
        scenario,
    );
    let mut got_values: Vec<Vec<u8>> = got.into_iter().map(Got::value_bytes).collect();
    got_values.sort();
    let mut expected = values.clone();
    expected.sort();
    assert_eq!(got_values, expected, "{}", ctx(scenario));

    let next = produce_ok(
        &producer(&broker, &[]),
        "durable",
        &[Rec {
            value: Some(b"after".to_vec()),
            partition: Some(0),
            ..Rec::default()
        }],
        scenario,
    );
    assert_eq!(
        next[0].offset,
        10,
        "{}: next offset after restart",
        ctx(scenario)
    );
}

#[test]
fn topic_configs_survive_a_restart() {
    let scenario = "a topic's config overrides are kept across a restart";
    let mut broker = Broker::start();
    create_topic(&broker, "configured", 1, &[("retention.ms", "123456")]);
    broker.restart();
    let described = describe_topic(&broker, "configured");
    let entry = described
        .get("retention.ms")
        .unwrap_or_else(|| panic!("{}: missing", ctx(scenario)));
    assert_eq!(entry.value.as_deref(), Some("123456"), "{}", ctx(scenario));
    assert_eq!(
        entry.source,
        ConfigSource::DynamicTopic,
        "{}",
        ctx(scenario)
    );
}

#[test]
fn acknowledged_records_survive_kill_9() {
    let scenario = "records acknowledged with acks=all survive SIGKILL of the broker process";
    let mut broker = Broker::start();
    create_topic(&broker, "crash", 1, &[]);
    let values = numbered("c", 50);
    let records: Vec<Rec> = values.iter().map(|v| Rec::value(v.clone())).collect();
    produce_ok(
        &producer(&broker, &[("acks", "all")]),
        "crash",
        &records,
        scenario,
    );

    broker.kill9();
    broker.start_again();

    assert_eq!(
        watermarks(&broker, "crash", 0),
        (0, 50),
        "{}",
        ctx(scenario)
    );
    let got = consume(
        &consumer(&broker, &[]),
        &[("crash", 0, Offset::Beginning)],
        50,
        scenario,
    );
    let got_values: Vec<Vec<u8>> = got.into_iter().map(Got::value_bytes).collect();
    assert_eq!(got_values, values, "{}", ctx(scenario));
}
