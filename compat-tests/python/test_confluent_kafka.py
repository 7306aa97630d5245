"""confluent-kafka (librdkafka) against fjord: admin, metadata, produce and
consume without a consumer group, compression, offsets, restart."""

import time

import confluent_kafka
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic, ResourceType

from helpers import incompressible, numbered, wait_until

CLIENT = f"confluent-kafka {confluent_kafka.version()[0]} / librdkafka {confluent_kafka.libversion()[0]}"
T = 10


def ctx(scenario):
    return f"[{CLIENT}] {scenario}"


_ADMINS = {}


def admin(broker):
    # One client per address, kept alive: librdkafka fails the futures of a destroyed client,
    # so a temporary AdminClient would lose its own answers.
    if broker.bootstrap not in _ADMINS:
        _ADMINS[broker.bootstrap] = AdminClient({"bootstrap.servers": broker.bootstrap})
    return _ADMINS[broker.bootstrap]


def create_topic(broker, name, partitions=1, config=None):
    fs = admin(broker).create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        request_timeout=T,
    )
    fs[name].result(timeout=T)
    wait_until(f"{name} has leaders", lambda: topic_ready(broker, name, partitions))


def topic_ready(broker, name, partitions):
    md = admin(broker).list_topics(timeout=T)
    t = md.topics.get(name)
    return t is not None and t.error is None and len(t.partitions) == partitions and all(
        p.leader == 1 for p in t.partitions.values()
    )


def producer(broker, **extra):
    conf = {"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 15000}
    conf.update({k.replace("_", "."): v for k, v in extra.items()})
    return Producer(conf)


def consumer(broker, **extra):
    # librdkafka's Python binding insists on a group.id; nothing is committed
    # and partitions are assigned by hand, so the group is never joined.
    conf = {
        "bootstrap.servers": broker.bootstrap,
        "group.id": "fjord-compat-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
    }
    conf.update({k.replace("_", "."): v for k, v in extra.items()})
    return Consumer(conf)


def produce(p, topic, records):
    """records: dicts of Producer.produce kwargs. Returns (err, msg) per record, in order."""
    results = [None] * len(records)

    def cb(i):
        def done(err, msg):
            results[i] = (err, msg)
        return done

    for i, rec in enumerate(records):
        p.produce(topic, on_delivery=cb(i), **rec)
        p.poll(0)
    remaining = p.flush(T * 2)
    assert remaining == 0, f"{remaining} records still queued"
    return results


def produce_ok(p, topic, records, scenario):
    results = produce(p, topic, records)
    for i, (err, _) in enumerate(results):
        assert err is None, ctx(f"{scenario}: record {i} not acknowledged: {err}")
    return [msg for _, msg in results]


def consume(c, assignment, count, scenario, timeout=20):
    """assignment: list of TopicPartition with start offsets. Polls until count records."""
    c.assign(assignment)
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        assert time.monotonic() < deadline, ctx(
            f"{scenario}: expected {count} records, got {len(got)}: {[(m.partition(), m.offset()) for m in got]}"
        )
        msg = c.poll(0.2)
        if msg is None:
            continue
        assert msg.error() is None, ctx(f"{scenario}: consume error {msg.error()}")
        got.append(msg)
    return got


def test_metadata_lists_broker_topics_and_partitions(broker):
    scenario = "list_topics shows node 1 at the advertised address and every partition"
    create_topic(broker, "meta", 3)
    md = admin(broker).list_topics(timeout=T)
    host, port = broker.bootstrap.rsplit(":", 1)
    assert [(b.id, b.host, b.port) for b in md.brokers.values()] == [(1, host, int(port))], ctx(scenario)
    parts = md.topics["meta"].partitions
    assert sorted(parts) == [0, 1, 2], ctx(scenario)
    for p in parts.values():
        assert (p.leader, list(p.replicas), list(p.isrs), p.error) == (1, [1], [1], None), ctx(scenario)


def test_admin_create_describe_delete(broker):
    scenario = "create a topic with configs, describe it, delete it"
    create_topic(broker, "admin-t", 4, {"retention.ms": "3600000"})
    res = ConfigResource(ResourceType.TOPIC, "admin-t")
    entries = admin(broker).describe_configs([res], request_timeout=T)[res].result(timeout=T)
    assert entries["retention.ms"].value == "3600000", ctx(scenario)
    assert ConfigSource(entries["retention.ms"].source) == ConfigSource.DYNAMIC_TOPIC_CONFIG, ctx(scenario)
    admin(broker).delete_topics(["admin-t"], request_timeout=T)["admin-t"].result(timeout=T)
    wait_until(ctx("deleted topic leaves the listing"),
               lambda: "admin-t" not in admin(broker).list_topics(timeout=T).topics)


def test_admin_create_errors_per_topic(broker):
    scenario = "CreateTopics answers TOPIC_ALREADY_EXISTS / INVALID_TOPIC_EXCEPTION (17) / INVALID_CONFIG per topic"
    create_topic(broker, "exists")
    fs = admin(broker).create_topics(
        [
            NewTopic("exists", 1, 1),
            NewTopic("bad/name", 1, 1),
            NewTopic("bad-config", 1, 1, config={"cleanup.policy": "sometimes"}),
        ],
        request_timeout=T,
    )
    expected = {
        "exists": KafkaError.TOPIC_ALREADY_EXISTS,
        "bad/name": KafkaError.TOPIC_EXCEPTION,
        "bad-config": KafkaError.INVALID_CONFIG,
    }
    for name, code in expected.items():
        with pytest.raises(KafkaException) as info:
            fs[name].result(timeout=T)
        assert info.value.args[0].code() == code, ctx(f"{scenario}: {name}: {info.value}")


def test_describe_configs_defaults(broker):
    scenario = "DescribeConfigs of a topic without overrides returns Kafka's defaults"
    create_topic(broker, "defaults")
    res = ConfigResource(ResourceType.TOPIC, "defaults")
    entries = admin(broker).describe_configs([res], request_timeout=T)[res].result(timeout=T)
    for name, value in [
        ("retention.ms", "604800000"),
        ("cleanup.policy", "delete"),
        ("max.message.bytes", "1048588"),
        ("segment.bytes", "1073741824"),
    ]:
        assert entries[name].value == value, ctx(f"{scenario}: {name}")
        assert ConfigSource(entries[name].source) == ConfigSource.DEFAULT_CONFIG, ctx(f"{scenario}: {name} source")
        assert entries[name].is_default, ctx(f"{scenario}: {name} is_default")


def test_describe_configs_synonyms_name_the_broker_wide_forms(broker_factory):
    scenario = ("DescribeConfigs TOPIC synonyms: the topic's own value, then its broker-wide form "
                "(log.retention.hours), which a broker flag may set (log.flush.interval.messages)")
    b = broker_factory("--fsync-before-ack")
    create_topic(b, "synonyms", 1, {"retention.ms": "3600000"})
    res = ConfigResource(ResourceType.TOPIC, "synonyms")
    entries = admin(b).describe_configs([res], request_timeout=T)[res].result(timeout=T)

    def listed(name):
        e = entries[name]
        # The client keys synonyms by name, so of two under one name it keeps the last.
        return (e.value, ConfigSource(e.source),
                [(s.name, s.value, ConfigSource(s.source)) for s in e.synonyms.values()])

    assert listed("retention.ms") == ("3600000", ConfigSource.DYNAMIC_TOPIC_CONFIG, [
        ("retention.ms", "3600000", ConfigSource.DYNAMIC_TOPIC_CONFIG),
        ("log.retention.hours", "168", ConfigSource.DEFAULT_CONFIG),
    ]), ctx(f"{scenario}: retention.ms {listed('retention.ms')}")
    assert listed("segment.bytes") == ("1073741824", ConfigSource.DEFAULT_CONFIG, [
        ("log.segment.bytes", "1073741824", ConfigSource.DEFAULT_CONFIG),
    ]), ctx(f"{scenario}: segment.bytes {listed('segment.bytes')}")
    assert listed("flush.messages") == ("1", ConfigSource.STATIC_BROKER_CONFIG, [
        ("log.flush.interval.messages", "9223372036854775807", ConfigSource.DEFAULT_CONFIG),
    ]), ctx(f"{scenario}: flush.messages {listed('flush.messages')}")


def test_keys_headers_and_per_key_order(broker):
    scenario = "keyed records with headers keep their bytes, and each key its order"
    create_topic(broker, "keyed", 3)
    keys = [b"alpha", b"beta", b"gamma"]
    records = [
        {"key": k, "value": k + b":" + str(i).encode(), "headers": [("seq", str(i).encode()), ("null", None)]}
        for i in range(20)
        for k in keys
    ]
    produce_ok(producer(broker, linger_ms=20), "keyed", records, scenario)
    got = consume(consumer(broker), [TopicPartition("keyed", p, confluent_kafka.OFFSET_BEGINNING) for p in range(3)],
                  len(records), scenario)
    per_key = {}
    for m in got:
        headers = m.headers()
        assert headers[1] == ("null", None), ctx(f"{scenario}: null header value kept")
        seq = int(headers[0][1])
        assert m.value() == m.key() + b":" + str(seq).encode(), ctx(scenario)
        per_key.setdefault(m.key(), []).append((m.partition(), m.offset(), seq))
    for k, seen in per_key.items():
        assert len({p for p, _, _ in seen}) == 1, ctx(f"{scenario}: key {k} in one partition")
        assert [s for _, _, s in sorted(seen, key=lambda s: s[1])] == list(range(20)), ctx(f"{scenario}: order of {k}")


def test_null_key_and_tombstone(broker):
    scenario = "null key and null value stay null"
    create_topic(broker, "nulls")
    produce_ok(producer(broker), "nulls", [{"value": b"no key"}, {"key": b"gone", "value": None}], scenario)
    got = consume(consumer(broker), [TopicPartition("nulls", 0, confluent_kafka.OFFSET_BEGINNING)], 2, scenario)
    assert [(m.key(), m.value()) for m in got] == [(None, b"no key"), (b"gone", None)], ctx(scenario)


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_compression_round_trip(broker, codec):
    scenario = f"compression.codec={codec}: 200 records round trip"
    topic = f"codec-{codec}"
    create_topic(broker, topic)
    values = [f"record {i} ".encode() + b"fjord " * (i % 30) for i in range(200)]
    msgs = produce_ok(producer(broker, compression_codec=codec, linger_ms=50), topic,
                      [{"value": v} for v in values], scenario)
    assert [m.offset() for m in msgs] == list(range(200)), ctx(scenario)
    got = consume(consumer(broker), [TopicPartition(topic, 0, confluent_kafka.OFFSET_BEGINNING)], 200, scenario)
    assert [m.value() for m in got] == values, ctx(scenario)


@pytest.mark.parametrize("codec", ["none", "lz4"])
def test_fetch_from_middle_of_batch(broker, codec):
    scenario = f"fetch from offset 4 inside one 10-record {codec} batch delivers 4..9 only"
    create_topic(broker, "mid")
    values = numbered("mid", 10)
    produce_ok(producer(broker, linger_ms=200, compression_codec=codec), "mid", [{"value": v} for v in values], scenario)
    got = consume(consumer(broker), [TopicPartition("mid", 0, 4)], 6, scenario)
    assert [m.offset() for m in got] == list(range(4, 10)), ctx(scenario)
    assert [m.value() for m in got] == values[4:], ctx(scenario)


def test_offsets_for_times(broker):
    scenario = "offsets_for_times maps a timestamp to the first offset with CreateTime >= it"
    create_topic(broker, "times")
    base = (int(time.time() * 1000) - 3_600_000) // 1000 * 1000
    produce_ok(producer(broker), "times",
               [{"value": f"t{i}".encode(), "timestamp": base + i * 1000} for i in range(10)], scenario)
    c = consumer(broker)

    def lookup(ts):
        return c.offsets_for_times([TopicPartition("times", 0, ts)], timeout=T)[0].offset

    assert lookup(base) == 0, ctx(scenario)
    assert lookup(base + 2500) == 3, ctx(scenario)
    assert lookup(base + 60_000) == -1, ctx(f"{scenario}: past the end is -1")
    got = consume(c, [TopicPartition("times", 0, 3)], 7, scenario)
    assert [m.timestamp()[1] for m in got] == [base + i * 1000 for i in range(3, 10)], ctx(scenario)
    assert got[0].timestamp()[0] == confluent_kafka.TIMESTAMP_CREATE_TIME, ctx(scenario)


def test_watermarks(broker):
    scenario = "get_watermark_offsets is (0,0) when empty and (0,n) after n appends"
    create_topic(broker, "marks", 2)
    c = consumer(broker)
    assert c.get_watermark_offsets(TopicPartition("marks", 0), timeout=T) == (0, 0), ctx(scenario)
    produce_ok(producer(broker), "marks", [{"value": v, "partition": 0} for v in numbered("m", 7)], scenario)
    assert c.get_watermark_offsets(TopicPartition("marks", 0), timeout=T) == (0, 7), ctx(scenario)
    assert c.get_watermark_offsets(TopicPartition("marks", 1), timeout=T) == (0, 0), ctx(scenario)


def test_max_message_bytes(broker):
    scenario = "topic max.message.bytes=1024 rejects a 4000-byte record with MSG_SIZE_TOO_LARGE"
    create_topic(broker, "small", config={"max.message.bytes": "1024"})
    p = producer(broker, compression_codec="none")
    [(err, _)] = produce(p, "small", [{"value": incompressible(4000)}])
    assert err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE, ctx(f"{scenario}: got {err}")
    [msg] = produce_ok(p, "small", [{"value": b"small"}], scenario)
    assert msg.offset() == 0, ctx(scenario)


def test_auto_create_on_produce(broker):
    scenario = "producing to an unknown topic creates it with one partition"
    [msg] = produce_ok(producer(broker), "auto-p", [{"key": b"k", "value": b"v"}], scenario)
    assert (msg.partition(), msg.offset()) == (0, 0), ctx(scenario)
    wait_until(ctx(scenario), lambda: topic_ready(broker, "auto-p", 1))


def test_restart_keeps_data(broker):
    scenario = "records acknowledged before a graceful restart are readable after it"
    create_topic(broker, "durable")
    values = numbered("d", 15)
    produce_ok(producer(broker), "durable", [{"value": v} for v in values], scenario)
    broker.restart()
    got = consume(consumer(broker), [TopicPartition("durable", 0, confluent_kafka.OFFSET_BEGINNING)], 15, scenario)
    assert [m.value() for m in got] == values, ctx(scenario)
    [msg] = produce_ok(producer(broker), "durable", [{"value": b"after"}], scenario)
    assert msg.offset() == 15, ctx(scenario)


def test_create_topics_refuses_more_than_10000_partitions_per_request(broker):
    scenario = "CreateTopics asking for 10001 partitions gets POLICY_VIOLATION and creates nothing"
    fs = admin(broker).create_topics([NewTopic("huge", num_partitions=10_001, replication_factor=1)],
                                     request_timeout=T)
    with pytest.raises(KafkaException) as info:
        fs["huge"].result(timeout=T)
    assert info.value.args[0].code() == KafkaError.POLICY_VIOLATION, ctx(f"{scenario}: {info.value}")
    assert "huge" not in admin(broker).list_topics(timeout=T).topics, ctx(scenario)


def test_min_insync_replicas_above_one_refuses_acks_all(broker):
    scenario = "min.insync.replicas=2 on one node: acks=all gets NOT_ENOUGH_REPLICAS, acks=1 is stored"
    create_topic(broker, "isr", 1, {"min.insync.replicas": "2"})
    results = []

    def report(err, msg):
        results.append(err)

    strict = producer(broker, acks="all", retries=0, message_timeout_ms=5000)
    strict.produce("isr", value=b"needs two copies", on_delivery=report)
    strict.flush(T)
    assert len(results) == 1 and results[0] is not None, ctx(scenario)
    assert results[0].code() == KafkaError.NOT_ENOUGH_REPLICAS, ctx(f"{scenario}: {results[0]}")
    relaxed = producer(broker, acks="1")
    relaxed.produce("isr", value=b"one copy is enough", on_delivery=report)
    relaxed.flush(T)
    assert results[1] is None, ctx(f"{scenario}: {results[1]}")


def test_topic_compression_type_recompresses_stored_batches(broker):
    scenario = "compression.type=gzip stores uncompressed producer batches gzipped; consumers read them back"
    create_topic(broker, "packed", 1, {"compression.type": "gzip"})
    create_topic(broker, "as-sent", 1)
    values = [b"the same words again and again " * 20 for _ in range(200)]
    p = producer(broker, compression_type="none", linger_ms=20)
    for topic in ("packed", "as-sent"):
        for v in values:
            p.produce(topic, value=v)
    assert p.flush(T) == 0, ctx(scenario)
    got = consume(consumer(broker), [TopicPartition("packed", 0, 0)], len(values), scenario)
    assert [m.value() for m in got] == values, ctx(scenario)

    def log_bytes(topic):
        return sum(f.stat().st_size for f in (broker.data_dir / f"{topic}-0").glob("*.log"))

    assert log_bytes("packed") * 5 < log_bytes("as-sent"), ctx(
        f"{scenario}: {log_bytes('packed')} bytes gzipped vs {log_bytes('as-sent')} as sent"
    )


def test_log_append_time_replaces_the_producers_timestamp(broker):
    scenario = "message.timestamp.type=LogAppendTime: consumers see the broker's append time"
    create_topic(broker, "stamped", 1, {"message.timestamp.type": "LogAppendTime"})
    old = 1_600_000_000_000
    before = int(time.time() * 1000)
    produce_ok(producer(broker), "stamped", [{"value": b"late", "timestamp": old}], scenario)
    after = int(time.time() * 1000)
    (msg,) = consume(consumer(broker), [TopicPartition("stamped", 0, 0)], 1, scenario)
    kind, ts = msg.timestamp()
    assert kind == confluent_kafka.TIMESTAMP_LOG_APPEND_TIME, ctx(f"{scenario}: type {kind}")
    assert before <= ts <= after, ctx(f"{scenario}: {ts} not within [{before}, {after}]")


def test_keyless_record_on_compacted_topic_is_invalid_record(broker):
    scenario = "cleanup.policy=compact: a keyless record fails with INVALID_RECORD and nothing is stored"
    create_topic(broker, "compacted", 1, {"cleanup.policy": "compact"})
    p = producer(broker, retries=0, message_timeout_ms=5000)
    [(err, _)] = produce(p, "compacted", [{"value": b"no key"}])
    assert err is not None and err.code() == KafkaError.INVALID_RECORD, ctx(f"{scenario}: got {err}")
    c = consumer(broker)
    assert c.get_watermark_offsets(TopicPartition("compacted", 0), timeout=T) == (0, 0), ctx(scenario)
    [msg] = produce_ok(p, "compacted", [{"key": b"k", "value": b"keyed"}], scenario)
    assert msg.offset() == 0, ctx(f"{scenario}: the refused record took no offset")


def test_list_offsets_max_timestamp(broker):
    from confluent_kafka.admin import OffsetSpec

    scenario = "AdminClient.list_offsets(OffsetSpec.max_timestamp()) gives the offset and time of the newest record"
    create_topic(broker, "maxts")
    base = (int(time.time() * 1000) - 3_600_000) // 1000 * 1000
    stamps = [base + 10, base + 50, base + 20, base + 90, base + 30, base + 40]
    produce_ok(producer(broker, linger_ms=20), "maxts",
               [{"value": f"m{i}".encode(), "timestamp": ts} for i, ts in enumerate(stamps)], scenario)
    tp = TopicPartition("maxts", 0)
    got = admin(broker).list_offsets({tp: OffsetSpec.max_timestamp()}, request_timeout=T)[tp].result(timeout=T)
    assert (got.offset, got.timestamp) == (3, base + 90), ctx(f"{scenario}: got ({got.offset}, {got.timestamp})")
    latest = admin(broker).list_offsets({tp: OffsetSpec.latest()}, request_timeout=T)[tp].result(timeout=T)
    assert latest.offset == len(stamps), ctx(f"{scenario}: latest is the log end")


def test_describe_broker_configs_defaults_and_set_values(broker_factory):
    scenario = "DescribeConfigs BROKER 1: a defaulted setting is DEFAULT_CONFIG, a flag is STATIC_BROKER_CONFIG"
    b = broker_factory("--default-partitions", "3", "--connections-max-idle-ms", "120000",
                       "--fetch-max-bytes", "1048576")
    res = ConfigResource(ResourceType.BROKER, "1")
    entries = admin(b).describe_configs([res], request_timeout=T)[res].result(timeout=T)
    for name, value, source in [
        ("num.partitions", "3", ConfigSource.STATIC_BROKER_CONFIG),
        ("connections.max.idle.ms", "120000", ConfigSource.STATIC_BROKER_CONFIG),
        ("fetch.max.bytes", "1048576", ConfigSource.STATIC_BROKER_CONFIG),
        ("log.dirs", str(b.data_dir), ConfigSource.STATIC_BROKER_CONFIG),
        ("socket.request.max.bytes", "104857600", ConfigSource.DEFAULT_CONFIG),
        ("auto.create.topics.enable", "true", ConfigSource.DEFAULT_CONFIG),
        ("group.initial.rebalance.delay.ms", "3000", ConfigSource.DEFAULT_CONFIG),
        # Kafka's retention in three units: only the hours have a default.
        ("log.retention.hours", "168", ConfigSource.DEFAULT_CONFIG),
        ("log.retention.ms", None, ConfigSource.DEFAULT_CONFIG),
        ("log.segment.bytes", "1073741824", ConfigSource.DEFAULT_CONFIG),
        ("message.max.bytes", "1048588", ConfigSource.DEFAULT_CONFIG),
    ]:
        assert name in entries, ctx(f"{scenario}: {name} not listed")
        e = entries[name]
        assert (e.value, ConfigSource(e.source)) == (value, source), ctx(
            f"{scenario}: {name} = {e.value!r} from {ConfigSource(e.source)}"
        )
        assert e.is_read_only, ctx(f"{scenario}: {name} is read-only")
    assert entries["advertised.listeners"].value is None, ctx(f"{scenario}: unset advertised.listeners is null")


def test_auto_create_on_metadata(broker):
    scenario = "Metadata naming an unknown topic creates it when the client allows auto-creation"
    c = consumer(broker, allow_auto_create_topics=False)
    md = c.list_topics(topic="auto-no", timeout=T)
    assert md.topics["auto-no"].error is not None, ctx(f"{scenario}: allow.auto.create.topics=false leaves it unknown")
    assert "auto-no" not in admin(broker).list_topics(timeout=T).topics, ctx(f"{scenario}: created without asking")
    c.close()
    c = consumer(broker, allow_auto_create_topics=True)
    c.list_topics(topic="auto-m", timeout=T)
    c.close()
    wait_until(ctx(scenario), lambda: topic_ready(broker, "auto-m", 1))
