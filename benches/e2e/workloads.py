"""The end-to-end workloads (issue 10). Each is a `fjordctl bench` invocation plus setup.

Names are stable: results files and docs/benchmarks.md refer to them.
"""

from dataclasses import dataclass, field

# The produce settings shared by the throughput-oriented workloads.
W2_ARGS = [
    "--size", "1KiB", "--partitions", "16", "--acks", "all", "--linger", "5ms",
    "--batch-size", "1000KiB", "--connections", "4", "--max-in-flight", "5",
]
# 1000 KiB of payload is just under 1 MiB on the wire with record overhead: Kafka's default
# max.message.bytes (1 MiB + 12) rejects a batch carrying a full 1 MiB of 1 KiB values.


@dataclass
class Workload:
    """One workload."""

    name: str
    title: str
    # `bench produce` or `bench consume` arguments after the topic name.
    args: list
    kind: str = "produce"
    # Topic configs set at creation (the topic is created before the run when any are set).
    topic_configs: dict = field(default_factory=dict)
    partitions: int = 16
    # Serve Prometheus metrics (costs a little CPU; used to check fsyncs happened).
    metrics: bool = False
    # For open-loop latency: the fraction of the W2 maximum message rate to send at.
    rate_of_w2: float = 0.0
    # For catch-up reads: produce this backlog first, then restart the broker.
    backlog: bool = False


def all_workloads():
    """Every workload, in the order they are run."""
    ws = [
        Workload(
            "W1", "message rate: 100 B, 6 partitions, acks=1, max rate",
            ["--size", "100", "--partitions", "6", "--acks", "1", "--batch-size", "16KiB",
             "--connections", "6", "--max-in-flight", "5"],
            partitions=6,
        ),
        Workload("W2", "throughput: 1 KiB, 16 partitions, acks=all, ~1 MiB batches, max rate",
                 W2_ARGS),
    ]
    for pct in (10, 50, 90):
        ws.append(Workload(
            f"W3-{pct}", f"latency: W2 settings, open loop at {pct}% of the W2 maximum",
            W2_ARGS, rate_of_w2=pct / 100,
        ))
    ws += [
        Workload("W5", "durable: W2 with flush.messages=1 (fsync before ack)", W2_ARGS,
                 topic_configs={"flush.messages": "1"}, metrics=True),
        Workload("W8-lz4", "compressed pass-through: W2 with lz4", W2_ARGS + ["-z", "lz4"]),
        Workload("W8-zstd", "compressed pass-through: W2 with zstd", W2_ARGS + ["-z", "zstd"]),
        Workload("W7", "catch-up read: consume a 16-partition backlog after a broker restart",
                 [], kind="consume", backlog=True),
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
