//! Metadata, topic administration and topic configuration.

use fjord_compat_tests::Broker;
use rdkafka::admin::{ConfigSource, NewTopic, TopicReplication};
use rdkafka::consumer::Consumer;
use rdkafka::types::RDKafkaErrorCode;

use crate::support::{
    admin, admin_opts, await_topic, block_on, consumer, create_topic, ctx, describe_topic,
    CALL_TIMEOUT,
};

#[test]
fn metadata_lists_the_broker_topics_and_partitions() {
    let scenario = "metadata lists node 1 at the advertised address, and each partition";
    let broker = Broker::start();
    create_topic(&broker, "meta-three", 3, &[]);
    await_topic(&broker, "meta-three", 3);

    let md = consumer(&broker, &[])
        .fetch_metadata(None, CALL_TIMEOUT)
        .unwrap_or_else(|e| panic!("{}: {e}", ctx(scenario)));
    let brokers: Vec<_> = md
        .brokers()
        .iter()
        .map(|b| (b.id(), b.host().to_string(), b.port()))
        .collect();
    let (host, port) = broker
        .bootstrap()
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .unwrap();
    assert_eq!(
        brokers,
        vec![(1, host, port.parse().unwrap())],
        "{}",
        ctx(scenario)
    );

    let topic = md
        .topics()
        .iter()
        .find(|t| t.name() == "meta-three")
        .unwrap();
    let mut ids: Vec<i32> = topic
        .partitions()
        .iter()
        .map(rdkafka::metadata::MetadataPartition::id)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![0, 1, 2], "{}", ctx(scenario));
    for p in topic.partitions() {
        assert_eq!(
            p.leader(),
            1,
            "{}: leader of partition {}",
            ctx(scenario),
            p.id()
        );
        assert_eq!(
            p.replicas(),
            &[1],
            "{}: replicas of partition {}",
            ctx(scenario),
            p.id()
        );
        assert_eq!(
            p.isr(),
            &[1],
            "{}: isr of partition {}",
            ctx(scenario),
            p.id()
        );
        assert!(
            p.error().is_none(),
            "{}: partition {} error {:?}",
            ctx(scenario),
            p.id(),
            p.error()
        );
    }
}

#[test]
fn create_topic_with_configs_then_describe_and_delete() {
    let scenario = "create a topic with partitions and configs, describe it, delete it";
    let broker = Broker::start();
    create_topic(
        &broker,
        "admin-t",
        4,
        &[("retention.ms", "3600000"), ("cleanup.policy", "delete")],
    );
    await_topic(&broker, "admin-t", 4);

    let described = describe_topic(&broker, "admin-t");
    let retention = described
        .get("retention.ms")
        .unwrap_or_else(|| panic!("{}: no retention.ms", ctx(scenario)));
    assert_eq!(
        retention.value.as_deref(),
        Some("3600000"),
        "{}",
        ctx(scenario)
    );
    assert_eq!(
        retention.source,
        ConfigSource::DynamicTopic,
        "{}",
        ctx(scenario)
    );
    assert!(!retention.is_default, "{}", ctx(scenario));

    let deleted = block_on(admin(&broker).delete_topics(&["admin-t"], &admin_opts()))
        .unwrap_or_else(|e| panic!("{}: {e}", ctx(scenario)));
    assert_eq!(
        deleted,
        vec![Ok("admin-t".to_string())],
        "{}",
        ctx(scenario)
    );
    let consumer = consumer(&broker, &[]);
    fjord_compat_tests::retry_until(
        &ctx("deleted topic leaves the listing"),
        CALL_TIMEOUT,
        || {
            let md = consumer
                .fetch_metadata(None, CALL_TIMEOUT)
                .map_err(|e| e.to_string())?;
            if md.topics().iter().any(|t| t.name() == "admin-t") {
                Err("admin-t still listed".to_string())
            } else {
                Ok(())
            }
        },
    );
}

#[test]
fn create_topics_reports_errors_per_topic() {
    let scenario = "CreateTopics answers each topic: exists, invalid name, invalid config";
    let broker = Broker::start();
    create_topic(&broker, "exists", 1, &[]);
    let again = NewTopic::new("exists", 1, TopicReplication::Fixed(1));
    let bad_name = NewTopic::new("bad/name", 1, TopicReplication::Fixed(1));
    let bad_config = NewTopic::new("bad-config", 1, TopicReplication::Fixed(1))
        .set("cleanup.policy", "sometimes");
    let fresh = NewTopic::new("fresh", 2, TopicReplication::Fixed(1));
    let results = block_on(
        admin(&broker).create_topics([&again, &bad_name, &bad_config, &fresh], &admin_opts()),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", ctx(scenario)));
    assert_eq!(
        results,
        vec![
            Err(("exists".to_string(), RDKafkaErrorCode::TopicAlreadyExists)),
            Err(("bad/name".to_string(), RDKafkaErrorCode::InvalidTopic)),
            Err(("bad-config".to_string(), RDKafkaErrorCode::InvalidConfig)),
            Ok("fresh".to_string()),
        ],
        "{}",
        ctx(scenario)
    );
}

#[test]
fn delete_unknown_topic_reports_unknown_topic() {
    let scenario = "DeleteTopics of a missing topic answers UNKNOWN_TOPIC_OR_PARTITION";
    let broker = Broker::start_with(&["--auto-create-topics", "false"]);
    let results = block_on(admin(&broker).delete_topics(&["never-made"], &admin_opts()))
        .unwrap_or_else(|e| panic!("{}: {e}", ctx(scenario)));
    assert_eq!(
        results,
        vec![Err((
            "never-made".to_string(),
            RDKafkaErrorCode::UnknownTopicOrPartition
        ))],
        "{}",
        ctx(scenario)
    );
}

#[test]
fn describe_configs_returns_kafka_defaults() {
    let scenario = "DescribeConfigs of a topic without overrides returns Kafka's defaults";
    let broker = Broker::start();
    create_topic(&broker, "defaults", 1, &[]);
    let described = describe_topic(&broker, "defaults");
    for (name, value) in [
        ("retention.ms", "604800000"),
        ("cleanup.policy", "delete"),
        ("max.message.bytes", "1048588"),
        ("segment.bytes", "1073741824"),
        ("retention.bytes", "-1"),
    ] {
        let entry = described
            .get(name)
            .unwrap_or_else(|| panic!("{}: {name} missing", ctx(scenario)));
        assert_eq!(
            entry.value.as_deref(),
            Some(value),
            "{}: {name}",
            ctx(scenario)
        );
        assert_eq!(
            entry.source,
            ConfigSource::Default,
            "{}: source of {name}",
            ctx(scenario)
        );
        assert!(entry.is_default, "{}: {name} is_default", ctx(scenario));
    }
}

#[test]
fn metadata_request_auto_creates_a_topic() {
    let scenario = "a Metadata request for an unknown topic creates it (auto-create on)";
    let broker = Broker::start();
    let consumer = consumer(&broker, &[("allow.auto.create.topics", "true")]);
    // Kafka may answer LEADER_NOT_AVAILABLE while the new topic settles; ask again.
    fjord_compat_tests::retry_until(&ctx(scenario), CALL_TIMEOUT, || {
        let md = consumer
            .fetch_metadata(Some("auto-meta"), CALL_TIMEOUT)
            .map_err(|e| e.to_string())?;
        let topic = md.topics().first().ok_or("no topic in answer")?;
        match topic.error() {
            None if topic.partitions().len() == 1 => Ok(()),
            other => Err(format!(
                "error {other:?}, {} partitions",
                topic.partitions().len()
            )),
        }
    });
}

#[test]
fn metadata_for_unknown_topic_with_auto_create_off() {
    let scenario =
        "with auto-create off, Metadata answers UNKNOWN_TOPIC_OR_PARTITION and creates nothing";
    let broker = Broker::start_with(&["--auto-create-topics", "false"]);
    let consumer = consumer(&broker, &[("allow.auto.create.topics", "true")]);
    let md = consumer
        .fetch_metadata(Some("not-there"), CALL_TIMEOUT)
        .unwrap_or_else(|e| panic!("{}: {e}", ctx(scenario)));
    let topic = md
        .topics()
        .first()
        .unwrap_or_else(|| panic!("{}: topic missing from answer", ctx(scenario)));
    assert_eq!(
        topic.error().map(RDKafkaErrorCode::from),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition),
        "{}",
        ctx(scenario)
    );
    let all = consumer.fetch_metadata(None, CALL_TIMEOUT).unwrap();
    assert!(
        all.topics().iter().all(|t| t.name() != "not-there"),
        "{}",
        ctx(scenario)
    );
}
