"""Tests of the harness's machine probes (run by scripts/test)."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import machine  # noqa: E402


def test_an_event_waits_for_what_is_left_of_the_stall_it_lands_in():
    # 1% of 1000 ns is 10 ns of events: those due in the first 10 ns of the 100 ns stall,
    # which wait 90 ns or more.
    assert machine.open_loop_quantile(1000, [100, 10], 0.01) == 90
    # 7% needs both stalls: (100 - x) + (50 - x) = 70 gives x = 40.
    assert machine.open_loop_quantile(1000, [50, 100], 0.07) == 40


def test_a_thread_that_lost_less_than_the_fraction_has_no_floor():
    assert machine.open_loop_quantile(1000, [5, 3], 0.01) == 0
    assert machine.open_loop_quantile(1000, [], 0.001) == 0


def test_spin_gaps_times_the_loop_and_keeps_only_gaps_longer_than_its_own_cost():
    total, gaps = machine.spin_gaps(0.05)
    assert total >= 50_000_000
    assert all(g > machine.SPIN_GAP_NS for g in gaps)
    assert sum(gaps) <= total


def test_the_halt_polling_window_is_set_for_the_run_and_put_back(tmp_path, monkeypatch):
    knob = tmp_path / "guest_halt_poll_ns"
    knob.write_text("0\n")
    monkeypatch.setattr(machine, "HALT_POLL_NS", str(knob))
    with machine.guest_halt_poll(200_000):
        assert knob.read_text() == "200000"
        assert machine.idle_policy()["guest_halt_poll_ns"] == 200_000
    assert knob.read_text() == "0"
    with machine.guest_halt_poll(None):
        assert knob.read_text() == "0"


def test_memory_counts_as_settled_once_the_guest_stops_handing_it_back(tmp_path, monkeypatch):
    reported = tmp_path / "reported_kib"
    reported.write_text("1000\n")
    monkeypatch.setattr(machine, "REPORTED_KIB", str(reported))
    waited = machine.wait_memory_settled(patience=5, window_s=0.2, poll_s=0.02)
    assert 0.2 <= waited < 5


def test_memory_still_being_handed_back_keeps_the_run_waiting_until_patience_ends(
        tmp_path, monkeypatch):
    reported = tmp_path / "reported_kib"
    reported.write_text("0\n")
    monkeypatch.setattr(machine, "REPORTED_KIB", str(reported))
    stop = threading.Event()

    def hand_back():
        kib = 0
        while not stop.is_set():
            kib += machine.SETTLED_MIB * 1024
            # Whole values only, as sysfs reads them: never an empty, half-written file.
            staged = tmp_path / "staged"
            staged.write_text(f"{kib}\n")
            os.replace(staged, reported)
            time.sleep(0.01)

    writer = threading.Thread(target=hand_back)
    writer.start()
    try:
        waited = machine.wait_memory_settled(patience=0.5, window_s=0.1, poll_s=0.02)
    finally:
        stop.set()
        writer.join()
    assert waited >= 0.5


def test_a_machine_that_does_not_count_reported_memory_is_not_waited_for(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "REPORTED_KIB", str(tmp_path / "missing"))
    assert machine.wait_memory_settled(patience=5) is None
