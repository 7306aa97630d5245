#!/usr/bin/env python3
"""End-to-end benchmark driver: fresh broker per run on core 0, load generator on core 1.

Usually started by `scripts/bench`, which builds the binaries first. Runs alternate: round 1
runs every workload once, then round 2, and so on, so a slow minute on a shared machine
spreads over workloads instead of sinking one. Each run records the load generator's report
(MB/s, msg/s, latency percentiles), the broker's CPU seconds per GiB and peak RSS, and the
CPU used by everything else on the machine during the run, which says whether the run was
disturbed. The load generator is `fjordctl bench` and/or librdkafka's rdkafka_performance
(`--load`, see loadgen.py); each broker and load generator pair is one series. Stdlib only;
the PNG plot is made when matplotlib imports (scripts/bench provides it in a venv)."""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import machine  # noqa: E402
import report  # noqa: E402
import loadgen  # noqa: E402
import workloads  # noqa: E402
from broker import Broker, drop_page_cache  # noqa: E402

GIB = 1 << 30
TOPIC = "bench"
BROKER_CORE = 0
LOAD_CORE = 1


def cpu_times():
    """Machine CPU seconds: (process time: user + nice + system, interrupt time: irq + softirq,
    steal). Interrupt time is not charged to any process; loopback TCP work mostly lands there."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system) / tick, (irq + softirq) / tick, steal / tick


def busy_jiffies():
    """Non-idle CPU time of the whole machine, seconds."""
    return sum(cpu_times())


def busy_cores(seconds=2.0):
    """How many cores' worth of CPU the machine used over a short window."""
    before = busy_jiffies()
    time.sleep(seconds)
    return (busy_jiffies() - before) / seconds


def wait_quiet(max_busy, patience, log):
    """Waits (up to `patience` seconds) until the machine is nearly idle; returns what it saw."""
    deadline = time.monotonic() + patience
    while True:
        busy = busy_cores()
        if busy <= max_busy or time.monotonic() >= deadline:
            if busy > max_busy:
                log(f"  machine still busy ({busy:.2f} cores) - measuring anyway, marked noisy")
            return busy
        time.sleep(3)


class Runner:
    """Runs workloads against one broker command with one load generator; records each run."""

    def __init__(self, opts, broker, command, load, log):
        self.opts = opts
        self.broker = broker
        self.command = command
        self.load = load
        self.label = report.series({"broker": broker, "load": load.name})
        self.log = log
        self.w2_rate = opts.w2_rate

    def fjordctl(self, bootstrap, args, out_path):
        """Runs a setup command (topic creation, backlog fill) with fjordctl on the load
        core; returns (exit code, stdout)."""
        step = loadgen.Step("setup", [self.opts.fjordctl, "-b", bootstrap, *args])
        [(_, code, stdout, _)] = loadgen.run_steps([step], LOAD_CORE, out_path)
        return code, stdout

    def run(self, w, round_no):
        tag = f"{self.label}-{w.name}-{round_no}"
        work = os.path.join(self.opts.data_root, tag)
        data_dir = os.path.join(work, "data")
        subprocess.run(["rm", "-rf", work], check=True)
        os.makedirs(work)
        logs = os.path.join(self.opts.log_dir, tag)
        broker = Broker(self.command, data_dir, BROKER_CORE, logs + ".broker.log",
                        metrics=w.metrics)
        record = {"workload": w.name, "broker": self.broker, "load": self.load.name,
                  "round": round_no}
        try:
            record["busy_cores_before"] = wait_quiet(
                self.opts.max_busy, self.opts.wait_quiet, self.log)
            record["memory_settle_s"] = machine.wait_memory_settled(self.opts.wait_quiet)
            record["loadavg_before"] = os.getloadavg()[0]
            broker.start()
            self.create_topic(broker, w, logs)
            if w.backlog:
                broker = self.fill_and_restart(broker, logs, record)
            steps = self.steps(w, broker.bootstrap, record, logs)
            cpu0, times0, fsync0 = broker.cpu_seconds(), cpu_times(), self.fsyncs(broker)
            wait0, began = broker.run_queue_wait_s(), time.monotonic()
            done = loadgen.run_steps(steps, LOAD_CORE, logs)
            cpu1, times1, fsync1 = broker.cpu_seconds(), cpu_times(), self.fsyncs(broker)
            wall = time.monotonic() - began
            wait1 = broker.run_queue_wait_s()
            record["broker_run_queue_wait_s"] = wait1[0] - wait0[0]
            record["broker_niced_run_queue_wait_s"] = wait1[1] - wait0[1]
            record["peak_rss_mib"] = broker.peak_rss_mib()
            failed = [(s, code) for s, code, _, _ in done if code not in s.ok_exit_codes]
            if failed:
                raise RuntimeError(f"{self.load.name} {failed[0][0].role} exited "
                                   f"{failed[0][1]}, see {logs}.*.err")
            self.record_results(w, done, record)
            server_cpu = cpu1 - cpu0
            client_cpu = sum(cpu for _, _, _, cpu in done)
            result = record["result"]
            record.update({
                "command": describe(self.load, steps),
                "server_cpu_s": server_cpu,
                "client_cpu_s": client_cpu,
                "server_cpu_s_per_gib": server_cpu / (result["bytes"] / GIB)
                if result["bytes"] else None,
                # Process CPU burnt by neither broker nor load generator: other tenants, our
                # own bookkeeping. Near zero for a clean run. Over the wall time of all the
                # load's processes (W4's consumers start before and stop after producing).
                "other_cpu_cores": max(0.0, (times1[0] - times0[0]) - server_cpu - client_cpu)
                / max(wall, 1e-9),
                # Interrupt time (mostly the loopback TCP stack), charged to no process.
                "irq_cpu_s": times1[1] - times0[1],
                "steal_cpu_s": times1[2] - times0[2],
            })
            if fsync0 is not None:
                record["fsyncs"] = fsync1 - fsync0
            if w.name == "W2" and self.w2_rate is None:
                self.w2_rate = result["messages_per_s"]
        except Exception as e:  # noqa: BLE001 - one failed run must not lose the others
            record["error"] = str(e)
            self.log(f"  FAILED: {e}")
        finally:
            broker.stop()
            if not self.opts.keep_data:
                subprocess.run(["rm", "-rf", work], check=False)
        return record

    def create_topic(self, broker, w, logs):
        """Creates the topic with the workload's partitions and configs before any load, so
        every load generator (rdkafka_performance does not create topics) finds it."""
        create = ["topic", "create", TOPIC, "-p", str(w.partitions)]
        for k, v in w.topic_configs.items():
            create += ["-c", f"{k}={v}"]
        code, _ = self.fjordctl(broker.bootstrap, create, logs + ".create")
        if code != 0:
            raise RuntimeError(f"topic create failed, see {logs}.create.*.err")

    def steps(self, w, bootstrap, record, logs):
        """The load generator's processes for this workload: producers, consumers or both."""
        steps = []
        if w.produce:
            steps += self.load.produce(w, bootstrap, TOPIC, self.opts.duration,
                                       self.rate(w, record), logs)
        if w.consumers:
            # Alongside producers, consumers read for as long as they write; after a
            # backlog, to the end of it.
            duration = self.opts.duration if w.produce else None
            steps += self.load.consume(w, bootstrap, TOPIC, duration, logs)
        return steps

    def rate(self, w, record):
        if not w.rate_of_w2:
            return None
        if not self.w2_rate:
            raise RuntimeError("no W2 maximum known: run W2 first or pass --w2-rate")
        record["rate"] = int(self.w2_rate * w.rate_of_w2)
        return record["rate"]

    def record_results(self, w, done, record):
        """Parses every process's report and merges them per role: `result` is the produce
        side (or the consume side of a read-only workload), `consume` the consumers' side of
        a workload that does both."""
        by_role = {}
        for step, _, stdout, _ in done:
            by_role.setdefault(step.role, []).append((step, self.load.parse(step, stdout)))
        merged = {role: self.load.merge([s for s, _ in pairs], [r for _, r in pairs])
                  for role, pairs in by_role.items()}
        record["result"] = merged.get("produce") or merged["consume"]
        if "produce" in merged and "consume" in merged:
            record["consume"] = merged["consume"]
        if w.backlog and not record["result"]["messages"]:
            raise RuntimeError("read nothing after the restart: the broker kept no backlog "
                               "(an in-memory engine?)")
        if w.backlog:
            # A consumer's "latency" is the age of each record since it was produced,
            # which for a backlog only says when the fill ran: keep it apart.
            record["record_age"] = record["result"].pop("latency", None)

    def fsyncs(self, broker):
        try:
            return broker.metric("fjord_log_fsync_seconds_count")
        except OSError:
            return None

    def fill_and_restart(self, broker, logs, record):
        """Writes the backlog with fjordctl (whatever the load generator), restarts the
        broker and empties the page cache if allowed."""
        count = self.opts.backlog_mib * 1024  # 1 KiB messages
        code, stdout = self.fjordctl(
            broker.bootstrap,
            ["bench", "produce", TOPIC, *workloads.W2_PRODUCE.fjordctl_args(),
             "-n", str(count), "--json"],
            logs + ".fill")
        if code != 0:
            raise RuntimeError(f"backlog fill failed, see {logs}.fill.*.err")
        record["fill"] = json.loads(stdout.strip().splitlines()[-1])
        broker.stop()
        record["page_cache_dropped"] = drop_page_cache()
        restarted = Broker(self.command, broker.data_dir, BROKER_CORE, broker.log_path)
        restarted.start()
        return restarted


def describe(load, steps):
    """The load's command lines, "N x " in front of one run by several processes."""
    counts = {}
    for step in steps:
        line = load.describe(step)
        counts[line] = counts.get(line, 0) + 1
    return " & ".join(line if n == 1 else f"{n} x {line}" for line, n in counts.items())


def median_of(records, path):
    values = []
    for r in records:
        v = r
        for key in path:
            v = v.get(key) if isinstance(v, dict) else None
        if isinstance(v, (int, float)):
            values.append(v)
    return statistics.median(values) if values else None


SUMMARY_FIELDS = {
    "mb_per_s": ("result", "mb_per_s"),
    "messages_per_s": ("result", "messages_per_s"),
    "p50_ms": ("result", "latency", "p50_ms"),
    "p99_ms": ("result", "latency", "p99_ms"),
    "p999_ms": ("result", "latency", "p999_ms"),
    "server_cpu_s_per_gib": ("server_cpu_s_per_gib",),
    "peak_rss_mib": ("peak_rss_mib",),
    "client_cpu_s": ("client_cpu_s",),
    "other_cpu_cores": ("other_cpu_cores",),
    "irq_cpu_s": ("irq_cpu_s",),
    "broker_run_queue_wait_s": ("broker_run_queue_wait_s",),
    "broker_niced_run_queue_wait_s": ("broker_niced_run_queue_wait_s",),
    "fsyncs": ("fsyncs",),
    "rate": ("rate",),
    # W4's consumers, reading while the producers write; latency is end to end.
    "consume_mb_per_s": ("consume", "mb_per_s"),
    "consume_messages_per_s": ("consume", "messages_per_s"),
    "consume_p50_ms": ("consume", "latency", "p50_ms"),
    "consume_p99_ms": ("consume", "latency", "p99_ms"),
    "consume_p999_ms": ("consume", "latency", "p999_ms"),
}


def summarize(runs, limits):
    """Medians per (series, workload), with the fraction of the machine's limits. A series
    is a broker driven by one load generator (`report.series`)."""
    out = []
    keys = []
    for r in runs:
        k = (report.series(r), r["workload"])
        if k not in keys:
            keys.append(k)
    for series, name in keys:
        mine = [r for r in runs if report.series(r) == series and r["workload"] == name]
        ok = [r for r in mine if "error" not in r]
        s = {"broker": mine[0]["broker"], "load": mine[0].get("load", "fjordctl"),
             "series": series, "workload": name, "runs": len(ok)}
        for field, path in SUMMARY_FIELDS.items():
            s[field] = median_of(ok, path)
        mb = s["mb_per_s"]
        if mb and limits:
            disk = limits.get("disk_read_mb_s" if name == "W7" else "disk_write_mb_s")
            s["of_loopback"] = mb / limits["loopback_mb_s"] if limits.get("loopback_mb_s") else None
            s["of_disk"] = mb / disk if disk else None
        out.append(s)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--broker-cmd", action="append", default=[],
                   help="broker command with {port} {data_dir} (and optional {metrics} or "
                        "{metrics_flag}); LABEL::CMD to name it; repeat to compare brokers; "
                        "`fjord` alone is the built-in fjord command (the default)")
    p.add_argument("--fjord", default="target/release/fjord")
    p.add_argument("--fjordctl", default="target/release/fjordctl")
    p.add_argument("--load", default="fjordctl",
                   help="load generators, comma-separated: fjordctl, rdkafka "
                        "(librdkafka's rdkafka_performance); each one is a series")
    p.add_argument("--rdkafka-perf", help="rdkafka_performance binary, for --load rdkafka")
    p.add_argument("--plot", default="auto", choices=["auto", "no"],
                   help="write a PNG next to the JSON when matplotlib imports (auto)")
    p.add_argument("--workloads", default="", help="comma-separated, e.g. W1,W2,W3 (default all)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=float, default=15, help="seconds per produce run")
    p.add_argument("--backlog-mib", type=int, default=1024, help="W7 backlog size")
    p.add_argument("--w2-rate", type=float, help="W2 maximum msg/s for W3 (else measured)")
    p.add_argument("--max-busy", type=float, default=0.3,
                   help="machine CPU use (cores) below which a run may start")
    p.add_argument("--wait-quiet", type=float, default=120,
                   help="seconds to wait for a quiet machine before each run")
    p.add_argument("--skip-limits", action="store_true")
    p.add_argument("--iperf-seconds", type=int, default=5)
    p.add_argument("--disk-mib", type=int, default=1024)
    p.add_argument("--floor-seconds", type=float, default=10,
                   help="seconds of the latency-floor probe (a clock-reading loop per core)")
    p.add_argument("--guest-halt-poll-ns", type=int,
                   help="on a KVM guest, set the cpuidle-haltpoll window for the whole run "
                        "(and put it back after): how long an idle core polls before it "
                        "halts; recorded in the results either way")
    p.add_argument("--data-root", default="/tmp/fjord-bench")
    p.add_argument("--keep-data", action="store_true")
    p.add_argument("--out", help="results JSON (default benches/e2e/results/<date>.json)")
    opts = p.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    stamp = datetime.datetime.now().strftime("%Y-%m-%dT%H%M%S")
    opts.out = opts.out or os.path.join(here, "results", f"{stamp}.json")
    opts.log_dir = os.path.join(opts.data_root, f"logs-{stamp}")
    os.makedirs(opts.log_dir, exist_ok=True)
    opts.fjordctl = os.path.abspath(opts.fjordctl)
    fjord = (f"fjord::{os.path.abspath(opts.fjord)} --listen 127.0.0.1:{{port}} "
             f"--data-dir {{data_dir}} --log-level warn {{metrics_flag}}")
    brokers = []
    for spec in opts.broker_cmd or ["fjord"]:
        spec = fjord if spec == "fjord" else spec
        label, _, cmd = spec.partition("::") if "::" in spec else ("broker", "", spec)
        brokers.append((label, cmd))
    loads = [loadgen.make(name.strip(), opts.fjordctl, opts.rdkafka_perf)
             for name in opts.load.split(",") if name.strip()]
    chosen = workloads.select(opts.workloads)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    with machine.guest_halt_poll(opts.guest_halt_poll_ns):
        results = run_all(opts, brokers, loads, chosen, stamp, log)
    os.makedirs(os.path.dirname(opts.out), exist_ok=True)
    with open(opts.out, "w") as f:
        json.dump(results, f, indent=1)
    log(f"wrote {opts.out}")
    if opts.plot == "auto":
        log(report.plot(results, os.path.splitext(opts.out)[0] + ".png"))
    print(report.markdown(results))


def run_all(opts, brokers, loads, chosen, stamp, log):
    """The machine's limits, then every round of every workload; returns the results."""
    log(f"load average now: {os.getloadavg()}; logs in {opts.log_dir}")
    results = {
        "date": stamp,
        "machine": machine.describe(),
        "settings": {k: v for k, v in vars(opts).items() if k not in ("log_dir",)},
        "workloads": {w.name: w.title for w in chosen},
    }
    if not opts.skip_limits:
        log("measuring machine limits (iperf3, dd, fsync, memcpy, latency floor)")
        results["limits"] = machine.limits(opts.data_root, opts.iperf_seconds, opts.disk_mib,
                                           opts.floor_seconds)
        log(f"  {results['limits']}")
    runners = [Runner(opts, label, cmd, load, log) for label, cmd in brokers for load in loads]
    runs = []
    for round_no in range(1, opts.runs + 1):
        # Alternate the order between rounds so no broker always goes first.
        order = runners if round_no % 2 else list(reversed(runners))
        for w in chosen:
            for runner in order:
                if not runner.load.supports(w):
                    if round_no == 1:
                        log(f"{runner.label}: {runner.load.name} cannot run {w.name}, skipped")
                    continue
                log(f"round {round_no}: {runner.label} {w.name}")
                record = runner.run(w, round_no)
                log_record(record, log)
                runs.append(record)
    results["runs"] = runs
    results["summary"] = summarize(runs, results.get("limits"))
    return results


def log_record(record, log):
    for key in ("result", "consume"):
        res = record.get(key)
        if res:
            log(f"  {key}: {res['mb_per_s']:.1f} MB/s {res['messages_per_s']:.0f} msg/s "
                f"lat {res.get('latency')} other-cpu {record['other_cpu_cores']:.2f}")


if __name__ == "__main__":
    main()
