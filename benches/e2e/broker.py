"""A broker process under test: start it pinned to one core, watch its CPU and memory, stop it.

The broker command is a shell string with `{port}`, `{data_dir}`, and `{metrics}` (an address)
or `{metrics_flag}` (`--metrics ADDR` when a workload wants metrics, else nothing) placeholders;
it is run as `taskset -c CORE bash -c "exec CMD"` so the pid we hold is the broker's own and
/proc/<pid>/stat covers all of its threads.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    """A TCP port nobody listens on right now (small race, fine for a benchmark)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat_fields(stat):
    """The fields of a /proc stat line after the command name, which may hold spaces."""
    return stat[stat.rindex(")") + 2:].split()


def cpu_seconds(pid):
    """User + system CPU seconds of a process (all threads) from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = _stat_fields(f.read())
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def run_queue_wait_s(pid, proc="/proc"):
    """Seconds the process's live threads spent runnable but waiting for a CPU
    (`<proc>/<pid>/task/*/schedstat`, second field), as (threads at nice 0 or below, threads
    above). A thread that lowered its own priority (fjord's calm flusher lane, at nice 10)
    waits by design, so only the first is CPU contention felt by the broker's requests."""
    normal = niced = 0
    for tid in os.listdir(f"{proc}/{pid}/task"):
        task = f"{proc}/{pid}/task/{tid}"
        try:
            with open(f"{task}/schedstat") as f:
                wait = int(f.read().split()[1])
            with open(f"{task}/stat") as f:
                nice = int(_stat_fields(f.read())[16])
        except (OSError, IndexError, ValueError):
            continue  # the thread ended, or schedstats are off
        if nice > 0:
            niced += wait
        else:
            normal += wait
    return normal / 1e9, niced / 1e9


def peak_rss_mib(pid):
    """VmHWM (peak resident set) of a process, MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


class Broker:
    """One broker process with its own data directory."""

    def __init__(self, command, data_dir, core, log_path, metrics=False):
        self.command = command
        self.data_dir = data_dir
        self.core = core
        self.log_path = log_path
        self.port = free_port()
        # Only a command that says where its metrics go ({metrics} or {metrics_flag}) gets an
        # address; another broker (Tansu) runs without, and its fsync count is unknown.
        serves = "{metrics}" in command or "{metrics_flag}" in command
        self.metrics_addr = f"127.0.0.1:{free_port()}" if metrics and serves else None
        self.proc = None

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self, timeout=60):
        os.makedirs(self.data_dir, exist_ok=True)
        cmd = self.command.format(
            port=self.port,
            data_dir=self.data_dir,
            metrics=self.metrics_addr or "",
            metrics_flag=f"--metrics {self.metrics_addr}" if self.metrics_addr else "",
        )
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(self.core), "bash", "-c", f"exec {cmd}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"broker exited with {self.proc.returncode} at start; see {self.log_path}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"broker did not listen on {self.port} within {timeout}s")

    def cpu_seconds(self):
        return cpu_seconds(self.proc.pid)

    def run_queue_wait_s(self):
        return run_queue_wait_s(self.proc.pid)

    def peak_rss_mib(self):
        return peak_rss_mib(self.proc.pid)

    def metric(self, name):
        """Sum of a Prometheus sample family (e.g. `fjord_log_fsync_seconds_count`)."""
        if not self.metrics_addr:
            return None
        with urllib.request.urlopen(f"http://{self.metrics_addr}/metrics", timeout=5) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self):
        """SIGTERM (graceful: flushes logs), SIGKILL after 30 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def remove_data(self):
        shutil.rmtree(self.data_dir, ignore_errors=True)


def drop_page_cache():
    """Empties the page cache so reads come from disk; False when not permitted."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False
