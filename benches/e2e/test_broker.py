"""Tests of the harness's readings of a broker process (run by scripts/test)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import broker  # noqa: E402


def _task(proc, pid, tid, comm, nice, wait_ns):
    task = proc / str(pid) / "task" / str(tid)
    task.mkdir(parents=True)
    # Fields 3-19 of /proc/<pid>/task/<tid>/stat: nice is the 19th.
    fields = ["S"] + ["0"] * 15 + [str(nice)] + ["1"] * 30
    (task / "stat").write_text(f"{tid} ({comm}) {' '.join(fields)}\n")
    (task / "schedstat").write_text(f"123456 {wait_ns} 42\n")


def test_run_queue_wait_keeps_threads_that_lowered_their_priority_apart(tmp_path):
    _task(tmp_path, 7, 7, "fjord", 0, 1_000_000)
    _task(tmp_path, 7, 8, "tokio-rt worker", 0, 250_000_000)
    _task(tmp_path, 7, 9, "fjord-flusher", 10, 4_000_000_000)
    _task(tmp_path, 7, 10, "fjord-flushbusy", 5, 500_000_000)
    normal, niced = broker.run_queue_wait_s(7, proc=str(tmp_path))
    assert normal == 0.251
    assert niced == 4.5


def test_run_queue_wait_skips_a_thread_that_ended_while_it_was_read(tmp_path):
    _task(tmp_path, 7, 7, "fjord", 0, 2_000_000_000)
    (tmp_path / "7" / "task" / "8").mkdir()
    assert broker.run_queue_wait_s(7, proc=str(tmp_path)) == (2.0, 0.0)


def test_the_nice_field_read_is_the_threads_own_priority():
    with open(f"/proc/self/task/{os.getpid()}/stat") as f:
        fields = broker._stat_fields(f.read())
    assert int(fields[16]) == os.getpriority(os.PRIO_PROCESS, 0)
    assert broker.cpu_seconds(os.getpid()) > 0
