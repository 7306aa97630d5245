"""Tests of how the harness's report reads a results file (run by scripts/test)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import report  # noqa: E402


def test_the_report_shows_the_idle_policy_and_each_core_floor():
    assert report.idle_line({"idle": {"cpuidle_driver": "haltpoll", "cpuidle_governor": "haltpoll",
                                      "guest_halt_poll_ns": 200_000}}) == (
        "Idle cores: cpuidle driver haltpoll, governor haltpoll, guest halt polling 200,000 ns.")
    assert report.idle_line({"idle": {"cpuidle_driver": None, "cpuidle_governor": None,
                                      "guest_halt_poll_ns": None}}).endswith(
        "guest halt polling not available.")
    assert report.idle_line({}) is None
    table = report.limits_table({"latency_floor": {
        "1": {"p99_ms": 0.012, "p999_ms": 1.234, "max_ms": 3.2},
        "0": None,
    }})
    assert "core 1" in table and "0.01 / 1.23 / 3.20 ms" in table
    assert "floor, core 0" not in table


def _w3_run(round_no, send_delay_max_ms):
    return {"workload": "W3-50", "broker": "fjord", "load": "fjordctl", "round": round_no,
            "rate": 823_766,
            "result": {"requests": {"send_delay": {"p50_ms": 0.08, "p99_ms": 0.5,
                                                   "p999_ms": 2.0,
                                                   "max_ms": send_delay_max_ms}}}}


def test_a_run_whose_generator_fell_behind_its_schedule_is_named_with_how_far():
    notes = report._fell_behind_notes([_w3_run(1, 140.0), _w3_run(2, 436.2), _w3_run(3, 12.4)])
    assert notes == ["fjord #2: the load generator fell up to 0.44 s behind its schedule"]


def test_runs_without_a_schedule_or_a_request_split_are_not_named():
    unpaced = _w3_run(1, 1461.2)
    del unpaced["rate"]
    assert report._fell_behind_notes([unpaced]) == []
    assert report._fell_behind_notes([{"workload": "W3-50", "broker": "tansu", "round": 1,
                                       "rate": 201_172, "result": {}}]) == []
