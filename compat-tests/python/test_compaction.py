"""Log compaction as a stock client sees it: a compacted topic written by confluent-kafka with
each compression codec keeps the latest value of every key at its original offset, including
from compressed batches that lose only some of their records."""

import confluent_kafka
import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from helpers import wait_until

CONFLUENT = f"confluent-kafka {confluent_kafka.version()[0]} / librdkafka {confluent_kafka.libversion()[0]}"
T = 10
KEYS = [f"k{i}".encode() for i in range(10)]
ROUNDS = 30


def ctx(scenario):
    return f"[{CONFLUENT}] {scenario}"


def write_rounds(broker, topic, codec):
    """Round 0 writes every key; later rounds only the first half, so round 0's batch keeps its
    second half after compaction. One batch per round. Returns {offset: (key, value)}."""
    p = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "compression.type": codec,
            "message.timeout.ms": 15000,
        }
    )
    written = {}
    errors = []

    def done(err, msg):
        if err is not None:
            errors.append(err)
        else:
            written[msg.offset()] = (msg.key(), msg.value())

    for rnd in range(ROUNDS):
        keys = KEYS if rnd == 0 else KEYS[: len(KEYS) // 2]
        for key in keys:
            p.produce(topic, key=key, value=f"{key.decode()}-round-{rnd}".encode(), partition=0, on_delivery=done)
        assert p.flush(T) == 0, "records left unsent"
    assert errors == [], errors
    return written


def read_all(broker, topic, end):
    """Every record from the start of the log up to offset `end` (exclusive)."""
    c = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "fjord-compat-unused",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        c.assign([TopicPartition(topic, 0, confluent_kafka.OFFSET_BEGINNING)])
        got = {}
        while True:
            msg = c.poll(T)
            assert msg is not None, f"no record nor end of partition within {T}s"
            if msg.error() is not None:
                assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                return got
            got[msg.offset()] = (msg.key(), msg.value())
            if msg.offset() + 1 >= end:
                return got
    finally:
        c.close()


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_compaction_keeps_the_latest_value_per_key(broker_factory, codec):
    scenario = f"cleanup.policy=compact, compression.type={codec}: latest value per key survives"
    broker = broker_factory("--log-retention-check-interval-ms", "50")
    topic = f"compacted-{codec}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    fs = admin.create_topics(
        [NewTopic(topic, 1, 1, config={"cleanup.policy": "compact", "segment.bytes": "1024"})],
        request_timeout=T,
    )
    fs[topic].result(timeout=T)

    written = write_rounds(broker, topic, codec)
    end = max(written) + 1

    def compacted():
        got = read_all(broker, topic, end)
        return got if len(got) < len(written) else None

    # Compaction runs in the background; wait until it has removed something.
    survivors = wait_until(ctx(f"{scenario}: compaction removes superseded records"), compacted, timeout=30)

    # Every survivor is the record that was written at its offset.
    for offset, record in survivors.items():
        assert written.get(offset) == record, ctx(f"{scenario}: offset {offset} holds {record}")
    # The newest record of every key survives, round 0's second half included.
    latest = {}
    for offset in sorted(written):
        latest[written[offset][0]] = offset
    for key, offset in latest.items():
        assert survivors.get(offset) == written[offset], ctx(f"{scenario}: latest {key} at {offset} lost")
    kept_from_round_0 = [k for (k, v) in survivors.values() if v.endswith(b"-round-0")]
    assert sorted(kept_from_round_0) == sorted(KEYS[len(KEYS) // 2 :]), ctx(
        f"{scenario}: round 0's batch keeps exactly the keys never rewritten: {kept_from_round_0}"
    )
    # A segment that compaction emptied leaves the log, but for the first.
    logs = sorted((broker.data_dir / f"{topic}-0").glob("*.log"))
    emptied = [p.name for p in logs[1:] if p.stat().st_size == 0]
    assert emptied == [], ctx(f"{scenario}: emptied segments left on disk: {emptied} of {len(logs)}")
