"""The per-second gate of the rate-limited test servers and the rate relay."""

from __future__ import annotations

import time

import pytest

from adaptsend.testing._rate_gate import PerSecondGate


def test_a_gate_admits_so_many_a_second_and_counts_the_rest() -> None:
    gate = PerSecondGate(3)
    assert [gate.admit() for _ in range(5)] == [True, True, True, False, False]
    assert gate.refusals == 2
    assert len(gate.admitted_at) == 3


def test_without_a_limit_every_message_is_admitted_and_timed() -> None:
    gate = PerSecondGate()
    assert all(gate.admit() for _ in range(50))
    times = gate.admitted_at
    assert times == sorted(times) and len(times) == 50


def test_most_within_counts_the_busiest_window() -> None:
    gate = PerSecondGate()
    for _ in range(4):
        gate.admit()
    time.sleep(0.3)
    gate.admit()
    # The first four came together; the fifth at least 0.3 s later.
    assert gate.most_within(0.25) == 4
    assert gate.most_within(60) == 5
    assert PerSecondGate().most_within(1.0) == 0


def test_a_gate_needs_a_rate_of_one_or_more() -> None:
    with pytest.raises(ValueError, match="at least 1, not 0"):
        PerSecondGate(0)
