"""Broker fixtures for the Python client compatibility tests.

Each test gets its own `fjord` process on a free loopback port with a fresh
data directory. The broker prints one line `listening on HOST:PORT` on stdout
once it is ready; everything else it says goes to stderr, which is kept in a
file and attached to the report of a failing test.
"""

import os
import pathlib
import queue
import signal
import subprocess
import tempfile
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
READY_PREFIX = "listening on "


def fjord_bin():
    """The binary under test: $FJORD_BIN, else the workspace's debug build."""
    return os.environ.get("FJORD_BIN") or str(ROOT / "target" / "debug" / "fjord")


class Broker:
    """One fjord process with its own temporary data directory."""

    def __init__(self, args=()):
        self.bin = fjord_bin()
        self.args = [str(a) for a in args]
        self._tmp = tempfile.TemporaryDirectory(prefix="fjord-py-")
        self.root = pathlib.Path(self._tmp.name)
        self.data_dir = self.root / "data"
        self.data_dir.mkdir()
        self.stderr_path = self.root / "stderr.log"
        self.proc = None
        self.bootstrap = None
        self.start()

    def start(self):
        """Starts the broker on the existing data dir and waits until ready."""
        assert self.proc is None, "broker already running"
        if not os.path.exists(self.bin):
            pytest.fail(
                f"fjord binary not found at {self.bin}: build it with "
                "`cargo build -p fjord-broker` or set FJORD_BIN",
                pytrace=False,
            )
        with open(self.stderr_path, "ab") as err:
            proc = subprocess.Popen(
                [self.bin, "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir), *self.args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        ready = queue.Queue()

        def watch():
            # Keep draining stdout after the ready line so the broker never blocks.
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").strip()
                if line.startswith(READY_PREFIX):
                    ready.put(line[len(READY_PREFIX):].strip())
            ready.put(None)

        threading.Thread(target=watch, daemon=True).start()
        try:
            addr = ready.get(timeout=START_TIMEOUT)
        except queue.Empty:
            addr = None
        if addr is None:
            proc.kill()
            code = proc.wait()
            pytest.fail(
                f"{self.bin} {self.args} did not print `{READY_PREFIX}HOST:PORT` "
                f"(waited up to {START_TIMEOUT}s; exit code {code}); stderr:\n{self.stderr_log()}",
                pytrace=False,
            )
        self.proc = proc
        self.bootstrap = addr

    def stop(self):
        """SIGTERM, then wait; returns the exit code."""
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"fjord did not exit within {STOP_TIMEOUT}s of SIGTERM", pytrace=False)

    def restart(self):
        """Graceful stop (must exit 0), then start on the same data dir."""
        code = self.stop()
        assert code == 0, f"graceful shutdown exited {code}; stderr:\n{self.stderr_log()}"
        self.start()

    def kill9(self):
        """Crash the broker: SIGKILL, no shutdown code runs."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stderr_log(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def close(self):
        self.kill9()
        self._tmp.cleanup()


@pytest.fixture
def broker_factory(request):
    """Starts brokers with extra arguments; all are killed after the test."""
    brokers = []
    request.node._fjord_brokers = brokers

    def make(*args):
        b = Broker(args)
        brokers.append(b)
        return b

    yield make
    for b in brokers:
        b.close()


@pytest.fixture
def broker(broker_factory):
    """A broker with default settings."""
    return broker_factory()


def client_versions():
    """The Python clients under test and their versions, as one line."""
    versions = []
    for name, get in [
        ("confluent-kafka", lambda: __import__("confluent_kafka").version()[0]
         + " / librdkafka " + __import__("confluent_kafka").libversion()[0]),
        ("kafka-python", lambda: __import__("kafka").__version__),
        ("aiokafka", lambda: __import__("aiokafka").__version__),
    ]:
        try:
            versions.append(f"{name} {get()}")
        except ImportError:
            versions.append(f"{name} missing")
    return ", ".join(versions)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        # Every failure names its scenario and the client versions, whatever the assert said.
        report.sections.append(("scenario", f"{item.nodeid}\nclients: {client_versions()}"))
        for i, b in enumerate(getattr(item, "_fjord_brokers", [])):
            report.sections.append((f"fjord stderr (broker {i})", b.stderr_log() or "(empty)"))


def pytest_report_header(config):
    return [f"fjord: {fjord_bin()}", "clients: " + client_versions()]
