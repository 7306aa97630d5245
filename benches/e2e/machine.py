"""The machine: its description and its physical limits, measured in the same session as the
workloads so every result can be shown as a fraction of what the hardware does."""

import os
import platform
import re
import subprocess
import time

MIB = 1024 * 1024


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
    }


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


def limits(scratch_dir, iperf_seconds, disk_mib):
    """All limits, MiB/s unless named otherwise."""
    os.makedirs(scratch_dir, exist_ok=True)
    write, read = disk_mb_s(scratch_dir, disk_mib)
    return {
        "loopback_mb_s": loopback_mb_s(iperf_seconds),
        "disk_write_mb_s": write,
        "disk_read_mb_s": read,
        "fsync_64k_per_s": fsyncs_per_s(scratch_dir),
        "memcpy_mb_s": memcpy_mb_s(),
    }
