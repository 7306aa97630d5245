"""The machine: its description and its physical limits, measured in the same session as the
workloads so every result can be shown as a fraction of what the hardware does."""

import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import time

MIB = 1024 * 1024
# A KVM guest's halt-polling window (the cpuidle-haltpoll driver), in ns.
HALT_POLL_NS = "/sys/module/haltpoll/parameters/guest_halt_poll_ns"
# Gaps in a spinning loop shorter than this are the loop's own cost, not the machine's noise.
SPIN_GAP_NS = 5_000
# Free memory this guest has handed back to its host so far, in KiB, on platforms whose
# page-reporting driver counts it.
REPORTED_KIB = "/sys/module/page_reporting/parameters/reported_kib"
# Memory still being handed back at less than this per window counts as settled.
SETTLED_MIB = 64


def _run(args):
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable: {e}"


def describe():
    """lscpu and free -h output, plus the kernel and load average."""
    return {
        "lscpu": _run(["lscpu"]),
        "free": _run(["free", "-h"]),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "idle": idle_policy(),
    }


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def idle_policy():
    """How an idle core waits: the cpuidle driver and governor, and the guest halt-polling
    window. With the window at 0 a virtual machine's idle core halts at once, and waking it
    again costs an exit to the hypervisor: on the 2 vCPU guest of 2026-12-02 that cost the
    broker nearly a fifth of its CPU time in W3, and raised its p99 (docs/benchmarks.md)."""
    poll = _read(HALT_POLL_NS)
    return {
        "cpuidle_driver": _read("/sys/devices/system/cpu/cpuidle/current_driver"),
        "cpuidle_governor": _read("/sys/devices/system/cpu/cpuidle/current_governor"),
        "guest_halt_poll_ns": int(poll) if poll and poll.isdigit() else None,
    }


@contextlib.contextmanager
def guest_halt_poll(ns):
    """Sets the guest halt-polling window to `ns` for the duration, then puts it back; does
    nothing when `ns` is None."""
    if ns is None:
        yield
        return
    before = _read(HALT_POLL_NS)
    if before is None:
        raise SystemExit(f"--guest-halt-poll-ns: {HALT_POLL_NS} is missing "
                         "(not a KVM guest with the cpuidle-haltpoll driver)")
    try:
        with open(HALT_POLL_NS, "w") as f:
            f.write(str(ns))
    except OSError as e:
        raise SystemExit(f"--guest-halt-poll-ns: cannot write {HALT_POLL_NS}: {e}") from e
    try:
        yield
    finally:
        with open(HALT_POLL_NS, "w") as f:
            f.write(before)


def wait_memory_settled(patience, window_s=4.0, poll_s=0.5):
    """Waits (up to `patience` seconds) until the guest has all but stopped handing freed
    memory back to its host: less than SETTLED_MIB reported over the last `window_s`. Returns
    the seconds waited, or None where the platform does not count what it reports.

    A run that starts while the host takes back the memory the previous run freed (gigabytes,
    for some seconds) has a tail several times longer (docs/benchmarks.md, fifth session), so
    every run starts on settled memory, as it starts on an idle CPU."""
    if _read(REPORTED_KIB) is None:
        return None
    start = time.monotonic()
    seen = [(start, int(_read(REPORTED_KIB) or 0))]
    while True:
        now = time.monotonic()
        recent = [kib for t, kib in seen if t >= now - window_s]
        if now - start >= window_s and seen[-1][1] - recent[0] < SETTLED_MIB * 1024:
            return now - start
        if now - start >= patience:
            return now - start
        time.sleep(poll_s)
        seen.append((time.monotonic(), int(_read(REPORTED_KIB) or 0)))


def loopback_mb_s(seconds):
    """iperf3 over loopback, server on core 0 and client on core 1 like broker and load."""
    from broker import free_port

    port = free_port()
    server = subprocess.Popen(
        ["taskset", "-c", "0", "iperf3", "-s", "-1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        out = subprocess.run(
            ["taskset", "-c", "1", "iperf3", "-c", "127.0.0.1", "-p", str(port),
             "-t", str(seconds), "-J"],
            capture_output=True, text=True, timeout=seconds + 30,
        )
        import json

        data = json.loads(out.stdout)
        return data["end"]["sum_received"]["bits_per_second"] / 8 / MIB
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        return None
    finally:
        server.kill()
        server.wait()


def _dd(args):
    """Runs dd and returns MiB/s computed from its byte count and our own wall clock."""
    start = time.monotonic()
    out = subprocess.run(["dd", *args], capture_output=True, text=True)
    elapsed = time.monotonic() - start
    m = re.search(r"^(\d+) bytes", out.stderr, re.M)
    if out.returncode != 0 or not m:
        return None
    return int(m.group(1)) / MIB / elapsed


def disk_mb_s(directory, size_mib):
    """Sequential write (O_DIRECT, then fdatasync) and read (O_DIRECT) of a temp file."""
    path = os.path.join(directory, f"dd-probe-{os.getpid()}")
    try:
        write = _dd(["if=/dev/zero", f"of={path}", "bs=1M", f"count={size_mib}",
                     "oflag=direct", "conv=fdatasync"])
        read = _dd([f"if={path}", "of=/dev/null", "bs=1M", "iflag=direct"])
        return write, read
    finally:
        if os.path.exists(path):
            os.remove(path)


def fsyncs_per_s(directory, seconds=2.0, block=64 * 1024):
    """Appends of `block` bytes each followed by fdatasync: the ceiling for fsync-per-ack."""
    path = os.path.join(directory, f"fsync-probe-{os.getpid()}")
    buf = b"x" * block
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        n = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            os.write(fd, buf)
            os.fdatasync(fd)
            n += 1
        return n / (time.monotonic() - start)
    finally:
        os.close(fd)
        os.remove(path)


def memcpy_mb_s(size_mib=256, rounds=8):
    """Single-thread memory copy: CPython's slice assignment of a bytearray is one memmove.
    Best of `rounds`, counted as bytes copied (read + write traffic is twice that)."""
    src = bytearray(os.urandom(MIB)) * size_mib
    dst = bytearray(len(src))
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        dst[:] = src
        best = max(best, size_mib / (time.perf_counter() - start))
    return best


def spin_gaps(seconds):
    """Reads the clock in a loop for `seconds` and returns the total time and every gap
    between two readings longer than SPIN_GAP_NS, in ns: the time this thread did not run."""
    now = time.perf_counter_ns
    start = prev = now()
    end = start + int(seconds * 1e9)
    gaps = []
    while prev < end:
        t = now()
        if t - prev > SPIN_GAP_NS:
            gaps.append(t - prev)
        prev = t
    return prev - start, gaps


def open_loop_quantile(total_ns, gaps, p):
    """The latency exceeded by a fraction `p` of events due uniformly in time on a thread
    that only lost `gaps`: an event due during a gap waits for what is left of it, so the
    fraction waiting longer than x is the sum of max(0, gap - x) over the total time."""
    budget = p * total_ns
    top = sorted(gaps, reverse=True)
    tail = 0
    for k, g in enumerate(top, start=1):
        tail += g
        following = top[k] if k < len(top) else 0
        # With the k longest gaps counted, f(x) = (tail - k x) / total on [following, g].
        x = (tail - budget) / k
        if following <= x <= g:
            return x
    return 0.0


def latency_floor(seconds, cores=(0, 1)):
    """Per core, the open-loop latency floor: p99, p99.9 and the longest stall of a thread
    pinned there that does nothing but read the clock, all cores at once: the tail the
    machine alone gives a thread that is always ready to run."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = ("import json, os, sys, machine; os.sched_setaffinity(0, {int(sys.argv[1])}); "
            "print(json.dumps(machine.spin_gaps(float(sys.argv[2]))))")
    procs = {core: subprocess.Popen([sys.executable, "-c", code, str(core), str(seconds)],
                                    cwd=here, stdout=subprocess.PIPE, text=True)
             for core in cores}
    floors = {}
    for core, proc in procs.items():
        try:
            out, _ = proc.communicate(timeout=seconds + 60)
            total, gaps = json.loads(out)
        except (ValueError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
            floors[str(core)] = None
            continue
        floors[str(core)] = {
            "p99_ms": open_loop_quantile(total, gaps, 0.01) / 1e6,
            "p999_ms": open_loop_quantile(total, gaps, 0.001) / 1e6,
            "max_ms": max(gaps, default=0) / 1e6,
            "lost_fraction": sum(gaps) / total,
        }
    return floors


def limits(scratch_dir, iperf_seconds, disk_mib, floor_seconds=10):
    """All limits, MiB/s unless named otherwise."""
    os.makedirs(scratch_dir, exist_ok=True)
    write, read = disk_mb_s(scratch_dir, disk_mib)
    return {
        "loopback_mb_s": loopback_mb_s(iperf_seconds),
        "disk_write_mb_s": write,
        "disk_read_mb_s": read,
        "fsync_64k_per_s": fsyncs_per_s(scratch_dir),
        "memcpy_mb_s": memcpy_mb_s(),
        "latency_floor": latency_floor(floor_seconds),
    }
