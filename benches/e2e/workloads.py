"""The end-to-end workloads (issue 10), described independently of the load generator.

A workload says what traffic to send (message size, partitions, acks, batching, codec), how
many producer and consumer clients to run, and what setup it needs; `loadgen.py` turns that
into `fjordctl bench` or `rdkafka_performance` command lines. Names are stable: results
files and docs/benchmarks.md refer to them.
"""

from dataclasses import dataclass, field, replace


def _size(n):
    """A byte count as `fjordctl` spells it: 1KiB, 1000KiB, 100."""
    return f"{n // 1024}KiB" if n % 1024 == 0 else str(n)


def _duration(ms):
    """Milliseconds as `fjordctl` spells a duration: 5ms, 500us."""
    return f"{int(ms)}ms" if ms == int(ms) else f"{round(ms * 1000)}us"


@dataclass(frozen=True)
class Produce:
    """The producer side of a workload."""

    # Value size, bytes.
    size: int
    partitions: int
    # "1" or "all".
    acks: str
    # A batch closes at this many payload bytes.
    batch_bytes: int
    # fjordctl: pipelined connections in one process. librdkafka keeps one connection per
    # broker and pipelines on it, so rdkafka_performance ignores this (see `Workload.producers`).
    connections: int
    max_in_flight: int = 5
    # How long a batch may wait to fill, in ms (0.5 is half a millisecond). fjordctl only waits
    # when a --rate is set; librdkafka always may (its default is 5 ms). None: not passed to
    # fjordctl.
    linger_ms: float = None
    # none, lz4, zstd, ...
    compression: str = "none"

    def fjordctl_args(self):
        """`bench produce` arguments, in the order the 2026-11-25 results show them."""
        args = ["--size", _size(self.size), "--partitions", str(self.partitions),
                "--acks", self.acks]
        if self.linger_ms is not None:
            args += ["--linger", _duration(self.linger_ms)]
        args += ["--batch-size", _size(self.batch_bytes), "--connections", str(self.connections),
                 "--max-in-flight", str(self.max_in_flight)]
        if self.compression != "none":
            args += ["-z", self.compression]
        return args


# The produce settings shared by the throughput-oriented workloads. 1000 KiB of payload is
# just under 1 MiB on the wire with record overhead: Kafka's default max.message.bytes
# (1 MiB + 12) rejects a batch carrying a full 1 MiB of 1 KiB values.
W2_PRODUCE = Produce(size=1024, partitions=16, acks="all", batch_bytes=1000 * 1024,
                     connections=4, linger_ms=5)


@dataclass
class Workload:
    """One workload."""

    name: str
    title: str
    # The timed produce load; None for a read-only workload (W7).
    produce: Produce = None
    # Producer clients. fjordctl always runs one process (with `produce.connections`);
    # rdkafka_performance runs this many processes, one librdkafka producer each.
    producers: int = 1
    # Consumer clients reading while the producers write (W4), or reading the backlog (W7).
    # fjordctl: one `bench consume --consumers N` process splitting the partitions between
    # N clients; rdkafka_performance: N processes in one consumer group.
    consumers: int = 0
    # Topic configs set at creation.
    topic_configs: dict = field(default_factory=dict)
    # Serve Prometheus metrics (costs a little CPU; used to check fsyncs happened).
    metrics: bool = False
    # For open-loop latency: the fraction of the W2 maximum message rate to send at.
    rate_of_w2: float = 0.0
    # Seconds at the start of an open-loop run whose messages are left out of the latency
    # percentiles, as latency benchmarks leave out their warm-up (a fresh broker's first
    # second faults in its page cache); the run is that much longer.
    warmup_s: float = 0.0
    # For catch-up reads: produce a W2 backlog first, then restart the broker.
    backlog: bool = False

    @property
    def partitions(self):
        return (self.produce or W2_PRODUCE).partitions


# Seconds of warm-up in each W3 run.
W3_WARMUP_S = 2.0


def all_workloads():
    """Every workload, in the order they are run."""
    ws = [
        Workload("W1", "message rate: 100 B, 6 partitions, acks=1, max rate",
                 Produce(size=100, partitions=6, acks="1", batch_bytes=16 * 1024,
                         connections=6)),
        Workload("W2", "throughput: 1 KiB, 16 partitions, acks=all, ~1 MiB batches, max rate",
                 W2_PRODUCE),
    ]
    ws.append(Workload(
        "W2-16k", "loopback check: W2 with 16 KiB messages",
        replace(W2_PRODUCE, size=16 * 1024, batch_bytes=976 * 1024),
    ))
    for pct in (10, 50, 90):
        ws.append(Workload(
            f"W3-{pct}", f"latency: W2 settings, open loop at {pct}% of the W2 maximum",
            W2_PRODUCE, rate_of_w2=pct / 100, warmup_s=W3_WARMUP_S,
        ))
    # The same rates with less linger. With none, each message leaves as soon as a request
    # can carry it: pipelined requests then keep the broker's core busy at any rate, as many
    # small ones as it can take. Half a millisecond leaves room under a 1 ms p99 and still
    # batches (about 90 messages a request at 50% load).
    for linger_ms, label in ((0, "linger0"), (0.5, "linger500us")):
        for pct in (10, 50, 90):
            ws.append(Workload(
                f"W3-{pct}-{label}",
                f"latency with a {_duration(linger_ms)} linger: W2 with linger "
                f"{_duration(linger_ms)}, open loop at {pct}% of the W2 maximum",
                replace(W2_PRODUCE, linger_ms=linger_ms), rate_of_w2=pct / 100,
                warmup_s=W3_WARMUP_S,
            ))
    ws += [
        Workload("W4", "produce and consume: W2 settings, 100 partitions, "
                 "4 producers and 4 consumers at once",
                 replace(W2_PRODUCE, partitions=100), producers=4, consumers=4),
        Workload("W5", "durable: W2 with flush.messages=1 (fsync before ack)", W2_PRODUCE,
                 topic_configs={"flush.messages": "1"}, metrics=True),
        Workload("W6", "partition scaling: W2 with 1000 partitions",
                 replace(W2_PRODUCE, partitions=1000)),
        Workload("W8-lz4", "compressed pass-through: W2 with lz4",
                 replace(W2_PRODUCE, compression="lz4")),
        Workload("W8-zstd", "compressed pass-through: W2 with zstd",
                 replace(W2_PRODUCE, compression="zstd")),
        Workload("W7", "catch-up read: consume a 16-partition backlog after a broker restart",
                 consumers=1, backlog=True),
    ]
    return ws


def select(spec):
    """Workloads named in a comma-separated list; `W3` selects all W3 rates, `W8` both codecs."""
    every = all_workloads()
    if not spec:
        return every
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    chosen = [w for w in every if any(w.name == s or w.name.startswith(s + "-") for s in wanted)]
    unknown = [s for s in wanted
               if not any(w.name == s or w.name.startswith(s + "-") for w in every)]
    if unknown:
        raise SystemExit(f"unknown workloads: {', '.join(unknown)} "
                         f"(known: {', '.join(w.name for w in every)})")
    return chosen
