"""Small helpers shared by the client test files."""

import time

import pytest


def wait_until(what, fn, timeout=15.0, interval=0.05):
    """Polls fn() until it returns a truthy value; fails naming `what` after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = fn()
            if value:
                return value
            last = value
        except Exception as e:  # noqa: BLE001 - reported below if it persists
            last = e
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not true after {timeout}s (last: {last!r})", pytrace=False)
        time.sleep(interval)


def numbered(prefix, count):
    return [f"{prefix}-{i}".encode() for i in range(count)]


def incompressible(n):
    """n bytes that do not compress (a multiplicative hash of the index)."""
    return bytes(((i * 2654435761) >> 24) & 0xFF for i in range(n))
