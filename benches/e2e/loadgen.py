"""Load generators: turn a workload into processes, run them on the load core, read their reports.

Two generators speak the same interface, so every workload runs through the same machinery:

- `Fjordctl`: our `fjordctl bench produce|consume`, which prints one JSON report with HDR
  latency percentiles;
- `Rdkafka`: librdkafka's own `rdkafka_performance` (scripts/build-rdkafka-perf), one
  librdkafka client per process. It has no duration option, so it is stopped with SIGINT
  (which makes it print its summary); its latencies are written per message (`-l -A FILE`,
  microseconds) and the percentiles computed here, exactly, over all of its processes.

A result is a dict like fjordctl's JSON: messages, bytes, elapsed_s, mb_per_s (MiB/s of
values), messages_per_s, latency {p50_ms, p99_ms, p999_ms, max_ms}.
"""

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass

MIB = 1 << 20
# Kafka's default max.message.bytes (1 MiB + 12), which fjord also applies: librdkafka's own
# default (1,000,000) is below W2's 1000 KiB batches.
MAX_MESSAGE_BYTES = 1_048_588
# Seconds consumers in a group get to join before producers start: the first rebalance of a
# new group waits group.initial.rebalance.delay.ms (3 s in Kafka and fjord), longer while
# members keep joining.
GROUP_JOIN_S = 10
# Seconds a SIGINT-stopped process may take to print its summary before it is killed.
GRACE_S = 60


@dataclass
class Step:
    """One load-generator process."""

    # "produce" or "consume": results of the same role are merged.
    role: str
    argv: list
    # Started this many seconds after the steps that start first.
    start_after: float = 0
    # Sent SIGINT this many seconds after its start (None: the process stops by itself).
    interrupt_after: float = None
    # Per-message latencies in microseconds, one a line (rdkafka_performance -A).
    latency_file: str = None
    # The leading fraction of `latency_file` left out of the percentiles (a warm-up).
    skip_fraction: float = 0.0
    # Message size, for tools that report messages but not bytes.
    size: int = 0
    # Exit codes of a successful run.
    ok_exit_codes: tuple = (0,)


def run_steps(steps, core, out_prefix):
    """Runs the steps together (each at its `start_after`), pinned to `core`; returns
    [(step, exit code, stdout, CPU s)] in the order given. Output goes to
    OUT_PREFIX.<role><i>.out and .err, i counting each role's steps from 0."""
    names, per_role = [], Counter()
    for step in steps:
        names.append(f"{out_prefix}.{step.role}{per_role[step.role]}")
        per_role[step.role] += 1
    running = []
    began = time.monotonic()
    for i, step in sorted(enumerate(steps), key=lambda p: p[1].start_after):
        time.sleep(max(0.0, began + step.start_after - time.monotonic()))
        out_path = names[i] + ".out"
        with open(out_path, "w") as out, open(out_path + ".err", "w") as err:
            proc = subprocess.Popen(["taskset", "-c", str(core), *step.argv],
                                    stdout=out, stderr=err)
        timers = []
        if step.interrupt_after is not None:
            timers = [threading.Timer(step.interrupt_after, _signal, (proc, signal.SIGINT)),
                      threading.Timer(step.interrupt_after + GRACE_S, _signal,
                                      (proc, signal.SIGKILL))]
        for t in timers:
            t.start()
        running.append((i, step, proc, out_path, timers))
    done = []
    for _, step, proc, out_path, timers in sorted(running, key=lambda r: r[0]):
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        for t in timers:
            t.cancel()
        with open(out_path) as f:
            done.append((step, proc.returncode, f.read(), usage.ru_utime + usage.ru_stime))
    return done


def _signal(proc, sig):
    if proc.returncode is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def merge(results):
    """One result from several processes of the same role: totals over the longest elapsed
    time. Latency merges only when there is one process (rdkafka results merge theirs from
    the raw files instead)."""
    if len(results) == 1:
        return results[0]
    messages = sum(r["messages"] for r in results)
    nbytes = sum(r["bytes"] for r in results)
    elapsed = max(r["elapsed_s"] for r in results)
    return {"kind": results[0].get("kind"), "processes": len(results), "messages": messages,
            "bytes": nbytes, "elapsed_s": elapsed, **_rates(messages, nbytes, elapsed),
            "latency": None}


def _rates(messages, nbytes, elapsed):
    """MiB/s and messages/s; zero when nothing was timed (a consumer that got nothing)."""
    if not elapsed:
        return {"mb_per_s": 0.0, "messages_per_s": 0.0}
    return {"mb_per_s": nbytes / MIB / elapsed, "messages_per_s": messages / elapsed}


def latency_from_files(files):
    """Exact p50/p99/p99.9/max over per-message latency files (microseconds, one a line),
    given as (path, leading fraction of its lines to leave out)."""
    counts = Counter()
    for path, skip_fraction in files:
        try:
            with open(path) as f:
                lines = f.readlines()
        except OSError:
            continue
        counts.update(lines[int(len(lines) * skip_fraction):])  # few distinct values
    values = sorted((int(k), n) for k, n in counts.items() if k.strip())
    total = sum(n for _, n in values)
    if not total:
        return None
    out, seen, wanted = {}, 0, [("p50_ms", 0.5), ("p99_ms", 0.99), ("p999_ms", 0.999)]
    for v, n in values:
        seen += n
        while wanted and seen >= wanted[0][1] * total:
            out[wanted.pop(0)[0]] = v / 1000
    out["max_ms"] = values[-1][0] / 1000
    return out


class Fjordctl:
    """`fjordctl bench`: one produce process with N connections, one consume process with N
    consumers splitting the partitions (no consumer group: `bench consume` assigns them)."""

    name = "fjordctl"

    def __init__(self, path):
        self.path = path

    def supports(self, w):
        return True

    def produce(self, w, bootstrap, topic, duration_s, rate, out_prefix):
        args = ["bench", "produce", topic, *w.produce.fjordctl_args(),
                "--duration", f"{int((duration_s + w.warmup_s) * 1000)}ms", "--json"]
        if rate:
            args += ["--rate", str(rate)]
        if w.warmup_s:
            args += ["--warmup", f"{int(w.warmup_s * 1000)}ms"]
        return [Step("produce", [self.path, "-b", bootstrap, *args])]

    def consume(self, w, bootstrap, topic, duration_s, out_prefix):
        args = ["bench", "consume", topic]
        if w.consumers > 1:
            args += ["--consumers", str(w.consumers)]
        if duration_s:
            args += ["--duration", f"{int(duration_s * 1000)}ms"]
        return [Step("consume", [self.path, "-b", bootstrap, *args, "--json"])]

    def parse(self, step, stdout):
        return json.loads(stdout.strip().splitlines()[-1])

    def merge(self, role_steps, results):
        return merge(results)

    @staticmethod
    def describe(step):
        """The command as the docs show it: `fjordctl bench ...` without the address."""
        return " ".join(["fjordctl", *step.argv[3:]])


# rdkafka_performance's summaries (examples/rdkafka_performance.c, print_stats).
PRODUCED = re.compile(r"% (\d+) messages produced \((\d+) bytes\), (\d+) delivered "
                      r"\(offset -?\d+, (\d+) failed\) in (\d+)ms")
CONSUMED = re.compile(r"% (\d+) messages \((\d+) bytes\) consumed in (\d+)ms")


class Rdkafka:
    """librdkafka's `rdkafka_performance`: `Workload.producers` producer processes, and
    `Workload.consumers` consumer processes in one consumer group (-G)."""

    name = "rdkafka"

    def __init__(self, path):
        self.path = path

    def supports(self, w):
        # A catch-up read needs "read to the end, then stop", which -G mode cannot say.
        return not w.backlog

    def produce(self, w, bootstrap, topic, duration_s, rate, out_prefix):
        p = w.produce
        start = GROUP_JOIN_S if w.consumers else 0
        base = [self.path, "-P", "-t", topic, "-b", bootstrap, "-s", str(p.size),
                "-a", "-1" if p.acks == "all" else p.acks,
                "-X", f"linger.ms={5 if p.linger_ms is None else p.linger_ms}",
                "-X", f"batch.size={p.batch_bytes}",
                "-X", f"message.max.bytes={MAX_MESSAGE_BYTES}",
                "-X", f"max.in.flight={p.max_in_flight}", "-l"]
        if p.compression != "none":
            base += ["-z", p.compression]
        if rate:
            base += ["-r", str(max(1, rate // w.producers))]
        total_s = duration_s + w.warmup_s
        # Its latency file has no times, only one line a message in delivery order: at a
        # fixed rate, the first lines in this proportion are the warm-up's.
        skip = w.warmup_s / total_s
        return [self._step("produce", base, i, total_s, out_prefix, p.size, start, skip)
                for i in range(w.producers)]

    def consume(self, w, bootstrap, topic, duration_s, out_prefix):
        """Consumers start GROUP_JOIN_S early, so the group has its assignment when the
        producers start; their rate counts from their first message."""
        base = [self.path, "-G", f"{topic}-group", "-t", topic, "-b", bootstrap, "-l"]
        return [self._step("consume", base, i, duration_s + GROUP_JOIN_S, out_prefix, 0)
                for i in range(w.consumers)]

    @staticmethod
    def _step(role, base, i, duration_s, out_prefix, size, start_after=0, skip_fraction=0.0):
        lat = f"{out_prefix}.{role}{i}.latency"
        # A producer stopped by SIGINT exits 1 because messages were still in flight
        # ("produced != delivered"); its summary counts only the delivered ones.
        return Step(role, [*base, "-A", lat], start_after=start_after,
                    interrupt_after=duration_s, latency_file=lat, skip_fraction=skip_fraction,
                    size=size, ok_exit_codes=(0, 1) if role == "produce" else (0,))

    def parse(self, step, stdout):
        if step.role == "produce":
            m = _last(PRODUCED, stdout)
            messages, nbytes, elapsed_ms = int(m[3]), int(m[3]) * step.size, int(m[5])
            errors = int(m[4])
        else:
            m = _last(CONSUMED, stdout)
            messages, nbytes, elapsed_ms, errors = int(m[1]), int(m[2]), int(m[3]), 0
        # A consumer's clock starts at its first message: one that got none reports the
        # monotonic clock itself as its elapsed time.
        elapsed = max(elapsed_ms, 1) / 1000 if messages else 0.0
        return {"kind": step.role, "messages": messages, "bytes": nbytes, "errors": errors,
                "elapsed_s": elapsed, **_rates(messages, nbytes, elapsed)}

    def merge(self, role_steps, results):
        out = merge(results)
        out["latency"] = latency_from_files([(s.latency_file, s.skip_fraction)
                                             for s in role_steps])
        # ~100 MB per 15 s W2 run: a full session would fill /tmp.
        for path in (s.latency_file for s in role_steps):
            if os.path.exists(path):
                os.remove(path)
        return out

    @staticmethod
    def describe(step):
        args = step.argv[1:]
        b = args.index("-b")
        a = args.index("-A")
        line = " ".join(["rdkafka_performance", *args[:b], *args[b + 2:a]])
        return f"{line} (SIGINT after {step.interrupt_after:g} s)"


def _last(pattern, text):
    matches = list(pattern.finditer(text))
    if not matches:
        raise RuntimeError(f"no rdkafka_performance summary ({pattern.pattern[:30]}...)")
    return matches[-1]


def make(name, fjordctl, rdkafka_perf):
    """The load generator called `name`."""
    if name == "fjordctl":
        return Fjordctl(fjordctl)
    if name == "rdkafka":
        if not rdkafka_perf or not os.access(rdkafka_perf, os.X_OK):
            raise SystemExit("--load rdkafka needs --rdkafka-perf PATH "
                             "(build it with scripts/build-rdkafka-perf)")
        return Rdkafka(rdkafka_perf)
    raise SystemExit(f"unknown load generator {name!r} (fjordctl, rdkafka)")
