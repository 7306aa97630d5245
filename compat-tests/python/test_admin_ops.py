"""Administration beyond topic creation against fjord: CreatePartitions,
AlterConfigs, IncrementalAlterConfigs, DeleteRecords, DescribeCluster,
DescribeTopicPartitions (describe_topics) and ListOffsets, through
confluent-kafka's AdminClient and kafka-python's KafkaAdminClient."""

import confluent_kafka
import kafka
import pytest
from confluent_kafka import KafkaError, KafkaException, Producer, TopicCollection, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)
from kafka import KafkaAdminClient
from kafka import TopicPartition as KTopicPartition
from kafka.admin import ConfigResource as KConfigResource
from kafka.admin import ConfigResourceType as KConfigResourceType

from helpers import numbered, wait_until

CONFLUENT = f"confluent-kafka {confluent_kafka.version()[0]} / librdkafka {confluent_kafka.libversion()[0]}"
KAFKA_PYTHON = f"kafka-python {kafka.__version__}"
T = 10

# The legacy AlterConfigs is what these tests exercise, deprecated or not.
pytestmark = pytest.mark.filterwarnings("ignore:alter_configs has been deprecated:DeprecationWarning")


def ctx(client, scenario):
    return f"[{client}] {scenario}"


_ADMINS = {}


def admin(broker):
    # Kept alive per broker: librdkafka fails the futures of a destroyed client.
    if broker.bootstrap not in _ADMINS:
        _ADMINS[broker.bootstrap] = AdminClient({"bootstrap.servers": broker.bootstrap})
    return _ADMINS[broker.bootstrap]


@pytest.fixture(autouse=True)
def _forget_admins():
    """Drops this test's admin clients once its broker is gone, so they stop reconnecting."""
    yield
    _ADMINS.clear()


def create_topic(broker, name, partitions=1, config=None):
    fs = admin(broker).create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        request_timeout=T,
    )
    fs[name].result(timeout=T)
    wait_until(f"{name} has {partitions} partitions", lambda: partition_count(broker, name) == partitions)


def partition_count(broker, name):
    t = admin(broker).list_topics(timeout=T).topics.get(name)
    return None if t is None or t.error is not None else len(t.partitions)


def produce(broker, topic, values, partition=0):
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 15000})
    errors = []
    for v in values:
        p.produce(topic, value=v, partition=partition, on_delivery=lambda err, msg: err and errors.append(err))
    assert p.flush(T) == 0, "records left unsent"
    assert errors == [], errors


def topic_config(broker, name):
    res = ConfigResource(ResourceType.TOPIC, name)
    return admin(broker).describe_configs([res], request_timeout=T)[res].result(timeout=T)


def error_code(future):
    with pytest.raises(KafkaException) as raised:
        future.result(timeout=T)
    return raised.value.args[0].code()


# --- confluent-kafka ---------------------------------------------------------


def test_confluent_create_partitions(broker):
    scenario = "create_partitions grows 1 -> 4; validate_only, equal count and unknown topic"
    create_topic(broker, "cp-grow", 1)
    a = admin(broker)
    fs = a.create_partitions([NewPartitions("cp-grow", 8)], validate_only=True, request_timeout=T)
    fs["cp-grow"].result(timeout=T)
    assert partition_count(broker, "cp-grow") == 1, ctx(CONFLUENT, scenario)

    fs = a.create_partitions([NewPartitions("cp-grow", 4)], request_timeout=T)
    fs["cp-grow"].result(timeout=T)
    wait_until(ctx(CONFLUENT, scenario), lambda: partition_count(broker, "cp-grow") == 4)

    fs = a.create_partitions([NewPartitions("cp-grow", 4), NewPartitions("cp-none", 2)], request_timeout=T)
    assert error_code(fs["cp-grow"]) == KafkaError.INVALID_PARTITIONS, ctx(CONFLUENT, scenario)
    assert error_code(fs["cp-none"]) == KafkaError.UNKNOWN_TOPIC_OR_PART, ctx(CONFLUENT, scenario)


def test_confluent_incremental_alter_configs(broker):
    scenario = "incremental_alter_configs SET, APPEND to cleanup.policy, DELETE; APPEND to a non-list"
    create_topic(broker, "iac", 1, {"retention.ms": "3600000"})
    a = admin(broker)
    res = ConfigResource(
        ResourceType.TOPIC,
        "iac",
        incremental_configs=[
            ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
            ConfigEntry("segment.ms", "120000", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
        ],
    )
    a.incremental_alter_configs([res], request_timeout=T)[res].result(timeout=T)
    configs = topic_config(broker, "iac")
    assert configs["cleanup.policy"].value == "delete,compact", ctx(CONFLUENT, scenario)
    assert configs["segment.ms"].value == "120000", ctx(CONFLUENT, scenario)
    assert configs["retention.ms"].value == "604800000", ctx(CONFLUENT, scenario)
    assert configs["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value, ctx(CONFLUENT, scenario)

    subtract = ConfigResource(
        ResourceType.TOPIC,
        "iac",
        incremental_configs=[
            ConfigEntry("cleanup.policy", "delete", incremental_operation=AlterConfigOpType.SUBTRACT)
        ],
    )
    a.incremental_alter_configs([subtract], request_timeout=T)[subtract].result(timeout=T)
    assert topic_config(broker, "iac")["cleanup.policy"].value == "compact", ctx(CONFLUENT, scenario)

    bad = ConfigResource(
        ResourceType.TOPIC,
        "iac",
        incremental_configs=[ConfigEntry("retention.ms", "5", incremental_operation=AlterConfigOpType.APPEND)],
    )
    assert error_code(a.incremental_alter_configs([bad], request_timeout=T)[bad]) == KafkaError.INVALID_CONFIG

    missing = ConfigResource(
        ResourceType.TOPIC,
        "iac-missing",
        incremental_configs=[ConfigEntry("retention.ms", "5", incremental_operation=AlterConfigOpType.SET)],
    )
    assert (
        error_code(a.incremental_alter_configs([missing], request_timeout=T)[missing])
        == KafkaError.UNKNOWN_TOPIC_OR_PART
    ), ctx(CONFLUENT, scenario)


def test_confluent_incremental_alter_configs_validate_only(broker):
    scenario = "incremental_alter_configs with validate_only changes nothing"
    create_topic(broker, "iac-dry", 1)
    res = ConfigResource(
        ResourceType.TOPIC,
        "iac-dry",
        incremental_configs=[ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)],
    )
    admin(broker).incremental_alter_configs([res], validate_only=True, request_timeout=T)[res].result(timeout=T)
    assert topic_config(broker, "iac-dry")["retention.ms"].value == "604800000", ctx(CONFLUENT, scenario)


def test_confluent_alter_configs_replaces_and_refuses(broker):
    scenario = "alter_configs replaces the override set; invalid values and broker settings are refused"
    create_topic(broker, "ac", 1, {"retention.ms": "3600000"})
    a = admin(broker)
    res = ConfigResource(ResourceType.TOPIC, "ac", set_config={"segment.ms": "120000"})
    a.alter_configs([res], request_timeout=T)[res].result(timeout=T)
    configs = topic_config(broker, "ac")
    assert configs["segment.ms"].value == "120000", ctx(CONFLUENT, scenario)
    assert configs["retention.ms"].value == "604800000", ctx(CONFLUENT, scenario)

    bad = ConfigResource(ResourceType.TOPIC, "ac", set_config={"retention.ms": "soon"})
    assert error_code(a.alter_configs([bad], request_timeout=T)[bad]) == KafkaError.INVALID_CONFIG
    assert topic_config(broker, "ac")["segment.ms"].value == "120000", ctx(CONFLUENT, scenario)

    static = ConfigResource(ResourceType.BROKER, "1", set_config={"num.partitions": "3"})
    assert error_code(a.alter_configs([static], request_timeout=T)[static]) == KafkaError.INVALID_REQUEST


def test_confluent_delete_records_and_list_offsets(broker):
    scenario = "delete_records before 3 of 8 moves the earliest offset to 3; past the end is refused"
    create_topic(broker, "dr", 1)
    produce(broker, "dr", numbered("v", 8))
    a = admin(broker)
    fs = a.delete_records([TopicPartition("dr", 0, 3)], request_timeout=T)
    deleted = fs[TopicPartition("dr", 0)].result(timeout=T)
    assert deleted.low_watermark == 3, ctx(CONFLUENT, scenario)

    offsets = a.list_offsets(
        {TopicPartition("dr", 0): OffsetSpec.earliest()}, request_timeout=T
    )[TopicPartition("dr", 0)].result(timeout=T)
    assert offsets.offset == 3, ctx(CONFLUENT, scenario)
    latest = a.list_offsets({TopicPartition("dr", 0): OffsetSpec.latest()}, request_timeout=T)[
        TopicPartition("dr", 0)
    ].result(timeout=T)
    assert latest.offset == 8, ctx(CONFLUENT, scenario)

    fs = a.delete_records([TopicPartition("dr", 0, 50)], request_timeout=T)
    assert error_code(fs[TopicPartition("dr", 0)]) == KafkaError.OFFSET_OUT_OF_RANGE, ctx(CONFLUENT, scenario)


def test_confluent_describe_cluster(broker):
    scenario = "describe_cluster names node 1 at the bootstrap address as broker and controller"
    desc = admin(broker).describe_cluster(request_timeout=T).result(timeout=T)
    host, port = broker.bootstrap.rsplit(":", 1)
    assert desc.cluster_id, ctx(CONFLUENT, scenario)
    assert [(n.id, n.host, n.port) for n in desc.nodes] == [(1, host, int(port))], ctx(CONFLUENT, scenario)
    assert desc.controller.id == 1, ctx(CONFLUENT, scenario)


def test_confluent_describe_topics(broker):
    scenario = "describe_topics lists partitions with leader 1, and reports unknown topics"
    create_topic(broker, "dt", 3)
    a = admin(broker)
    fs = a.describe_topics(TopicCollection(["dt"]), request_timeout=T)
    desc = fs["dt"].result(timeout=T)
    assert desc.name == "dt", ctx(CONFLUENT, scenario)
    assert not desc.is_internal, ctx(CONFLUENT, scenario)
    assert [p.id for p in desc.partitions] == [0, 1, 2], ctx(CONFLUENT, scenario)
    assert all(p.leader.id == 1 and [r.id for r in p.isr] == [1] for p in desc.partitions), ctx(CONFLUENT, scenario)
    fs = a.describe_topics(TopicCollection(["dt-missing"]), request_timeout=T)
    assert error_code(fs["dt-missing"]) == KafkaError.UNKNOWN_TOPIC_OR_PART, ctx(CONFLUENT, scenario)


# --- kafka-python --------------------------------------------------------------


@pytest.fixture
def kadmin(broker):
    a = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=T * 1000)
    yield a
    a.close()


def test_kafka_python_create_partitions(broker, kadmin):
    scenario = "create_partitions grows 2 -> 3; a decrease raises InvalidPartitionsError"
    create_topic(broker, "kp-grow", 2)
    kadmin.create_partitions({"kp-grow": 3})
    wait_until(ctx(KAFKA_PYTHON, scenario), lambda: partition_count(broker, "kp-grow") == 3)
    with pytest.raises(kafka.errors.InvalidPartitionsError):
        kadmin.create_partitions({"kp-grow": 2})


def test_kafka_python_alter_configs(broker, kadmin):
    scenario = "alter_configs sets retention.ms"
    create_topic(broker, "kp-ac", 1)
    kadmin.alter_configs([KConfigResource(KConfigResourceType.TOPIC, "kp-ac", configs={"retention.ms": "7200000"})])
    assert topic_config(broker, "kp-ac")["retention.ms"].value == "7200000", ctx(KAFKA_PYTHON, scenario)


def test_kafka_python_delete_records(broker, kadmin):
    scenario = "delete_records up to offset 2 reports low watermark 2"
    create_topic(broker, "kp-dr", 1)
    produce(broker, "kp-dr", numbered("v", 5))
    result = kadmin.delete_records({KTopicPartition("kp-dr", 0): 2})
    (meta,) = result.values()
    assert meta["low_watermark"] == 2, ctx(KAFKA_PYTHON, f"{scenario}: {result}")


def test_kafka_python_describe_cluster(broker, kadmin):
    scenario = "describe_cluster names node 1 and the cluster id"
    desc = kadmin.describe_cluster()
    assert desc["cluster_id"], ctx(KAFKA_PYTHON, f"{scenario}: {desc}")
    assert [b["broker_id"] for b in desc["brokers"]] == [1], ctx(KAFKA_PYTHON, f"{scenario}: {desc}")
    assert desc["controller_id"] == 1, ctx(KAFKA_PYTHON, f"{scenario}: {desc}")


def test_kafka_python_describe_topic_partitions_pages(broker, kadmin):
    scenario = "describe_topic_partitions pages through 3 partitions two at a time"
    create_topic(broker, "kp-dtp", 3)
    first = kadmin.describe_topic_partitions(["kp-dtp"], response_partition_limit=2)
    assert [p["partition_index"] for p in first["topics"][0]["partitions"]] == [0, 1], ctx(KAFKA_PYTHON, scenario)
    cursor = first["next_cursor"]
    assert (cursor["topic_name"], cursor["partition_index"]) == ("kp-dtp", 2), ctx(
        KAFKA_PYTHON, f"{scenario}: {first}"
    )
    rest = kadmin.describe_topic_partitions(["kp-dtp"], response_partition_limit=2, cursor=cursor)
    assert [p["partition_index"] for p in rest["topics"][0]["partitions"]] == [2], ctx(KAFKA_PYTHON, scenario)
    assert rest["next_cursor"] is None, ctx(KAFKA_PYTHON, f"{scenario}: {rest}")


def test_kafka_python_consumes_through_an_incremental_fetch_session(broker):
    """kafka-python implements KIP-227: after the first full fetch its fetches are
    incremental within the session the broker opened."""
    scenario = "a consumer reads two rounds of records over two partitions in one fetch session"
    create_topic(broker, "kp-session", 2)
    produce(broker, "kp-session", numbered("a", 3), partition=0)
    produce(broker, "kp-session", numbered("b", 3), partition=1)
    consumer = kafka.KafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
    )
    try:
        consumer.assign([KTopicPartition("kp-session", 0), KTopicPartition("kp-session", 1)])
        got = []

        def read(count):
            def more():
                for records in consumer.poll(timeout_ms=200).values():
                    got.extend((r.partition, r.value) for r in records)
                return len(got) >= count

            wait_until(ctx(KAFKA_PYTHON, scenario), more)

        read(6)
        produce(broker, "kp-session", numbered("c", 2), partition=1)
        read(8)
        by_partition = {p: [v for q, v in got if q == p] for p in (0, 1)}
        assert by_partition[0] == numbered("a", 3), ctx(KAFKA_PYTHON, f"{scenario}: {got}")
        assert by_partition[1] == numbered("b", 3) + numbered("c", 2), ctx(KAFKA_PYTHON, f"{scenario}: {got}")
        # The client's view of its session (internal, but the only window onto it): the
        # broker opened one and the client has moved on to incremental epochs.
        (handler,) = consumer._fetcher._session_handlers.values()
        assert handler.next_metadata.session_id != 0, ctx(KAFKA_PYTHON, scenario)
        assert handler.next_metadata.epoch > 1, ctx(KAFKA_PYTHON, scenario)
    finally:
        consumer.close()
