"""kafka-python against fjord: admin, metadata, produce and consume without a
consumer group (assign/seek), compression, offsets, restart."""

import time

import kafka
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import MessageSizeTooLargeError

from helpers import incompressible, numbered, wait_until

CLIENT = f"kafka-python {kafka.__version__}"
T = 10


def ctx(scenario):
    return f"[{CLIENT}] {scenario}"


def admin(broker):
    return KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=T * 1000)


def topic_ready(broker, name, partitions):
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap)
    try:
        parts = c.partitions_for_topic(name)
        return parts is not None and len(parts) == partitions
    finally:
        c.close()


def create_topic(broker, name, partitions=1, configs=None):
    a = admin(broker)
    try:
        a.create_topics({name: {"num_partitions": partitions, "replication_factor": 1, "configs": configs or {}}})
    finally:
        a.close()
    wait_until(f"{name} in metadata", lambda: topic_ready(broker, name, partitions))


def producer(broker, **extra):
    return KafkaProducer(bootstrap_servers=broker.bootstrap, request_timeout_ms=T * 1000, **extra)


def consumer(broker, **extra):
    return KafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **extra,
    )


def produce_ok(p, topic, records, scenario):
    """records: dicts of KafkaProducer.send kwargs; returns RecordMetadata in order."""
    futures = [p.send(topic, **rec) for rec in records]
    p.flush(timeout=T * 2)
    out = []
    for i, f in enumerate(futures):
        try:
            out.append(f.get(timeout=T))
        except Exception as e:  # noqa: BLE001 - reported with context
            pytest.fail(ctx(f"{scenario}: record {i} not acknowledged: {e!r}"), pytrace=False)
    return out


def consume(c, starts, count, scenario, timeout=20):
    """starts: {TopicPartition: offset or 'beginning'}; polls until count records."""
    c.assign(list(starts))
    for tp, start in starts.items():
        if start == "beginning":
            c.seek_to_beginning(tp)
        else:
            c.seek(tp, start)
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        assert time.monotonic() < deadline, ctx(f"{scenario}: expected {count} records, got {len(got)}")
        for records in c.poll(timeout_ms=200).values():
            got.extend(records)
    return got


def test_metadata_partitions_and_leaders(broker):
    scenario = "metadata lists three partitions led by node 1"
    create_topic(broker, "meta", 3)
    a = admin(broker)
    try:
        [topic] = a.describe_topics(["meta"])
    finally:
        a.close()
    parts = sorted(topic["partitions"], key=lambda p: p["partition_index"])
    assert [p["partition_index"] for p in parts] == [0, 1, 2], ctx(scenario)
    assert all(p["leader_id"] == 1 and list(p["replica_nodes"]) == [1] for p in parts), ctx(f"{scenario}: {parts}")


def test_admin_create_list_describe_delete(broker):
    scenario = "create a topic with configs, list and describe it, delete it"
    create_topic(broker, "admin-t", 2, {"retention.ms": "3600000"})
    a = admin(broker)
    try:
        assert "admin-t" in a.list_topics(), ctx(scenario)
        configs = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "admin-t")], config_filter="all")
        entry = configs["topic"]["admin-t"]["retention.ms"]
        assert entry["value"] == "3600000", ctx(scenario)
        assert entry["config_source"] == "DYNAMIC_TOPIC_CONFIG", ctx(scenario)
        a.delete_topics(["admin-t"])
        wait_until(ctx("deleted topic leaves the listing"), lambda: "admin-t" not in a.list_topics())
    finally:
        a.close()


def test_describe_configs_defaults(broker):
    scenario = "DescribeConfigs of a topic without overrides returns Kafka's defaults"
    create_topic(broker, "defaults")
    a = admin(broker)
    try:
        configs = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "defaults")], config_filter="all")
    finally:
        a.close()
    entries = configs["topic"]["defaults"]
    for name, value in [("retention.ms", "604800000"), ("cleanup.policy", "delete"), ("max.message.bytes", "1048588")]:
        assert entries[name]["value"] == value, ctx(f"{scenario}: {name}")
        assert entries[name]["config_source"] == "DEFAULT_CONFIG", ctx(f"{scenario}: {name} source")


def test_admin_create_existing_topic_fails(broker):
    scenario = "creating an existing topic answers TOPIC_ALREADY_EXISTS"
    create_topic(broker, "exists")
    a = admin(broker)
    try:
        result = a.create_topics({"exists": {"num_partitions": 1, "replication_factor": 1}}, raise_errors=False)
    finally:
        a.close()
    [topic] = result["topics"]
    assert topic["error_code"] == 36, ctx(f"{scenario}: {topic}")


def test_keys_headers_and_per_key_order(broker):
    scenario = "keyed records with headers keep their bytes, and each key its order"
    create_topic(broker, "keyed", 3)
    keys = [b"alpha", b"beta", b"gamma"]
    records = [
        {"key": k, "value": k + b":" + str(i).encode(), "headers": [("seq", str(i).encode()), ("empty", b"")]}
        for i in range(20)
        for k in keys
    ]
    produce_ok(producer(broker, linger_ms=20), "keyed", records, scenario)
    got = consume(consumer(broker), {TopicPartition("keyed", p): "beginning" for p in range(3)}, len(records), scenario)
    per_key = {}
    for r in got:
        headers = list(r.headers)
        seq = int(headers[0][1])
        assert headers == [("seq", str(seq).encode()), ("empty", b"")], ctx(f"{scenario}: headers")
        assert r.value == r.key + b":" + str(seq).encode(), ctx(scenario)
        per_key.setdefault(r.key, []).append((r.partition, r.offset, seq))
    assert set(per_key) == set(keys), ctx(scenario)
    for k, seen in per_key.items():
        assert len({p for p, _, _ in seen}) == 1, ctx(f"{scenario}: key {k} in one partition")
        assert [s for _, _, s in sorted(seen, key=lambda s: s[1])] == list(range(20)), ctx(f"{scenario}: order of {k}")


def test_null_key_and_tombstone(broker):
    scenario = "null key and null value stay null"
    create_topic(broker, "nulls")
    produce_ok(producer(broker), "nulls", [{"value": b"no key"}, {"key": b"gone", "value": None}], scenario)
    got = consume(consumer(broker), {TopicPartition("nulls", 0): "beginning"}, 2, scenario)
    assert [(r.key, r.value) for r in got] == [(None, b"no key"), (b"gone", None)], ctx(scenario)


@pytest.mark.parametrize("codec", [None, "gzip", "snappy", "lz4", "zstd"])
def test_compression_round_trip(broker, codec):
    scenario = f"compression_type={codec}: 200 records round trip"
    topic = f"codec-{codec}"
    create_topic(broker, topic)
    values = [f"record {i} ".encode() + b"fjord " * (i % 30) for i in range(200)]
    metas = produce_ok(producer(broker, compression_type=codec, linger_ms=50), topic,
                       [{"value": v} for v in values], scenario)
    assert [m.offset for m in metas] == list(range(200)), ctx(scenario)
    got = consume(consumer(broker), {TopicPartition(topic, 0): "beginning"}, 200, scenario)
    assert [r.value for r in got] == values, ctx(scenario)


@pytest.mark.parametrize("codec", [None, "gzip"])
def test_fetch_from_middle_of_batch(broker, codec):
    scenario = f"seek to offset 4 inside one 10-record batch ({codec}) delivers 4..9 only"
    create_topic(broker, "mid")
    values = numbered("mid", 10)
    produce_ok(producer(broker, linger_ms=200, compression_type=codec), "mid", [{"value": v} for v in values], scenario)
    got = consume(consumer(broker), {TopicPartition("mid", 0): 4}, 6, scenario)
    assert [r.offset for r in got] == list(range(4, 10)), ctx(scenario)
    assert [r.value for r in got] == values[4:], ctx(scenario)


def test_offsets_for_times_and_end_offsets(broker):
    scenario = "offsets_for_times finds the first CreateTime >= target; end_offsets is the high watermark"
    create_topic(broker, "times")
    base = (int(time.time() * 1000) - 3_600_000) // 1000 * 1000
    produce_ok(producer(broker), "times",
               [{"value": f"t{i}".encode(), "timestamp_ms": base + i * 1000} for i in range(10)], scenario)
    c = consumer(broker)
    tp = TopicPartition("times", 0)
    found = c.offsets_for_times({tp: base + 2500})[tp]
    assert (found.offset, found.timestamp) == (3, base + 3000), ctx(scenario)
    assert c.offsets_for_times({tp: base + 60_000})[tp] is None, ctx(f"{scenario}: past the end")
    assert c.beginning_offsets([tp]) == {tp: 0}, ctx(scenario)
    assert c.end_offsets([tp]) == {tp: 10}, ctx(scenario)
    got = consume(c, {tp: found.offset}, 7, scenario)
    assert [r.timestamp for r in got] == [base + i * 1000 for i in range(3, 10)], ctx(scenario)


def test_max_message_bytes(broker):
    scenario = "topic max.message.bytes=1024 rejects a 4000-byte record with MESSAGE_TOO_LARGE"
    create_topic(broker, "small", configs={"max.message.bytes": "1024"})
    p = producer(broker, retries=0)
    future = p.send("small", value=incompressible(4000))
    with pytest.raises(MessageSizeTooLargeError):
        future.get(timeout=T)
    [meta] = produce_ok(p, "small", [{"value": b"small"}], scenario)
    assert meta.offset == 0, ctx(scenario)


def test_auto_create_on_produce(broker):
    scenario = "producing to an unknown topic creates it with one partition"
    [meta] = produce_ok(producer(broker), "auto-p", [{"key": b"k", "value": b"v"}], scenario)
    assert (meta.partition, meta.offset) == (0, 0), ctx(scenario)


def test_auto_create_on_metadata(broker):
    scenario = "partitions_for an unknown topic sends Metadata that creates it (allow_auto_create_topics)"
    p = producer(broker, allow_auto_create_topics=True)
    try:
        assert p.partitions_for("auto-m") == {0}, ctx(scenario)
    finally:
        p.close()
    wait_until(ctx(scenario), lambda: topic_ready(broker, "auto-m", 1))


def test_restart_keeps_data(broker):
    scenario = "records acknowledged before a graceful restart are readable after it"
    create_topic(broker, "durable")
    values = numbered("d", 15)
    produce_ok(producer(broker), "durable", [{"value": v} for v in values], scenario)
    broker.restart()
    got = consume(consumer(broker), {TopicPartition("durable", 0): "beginning"}, 15, scenario)
    assert [r.value for r in got] == values, ctx(scenario)
