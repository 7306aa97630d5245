#!/usr/bin/env python3
"""Renders a results JSON written by harness.py as Markdown (for docs/benchmarks.md).

Usage: python3 benches/e2e/report.py benches/e2e/results/<date>.json [PLOT.png]
(the plot needs matplotlib: target/bench-venv/bin/python3 has it after a scripts/bench run)
"""

import json
import statistics
import sys


# A run during which other processes used more than this many cores (or that started on a
# machine this busy) is marked noisy: its numbers say more about the neighbours than the broker.
NOISY_CORES = 0.25


def _f(v, digits=1):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def _pct(v):
    return "—" if v is None else f"{100 * v:.0f}%"


def limits_table(limits):
    rows = [
        ("loopback TCP (iperf3, server core 0, client core 1)", limits.get("loopback_mb_s"), "MiB/s"),
        ("sequential disk write (dd, O_DIRECT, 1 MiB blocks)", limits.get("disk_write_mb_s"), "MiB/s"),
        ("sequential disk read (dd, O_DIRECT, 1 MiB blocks)", limits.get("disk_read_mb_s"), "MiB/s"),
        ("64 KiB append + fdatasync", limits.get("fsync_64k_per_s"), "per s"),
        ("memcpy, one thread (256 MiB buffers)", limits.get("memcpy_mb_s"), "MiB/s"),
    ]
    out = ["| limit | value |", "|---|---|"]
    out += [f"| {name} | {_f(v, 0)} {unit} |" for name, v, unit in rows]
    for core, floor in sorted((limits.get("latency_floor") or {}).items()):
        if floor:
            out.append(f"| open-loop latency floor, core {core} (a thread reading the clock; "
                       f"p99 / p99.9 / longest stall) | {_f(floor['p99_ms'], 2)} / "
                       f"{_f(floor['p999_ms'], 2)} / {_f(floor['max_ms'], 2)} ms |")
    return "\n".join(out)


def idle_line(machine):
    """How the machine's idle cores waited during the run, when the results say."""
    idle = (machine or {}).get("idle")
    if not idle:
        return None
    poll = idle.get("guest_halt_poll_ns")
    return (f"Idle cores: cpuidle driver {idle.get('cpuidle_driver') or 'unknown'}, governor "
            f"{idle.get('cpuidle_governor') or 'unknown'}, guest halt polling "
            + ("not available" if poll is None else f"{poll:,} ns") + ".")


def series(record):
    """The row label of a run or summary: the broker, plus the load generator when it is not
    fjordctl (results files from before `--load` have no "load")."""
    load = record.get("load", "fjordctl")
    return record["broker"] if load == "fjordctl" else f"{record['broker']}+{load}"


def _noisy(r):
    return (r.get("other_cpu_cores") or 0) > NOISY_CORES or (
        r.get("busy_cores_before") or 0) > NOISY_CORES


HEADER = [
    "| run | MB/s | msg/s | p50 ms | p99 ms | p99.9 ms | broker CPU s/GiB | peak RSS MiB "
    "| other CPU (cores) | broker run-queue wait s |",
    "|---|---|---|---|---|---|---|---|---|---|",
]
CONSUME_HEADER = [
    "| run | consumed MB/s | msg/s | end-to-end p50 ms | p99 ms | p99.9 ms |",
    "|---|---|---|---|---|---|",
]


def _run_row(r, side):
    """One run's row: the produce (or read-only) side with the broker's figures, or the
    consume side of a workload that does both."""
    res = r[side]
    lat = res.get("latency") or {}
    label = f"{series(r)} #{r['round']}{' (noisy)' if _noisy(r) else ''}"
    row = (f"| {label} | {_f(res['mb_per_s'])} | {_f(res['messages_per_s'], 0)} "
           f"| {_f(lat.get('p50_ms'), 2)} | {_f(lat.get('p99_ms'), 2)} | {_f(lat.get('p999_ms'), 2)} ")
    if side == "consume":
        return row + "|"
    return row + (f"| {_f(r.get('server_cpu_s_per_gib'), 2)} | {_f(r.get('peak_rss_mib'), 0)} "
                  f"| {_f(r.get('other_cpu_cores'), 2)} | {_f(r.get('broker_run_queue_wait_s'), 2)} |")


def _median_row(s, side):
    p = "consume_" if side == "consume" else ""
    row = (f"| **{s.get('series', s['broker'])} median** | **{_f(s.get(p + 'mb_per_s'))}** "
           f"| **{_f(s.get(p + 'messages_per_s'), 0)}** | {_f(s.get(p + 'p50_ms'), 2)} "
           f"| {_f(s.get(p + 'p99_ms'), 2)} | {_f(s.get(p + 'p999_ms'), 2)} ")
    if side == "consume":
        return row + "|"
    return row + (f"| {_f(s['server_cpu_s_per_gib'], 2)} | {_f(s['peak_rss_mib'], 0)} "
                  f"| {_f(s['other_cpu_cores'], 2)} | {_f(s.get('broker_run_queue_wait_s'), 2)} |")


def _table(runs, summary, side):
    out = list(CONSUME_HEADER if side == "consume" else HEADER)
    for r in runs:
        if "error" in r:
            out.append(f"| {series(r)} #{r['round']} | failed: {r['error']} ||||||||||")
        elif side in r:
            out.append(_run_row(r, side))
    out += [_median_row(s, side) for s in summary]
    return "\n".join(out)


def _notes(name, runs, summary, limits):
    notes = []
    for s in summary:
        label = s.get("series", s["broker"])
        if limits and s.get("mb_per_s"):
            disk = "disk read" if name == "W7" else "disk write"
            notes.append(f"{label}: {_pct(s.get('of_loopback'))} of loopback TCP, "
                         f"{_pct(s.get('of_disk'))} of sequential {disk}")
        if s.get("rate"):
            notes.append(f"{label}: offered rate {_f(s['rate'], 0)} msg/s")
        if s.get("fsyncs") is not None:
            notes.append(f"{label}: {_f(s['fsyncs'], 0)} fsyncs per run (median)"
                         + (" - the broker did not fsync, so this is not a durable run"
                            if not s["fsyncs"] else ""))
    notes += _request_split_notes(runs)
    notes += _fell_behind_notes(runs)
    for r in [r for r in runs if r.get("fill")][:1]:
        notes.append(f"backlog {r['fill']['bytes'] / 2**20:,.0f} MiB; page cache dropped before "
                     f"reading: {'yes' if r.get('page_cache_dropped') else 'no (not permitted)'}")
    return notes


# A request written this long after its batch closed means the load generator was behind its
# schedule, as a rule with all its in-flight requests waiting on the broker. In the W3 runs of
# 2026-12-02 the largest send delay was at most 140 ms, or 0.44-1.5 s in runs that fell behind.
FELL_BEHIND_MS = 250


def _fell_behind_notes(runs):
    """The open-loop runs whose load generator fell behind its schedule, and by how much at
    most: their tails come from a backlog, so they read differently from the other runs'
    tails. (A run without a rate has no schedule: its requests wait for the broker by design.)"""
    notes = []
    for r in runs:
        if not r.get("rate"):
            continue
        delay = (((r.get("result") or {}).get("requests") or {}).get("send_delay") or {})
        if (delay.get("max_ms") or 0) > FELL_BEHIND_MS:
            notes.append(f"{series(r)} #{r['round']}: the load generator fell up to "
                         f"{_f(delay['max_ms'] / 1000, 2)} s behind its schedule")
    return notes


def _request_split_notes(runs):
    """fjordctl's per-request split of produce latency, medians over each series' runs: how
    long its requests waited to be written after their batch closed (the load generator's
    delay) and how long their responses took (the network, the broker, the wake-up)."""
    notes = []
    for label in dict.fromkeys(series(r) for r in runs):
        splits = [r["result"]["requests"] for r in runs
                  if series(r) == label and (r.get("result") or {}).get("requests")]
        parts = []
        for key, what in (("send_delay", "send delay"), ("round_trip", "round trip")):
            values = [sp[key] for sp in splits if sp.get(key)]
            if values:
                p50, p99, p999 = (statistics.median(v[q] for v in values)
                                  for q in ("p50_ms", "p99_ms", "p999_ms"))
                parts.append(f"{what} p50/p99/p99.9 {_f(p50, 2)}/{_f(p99, 2)}/{_f(p999, 2)} ms")
        if parts:
            notes.append(f"{label} per request: " + ", ".join(parts))
    return notes


def workload_table(name, runs, summary, limits):
    text = _table(runs, summary, "result")
    if any("consume" in r for r in runs):
        text += "\n\nConsumers, reading while the producers write:\n\n" + _table(
            runs, summary, "consume")
    notes = _notes(name, runs, summary, limits)
    if notes:
        text += "\n\n" + "; ".join(notes) + "."
    commands = sorted({r["command"] for r in runs if r.get("command")})
    if commands:
        text += "\n\nLoad: `" + "`, `".join(commands) + "`"
    return text


def markdown(results):
    parts = []
    idle = idle_line(results.get("machine"))
    if idle:
        parts.append(idle)
    limits = results.get("limits")
    if limits:
        parts.append(limits_table(limits))
    for name, title in results["workloads"].items():
        runs = [r for r in results["runs"] if r["workload"] == name]
        summary = [s for s in results["summary"] if s["workload"] == name]
        parts.append(f"#### {name} — {title}\n\n" + workload_table(name, runs, summary, limits))
    return "\n\n".join(parts) + "\n"


def plot(results, path):
    """Writes a PNG of median throughput and latency per workload and series; returns a line
    saying what it did. Needs matplotlib, which the harness otherwise does without."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ("plot skipped: matplotlib is not importable (scripts/bench runs the harness "
                "with target/bench-venv, which has it)")
    import plot as plotting  # noqa: PLC0415 - only with matplotlib

    fig = plotting.figure(plt, results)
    if fig is None:
        return "plot skipped: no successful runs"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"wrote {path}"


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        loaded = json.load(f)
    if len(sys.argv) > 2:
        print(plot(loaded, sys.argv[2]), file=sys.stderr)
    print(markdown(loaded))
