"""aiokafka against fjord: admin, produce and consume without a consumer
group (assign/seek), compression, offsets. Each test runs its own event loop."""

import asyncio
import time

import aiokafka
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError

from helpers import incompressible, numbered

CLIENT = f"aiokafka {aiokafka.__version__}"
T = 10


def ctx(scenario):
    return f"[{CLIENT}] {scenario}"


async def create_topic(broker, name, partitions=1, configs=None):
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=T * 1000)
    await admin.start()
    try:
        resp = await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})])
        errors = [e for e in resp.topic_errors if e[1] != 0]
        assert not errors, ctx(f"create {name}: {errors}")
        deadline = time.monotonic() + 15
        while True:
            [topic] = await admin.describe_topics([name])
            if topic["error_code"] == 0 and len(topic["partitions"]) == partitions:
                return
            assert time.monotonic() < deadline, ctx(f"{name} not ready: {topic}")
            await asyncio.sleep(0.05)
    finally:
        await admin.close()


async def produce_ok(broker, topic, records, scenario, **extra):
    p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, request_timeout_ms=T * 1000, **extra)
    await p.start()
    try:
        futures = [await p.send(topic, **rec) for rec in records]
        return [await asyncio.wait_for(f, T * 2) for f in futures]
    finally:
        await p.stop()


async def consume(broker, starts, count, scenario, timeout=20):
    """starts: {TopicPartition: offset or 'beginning'}; reads until count records."""
    c = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest")
    await c.start()
    try:
        c.assign(list(starts))
        for tp, start in starts.items():
            if start == "beginning":
                await c.seek_to_beginning(tp)
            else:
                c.seek(tp, start)
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            assert time.monotonic() < deadline, ctx(f"{scenario}: expected {count} records, got {len(got)}")
            for records in (await c.getmany(timeout_ms=200)).values():
                got.extend(records)
        return got
    finally:
        await c.stop()


def test_admin_create_list_delete(broker):
    scenario = "create, list and delete topics with the admin client"

    async def run():
        await create_topic(broker, "admin-t", 3, {"retention.ms": "3600000"})
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            assert "admin-t" in await admin.list_topics(), ctx(scenario)
            resp = await admin.create_topics([NewTopic("admin-t", 1, 1)])
            assert [e[1] for e in resp.topic_errors] == [36], ctx(f"{scenario}: TOPIC_ALREADY_EXISTS")
            cluster = await admin.describe_cluster()
            host, port = broker.bootstrap.rsplit(":", 1)
            assert [(b["node_id"], b["host"], b["port"]) for b in cluster["brokers"]] == [(1, host, int(port))], \
                ctx(f"{scenario}: {cluster}")
            await admin.delete_topics(["admin-t"])
            deadline = time.monotonic() + 15
            while "admin-t" in await admin.list_topics():
                assert time.monotonic() < deadline, ctx(f"{scenario}: topic still listed after delete")
                await asyncio.sleep(0.05)
        finally:
            await admin.close()

    asyncio.run(run())


def test_keys_headers_round_trip(broker):
    scenario = "keyed records with headers keep their bytes and order"

    async def run():
        await create_topic(broker, "keyed", 1)
        records = [{"key": b"k%d" % (i % 3), "value": b"v%d" % i, "headers": [("seq", str(i).encode())]}
                   for i in range(30)]
        metas = await produce_ok(broker, "keyed", records, scenario, linger_ms=20)
        assert [m.offset for m in metas] == list(range(30)), ctx(scenario)
        got = await consume(broker, {TopicPartition("keyed", 0): "beginning"}, 30, scenario)
        assert [(r.key, r.value, list(r.headers)) for r in got] == [
            (rec["key"], rec["value"], rec["headers"]) for rec in records
        ], ctx(scenario)

    asyncio.run(run())


@pytest.mark.parametrize("codec", [None, "gzip", "snappy", "lz4", "zstd"])
def test_compression_round_trip(broker, codec):
    scenario = f"compression_type={codec}: 200 records round trip"

    async def run():
        topic = f"codec-{codec}"
        await create_topic(broker, topic)
        values = [f"record {i} ".encode() + b"fjord " * (i % 30) for i in range(200)]
        await produce_ok(broker, topic, [{"value": v} for v in values], scenario, compression_type=codec, linger_ms=50)
        got = await consume(broker, {TopicPartition(topic, 0): "beginning"}, 200, scenario)
        assert [r.value for r in got] == values, ctx(scenario)

    asyncio.run(run())


def test_fetch_from_middle_of_batch(broker):
    scenario = "seek to offset 4 inside one 10-record batch delivers 4..9 only"

    async def run():
        await create_topic(broker, "mid")
        values = numbered("mid", 10)
        await produce_ok(broker, "mid", [{"value": v} for v in values], scenario, linger_ms=200)
        got = await consume(broker, {TopicPartition("mid", 0): 4}, 6, scenario)
        assert [(r.offset, r.value) for r in got] == list(zip(range(4, 10), values[4:])), ctx(scenario)

    asyncio.run(run())


def test_offsets_for_times_and_end_offsets(broker):
    scenario = "offsets_for_times finds the first CreateTime >= target; end_offsets is the high watermark"

    async def run():
        await create_topic(broker, "times")
        base = (int(time.time() * 1000) - 3_600_000) // 1000 * 1000
        await produce_ok(broker, "times", [{"value": b"t%d" % i, "timestamp_ms": base + i * 1000} for i in range(10)],
                         scenario)
        c = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False)
        await c.start()
        try:
            tp = TopicPartition("times", 0)
            found = (await c.offsets_for_times({tp: base + 2500}))[tp]
            assert (found.offset, found.timestamp) == (3, base + 3000), ctx(scenario)
            assert (await c.offsets_for_times({tp: base + 60_000}))[tp] is None, ctx(f"{scenario}: past the end")
            assert await c.beginning_offsets([tp]) == {tp: 0}, ctx(scenario)
            assert await c.end_offsets([tp]) == {tp: 10}, ctx(scenario)
        finally:
            await c.stop()

    asyncio.run(run())


def test_max_message_bytes(broker):
    scenario = "topic max.message.bytes=1024 rejects a 4000-byte record with MESSAGE_TOO_LARGE"

    async def run():
        await create_topic(broker, "small", configs={"max.message.bytes": "1024"})
        with pytest.raises(MessageSizeTooLargeError):
            await produce_ok(broker, "small", [{"value": incompressible(4000)}], scenario)

    asyncio.run(run())


def test_auto_create_on_produce(broker):
    scenario = "producing to an unknown topic creates it"

    async def run():
        [meta] = await produce_ok(broker, "auto-p", [{"key": b"k", "value": b"v"}], scenario)
        assert (meta.partition, meta.offset) == (0, 0), ctx(scenario)

    asyncio.run(run())
