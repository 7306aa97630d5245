#!/usr/bin/env python3
"""End-to-end benchmark driver: fresh broker per run on core 0, `fjordctl bench` on core 1.

Usually started by `scripts/bench`, which builds the binaries first. Runs alternate: round 1
runs every workload once, then round 2, and so on, so a slow minute on a shared machine
spreads over workloads instead of sinking one. Each run records the load generator's report
(MB/s, msg/s, latency percentiles), the broker's CPU seconds per GiB and peak RSS, and the
CPU used by everything else on the machine during the run, which says whether the run was
disturbed. Stdlib only.
"""

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
    """Runs workloads against one broker command and records each run."""

    def __init__(self, opts, label, command, log):
        self.opts = opts
        self.label = label
        self.command = command
        self.log = log
        self.w2_rate = opts.w2_rate

    def fjordctl(self, bootstrap, args, out_path):
        """Runs fjordctl on the load core; returns (exit code, stdout, its CPU seconds)."""
        with open(out_path, "w") as out, open(out_path + ".err", "w") as err:
            proc = subprocess.Popen(
                ["taskset", "-c", str(LOAD_CORE), self.opts.fjordctl, "-b", bootstrap, *args],
                stdout=out, stderr=err,
            )
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        with open(out_path) as f:
            stdout = f.read()
        return proc.returncode, stdout, usage.ru_utime + usage.ru_stime

    def run(self, w, round_no):
        tag = f"{self.label}-{w.name}-{round_no}"
        work = os.path.join(self.opts.data_root, tag)
        data_dir = os.path.join(work, "data")
        subprocess.run(["rm", "-rf", work], check=True)
        os.makedirs(work)
        broker_log = os.path.join(self.opts.log_dir, f"{tag}.broker.log")
        broker = Broker(self.command, data_dir, BROKER_CORE, broker_log, metrics=w.metrics)
        record = {"workload": w.name, "broker": self.label, "round": round_no}
        try:
            record["busy_cores_before"] = wait_quiet(
                self.opts.max_busy, self.opts.wait_quiet, self.log)
            record["loadavg_before"] = os.getloadavg()[0]
            broker.start()
            if w.topic_configs:
                create = ["topic", "create", TOPIC, "-p", str(w.partitions)]
                for k, v in w.topic_configs.items():
                    create += ["-c", f"{k}={v}"]
                code, _, _ = self.fjordctl(broker.bootstrap, create,
                                           os.path.join(self.opts.log_dir, f"{tag}.create"))
                if code != 0:
                    raise RuntimeError(f"topic create failed, see {self.opts.log_dir}/{tag}.create.err")
            if w.backlog:
                broker = self.fill_and_restart(broker, tag, record)
            args = self.load_args(w, record)
            cpu0, times0, fsync0 = broker.cpu_seconds(), cpu_times(), self.fsyncs(broker)
            wait0 = broker.run_queue_wait_s()
            code, stdout, client_cpu = self.fjordctl(
                broker.bootstrap, args, os.path.join(self.opts.log_dir, f"{tag}.out"))
            cpu1, times1, fsync1 = broker.cpu_seconds(), cpu_times(), self.fsyncs(broker)
            record["broker_run_queue_wait_s"] = broker.run_queue_wait_s() - wait0
            record["peak_rss_mib"] = broker.peak_rss_mib()
            if code != 0:
                raise RuntimeError(f"fjordctl exited {code}, see {self.opts.log_dir}/{tag}.out.err")
            result = json.loads(stdout.strip().splitlines()[-1])
            if w.backlog:
                # A consumer's "latency" is the age of each record since it was produced,
                # which for a backlog only says when the fill ran: keep it apart.
                record["record_age"] = result.pop("latency", None)
            server_cpu = cpu1 - cpu0
            record.update({
                "command": " ".join(["fjordctl", "bench", *args[1:]]),
                "result": result,
                "server_cpu_s": server_cpu,
                "client_cpu_s": client_cpu,
                "server_cpu_s_per_gib": server_cpu / (result["bytes"] / GIB)
                if result["bytes"] else None,
                # Process CPU burnt by neither broker nor load generator: other tenants, our
                # own bookkeeping. Near zero for a clean run.
                "other_cpu_cores": max(0.0, (times1[0] - times0[0]) - server_cpu - client_cpu)
                / max(result["elapsed_s"], 1e-9),
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

    def fsyncs(self, broker):
        try:
            return broker.metric("fjord_log_fsync_seconds_count")
        except OSError:
            return None

    def load_args(self, w, record):
        if w.kind == "consume":
            return ["bench", "consume", TOPIC, "--json"]
        args = ["bench", "produce", TOPIC, *w.args, "--duration", f"{int(self.opts.duration * 1000)}ms",
                "--json"]
        if w.rate_of_w2:
            if not self.w2_rate:
                raise RuntimeError("no W2 maximum known: run W2 first or pass --w2-rate")
            rate = int(self.w2_rate * w.rate_of_w2)
            record["rate"] = rate
            args += ["--rate", str(rate)]
        return args

    def fill_and_restart(self, broker, tag, record):
        """Writes the backlog, restarts the broker and empties the page cache if allowed."""
        count = self.opts.backlog_mib * 1024  # 1 KiB messages
        code, stdout, _ = self.fjordctl(
            broker.bootstrap,
            ["bench", "produce", TOPIC, *workloads.W2_ARGS, "-n", str(count), "--json"],
            os.path.join(self.opts.log_dir, f"{tag}.fill"))
        if code != 0:
            raise RuntimeError(f"backlog fill failed, see {self.opts.log_dir}/{tag}.fill.err")
        record["fill"] = json.loads(stdout.strip().splitlines()[-1])
        broker.stop()
        record["page_cache_dropped"] = drop_page_cache()
        restarted = Broker(self.command, broker.data_dir, BROKER_CORE, broker.log_path)
        restarted.start()
        return restarted


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
    "fsyncs": ("fsyncs",),
    "rate": ("rate",),
}


def summarize(runs, limits):
    """Medians per (broker, workload), with the fraction of the machine's limits."""
    out = []
    keys = []
    for r in runs:
        k = (r["broker"], r["workload"])
        if k not in keys:
            keys.append(k)
    for broker, name in keys:
        ok = [r for r in runs if r["broker"] == broker and r["workload"] == name
              and "error" not in r]
        s = {"broker": broker, "workload": name, "runs": len(ok)}
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
                   help="broker command with {port} {data_dir} (and optional {metrics}); "
                        "LABEL::CMD to name it; repeat to compare brokers")
    p.add_argument("--fjord", default="target/release/fjord")
    p.add_argument("--fjordctl", default="target/release/fjordctl")
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
    brokers = []
    for spec in opts.broker_cmd or [
        f"fjord::{os.path.abspath(opts.fjord)} --listen 127.0.0.1:{{port}} "
        f"--data-dir {{data_dir}} --log-level warn"
    ]:
        label, _, cmd = spec.partition("::") if "::" in spec else ("broker", "", spec)
        brokers.append((label, cmd))
    chosen = workloads.select(opts.workloads)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    log(f"load average now: {os.getloadavg()}; logs in {opts.log_dir}")
    results = {
        "date": stamp,
        "machine": machine.describe(),
        "settings": {k: v for k, v in vars(opts).items() if k not in ("log_dir",)},
        "workloads": {w.name: w.title for w in chosen},
    }
    if not opts.skip_limits:
        log("measuring machine limits (iperf3, dd, fsync, memcpy)")
        results["limits"] = machine.limits(opts.data_root, opts.iperf_seconds, opts.disk_mib)
        log(f"  {results['limits']}")
    runners = [Runner(opts, label, cmd, log) for label, cmd in brokers]
    runs = []
    for round_no in range(1, opts.runs + 1):
        # Alternate the broker order between rounds so neither always goes first.
        order = runners if round_no % 2 else list(reversed(runners))
        for w in chosen:
            for runner in order:
                log(f"round {round_no}: {runner.label} {w.name}")
                record = runner.run(w, round_no)
                res = record.get("result", {})
                if res:
                    log(f"  {res['mb_per_s']:.1f} MB/s {res['messages_per_s']:.0f} msg/s "
                        f"lat {res.get('latency')} other-cpu {record['other_cpu_cores']:.2f}")
                runs.append(record)
    results["runs"] = runs
    results["summary"] = summarize(runs, results.get("limits"))
    os.makedirs(os.path.dirname(opts.out), exist_ok=True)
    with open(opts.out, "w") as f:
        json.dump(results, f, indent=1)
    log(f"wrote {opts.out}")
    print(report.markdown(results))


if __name__ == "__main__":
    main()
