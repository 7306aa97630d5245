"""Idempotent producers against fjord: confluent-kafka, aiokafka and kafka-python
(whose 3.x default is idempotent) produce without duplicates, including when the broker
appends a batch and then drops the connection instead of answering (the test-only fault
FJORD_TEST_DROP_AFTER_APPEND=N), so the client retries a batch that already landed."""

import asyncio

import aiokafka
import confluent_kafka
import kafka
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition as CkTopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from helpers import numbered, wait_until

T = 10
DROP_VAR = "FJORD_TEST_DROP_AFTER_APPEND"
CLIENTS = {
    "confluent": f"confluent-kafka {confluent_kafka.version()[0]} / librdkafka {confluent_kafka.libversion()[0]}",
    "aiokafka": f"aiokafka {aiokafka.__version__}",
    "kafka-python": f"kafka-python {kafka.__version__}",
}


def ctx(client, scenario):
    return f"[{CLIENTS[client]}] {scenario}"


def create_topic(broker, name, partitions=1):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    for f in futures.values():
        f.result(timeout=T)
    wait_until(
        f"{name} in metadata",
        lambda: len(admin.list_topics(name, timeout=T).topics[name].partitions) == partitions,
    )


def read_all(broker, topic, partitions=1, expect=None, timeout=15.0):
    """Every value in the topic, per partition in offset order, with offsets. Reads until
    the end offsets are reached (so extra records, were there any, are seen too)."""
    c = Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": "idempotence-reader",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    try:
        ends = {}
        for p in range(partitions):
            _, high = c.get_watermark_offsets(CkTopicPartition(topic, p), timeout=T)
            ends[p] = high
        c.assign([CkTopicPartition(topic, p, 0) for p in range(partitions)])
        got = {p: [] for p in range(partitions)}
        import time
        deadline = time.monotonic() + timeout
        while any(len(got[p]) < ends[p] for p in got) and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            got[m.partition()].append((m.offset(), m.value()))
        return got, ends
    finally:
        c.close()


# --- one produce call per client, each flushed on its own so it is one Produce request ---

def produce_confluent(broker, topic, values, extra=None):
    conf = {
        "bootstrap.servers": broker.bootstrap,
        "enable.idempotence": True,
        "linger.ms": 0,
        "message.timeout.ms": 20000,
        "retry.backoff.ms": 50,
    }
    conf.update(extra or {})
    p = Producer(conf)
    offsets, errors = [], []

    def report(err, msg):
        if err is not None:
            errors.append(err)
        else:
            offsets.append(msg.offset())

    for v in values:
        p.produce(topic, v, partition=0, on_delivery=report)
        assert p.flush(20) == 0, "messages left unflushed"
    return offsets, errors


def produce_kafka_python(broker, topic, values):
    producer = kafka.KafkaProducer(
        bootstrap_servers=broker.bootstrap,
        request_timeout_ms=T * 1000,
        retry_backoff_ms=50,
    )
    try:
        offsets = []
        for v in values:
            offsets.append(producer.send(topic, value=v, partition=0).get(timeout=20).offset)
        return offsets, []
    finally:
        producer.close(timeout=T)


def produce_aiokafka(broker, topic, values):
    async def run():
        p = aiokafka.AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap,
            enable_idempotence=True,
            request_timeout_ms=T * 1000,
            retry_backoff_ms=50,
        )
        await p.start()
        try:
            offsets = []
            for v in values:
                md = await p.send_and_wait(topic, v, partition=0)
                offsets.append(md.offset)
            return offsets, []
        finally:
            await p.stop()

    return asyncio.run(run())


PRODUCE = {
    "confluent": produce_confluent,
    "aiokafka": produce_aiokafka,
    "kafka-python": produce_kafka_python,
}


@pytest.mark.parametrize("client", list(PRODUCE))
def test_idempotent_produce_has_no_duplicates(broker, client):
    topic = f"idem-{client}"
    create_topic(broker, topic)
    values = numbered("v", 20)
    offsets, errors = PRODUCE[client](broker, topic, values)
    assert errors == [], ctx(client, f"delivery errors: {errors}")
    assert offsets == list(range(20)), ctx(client, "offsets acknowledged in order")
    got, ends = read_all(broker, topic)
    assert ends[0] == 20, ctx(client, "exactly the produced records are in the log")
    assert [v for _, v in got[0]] == values, ctx(client, "values in order")


@pytest.mark.parametrize("client", list(PRODUCE))
def test_retry_after_a_lost_answer_is_not_written_twice(broker_factory, monkeypatch, client):
    # The second Produce request is appended, then its connection is closed unanswered.
    monkeypatch.setenv(DROP_VAR, "2")
    broker = broker_factory()
    topic = f"idem-drop-{client}"
    create_topic(broker, topic)
    values = numbered("r", 4)
    offsets, errors = PRODUCE[client](broker, topic, values)
    assert errors == [], ctx(client, f"delivery errors: {errors}")
    assert "test fault armed" in broker.stderr_log(), ctx(client, "the fault was injected")
    # The retried record reports the offset it got the first time.
    assert offsets == [0, 1, 2, 3], ctx(client, "acknowledged offsets")
    got, ends = read_all(broker, topic)
    assert ends[0] == 4, ctx(client, f"log end after a retried append (got {got[0]})")
    assert [v for _, v in got[0]] == values, ctx(client, "each value exactly once, in order")


def test_without_idempotence_the_same_fault_duplicates(broker_factory, monkeypatch):
    """The control experiment: the fault really makes clients resend an appended batch."""
    monkeypatch.setenv(DROP_VAR, "2")
    broker = broker_factory()
    topic = "not-idempotent"
    create_topic(broker, topic)
    values = numbered("d", 3)
    _, errors = produce_confluent(
        broker, topic, values, {"enable.idempotence": False, "acks": "all", "retries": 5}
    )
    assert errors == [], ctx("confluent", f"delivery errors: {errors}")
    got, ends = read_all(broker, topic)
    assert ends[0] == 4, ctx("confluent", f"the resent batch is appended twice: {got[0]}")
    assert [v for _, v in got[0]] == [values[0], values[1], values[1], values[2]]


def test_producers_survive_a_restart(broker):
    """After a restart the broker still recognises the producer's last batches: a producer
    continuing its sequence is accepted, and DescribeProducers-visible state is rebuilt."""
    topic = "idem-restart"
    create_topic(broker, topic)
    p = Producer({
        "bootstrap.servers": broker.bootstrap,
        "enable.idempotence": True,
        "message.timeout.ms": 30000,
    })
    for v in numbered("a", 5):
        p.produce(topic, v, partition=0)
    assert p.flush(20) == 0
    broker.restart()
    # librdkafka reconnects to the new port only through its bootstrap list, so a new
    # producer continues; the old producer's state must not block it.
    p2 = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True})
    for v in numbered("b", 5):
        p2.produce(topic, v, partition=0)
    assert p2.flush(20) == 0
    got, ends = read_all(broker, topic)
    assert ends[0] == 10
    assert [v for _, v in got[0]] == numbered("a", 5) + numbered("b", 5)
