from __future__ import annotations

import random

import pytest

from adaptsend._models import Outcome
from adaptsend.engine._backoff import THROTTLE_MAX_FACTOR, retry_delay


def transient(
    attempts: int, rng: random.Random, *, base: float = 10.0, cap: float = 600.0
) -> float:
    return retry_delay(Outcome.TRANSIENT, attempts, base_delay_s=base, max_delay_s=cap, rng=rng)


def throttled(
    attempts: int, rng: random.Random, *, base: float = 10.0, cap: float = 600.0
) -> float:
    return retry_delay(Outcome.THROTTLED, attempts, base_delay_s=base, max_delay_s=cap, rng=rng)


def test_transient_is_equal_jitter_on_an_exponential_ceiling() -> None:
    # Attempt 2 with base 10: ceiling 20, so 10 fixed plus up to 10 of jitter.
    expected = 10.0 + random.Random(7).uniform(0.0, 10.0)
    assert transient(2, random.Random(7)) == expected


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [
        (1, 5.0, 10.0),
        (2, 10.0, 20.0),
        (3, 20.0, 40.0),
        (6, 160.0, 320.0),
        (7, 300.0, 600.0),  # 640 capped at 600
        (60, 300.0, 600.0),
        (100_000, 300.0, 600.0),
    ],
)
def test_transient_bounds(attempts: int, low: float, high: float) -> None:
    rng = random.Random(attempts)
    delays = [transient(attempts, rng) for _ in range(2000)]
    assert min(delays) >= low
    assert max(delays) <= high
    # Spread over the whole upper half, never bunched at one end.
    assert min(delays) < low + (high - low) * 0.05
    assert max(delays) > high - (high - low) * 0.05


def test_transient_never_shrinks_from_one_attempt_to_the_next() -> None:
    rng = random.Random(3)
    for _ in range(200):
        # Below the cap, each range starts where the previous one ends.
        delays = [transient(n, rng) for n in range(1, 7)]
        assert delays == sorted(delays)
        assert delays[0] > 0.0


def test_a_first_throttle_is_retried_at_once_without_drawing_jitter() -> None:
    rng = random.Random(11)
    assert throttled(1, rng) == 0.0
    assert rng.random() == random.Random(11).random()


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [
        (2, 5.0, 15.0),
        (3, 10.0, 30.0),
        (4, 20.0, 60.0),
        (5, 20.0, 60.0),
        (1_000, 20.0, 60.0),
    ],
)
def test_later_throttles_wait_near_the_base(attempts: int, low: float, high: float) -> None:
    assert THROTTLE_MAX_FACTOR == 4
    rng = random.Random(attempts)
    delays = [throttled(attempts, rng) for _ in range(2000)]
    assert min(delays) >= low
    assert max(delays) <= high
    assert min(delays) < low + (high - low) * 0.05
    assert max(delays) > high - (high - low) * 0.05


def test_throttled_is_capped_by_max_delay() -> None:
    rng = random.Random(5)
    delays = [throttled(5, rng, base=10.0, cap=25.0) for _ in range(500)]
    assert min(delays) >= 20.0
    assert max(delays) == 25.0


def test_throttled_value_with_a_seeded_random() -> None:
    expected = random.Random(11).uniform(5.0, 15.0)
    assert throttled(2, random.Random(11)) == expected


@pytest.mark.parametrize("outcome", [Outcome.SENT, Outcome.PERMANENT, Outcome.FATAL])
def test_final_outcomes_have_no_delay(outcome: Outcome) -> None:
    with pytest.raises(ValueError, match=f"A {outcome.value} outcome is never retried"):
        retry_delay(outcome, 1, base_delay_s=1.0, max_delay_s=2.0, rng=random.Random(0))


@pytest.mark.parametrize(
    ("attempts", "base", "cap", "message"),
    [
        (0, 1.0, 2.0, "attempts must be at least 1, not 0."),
        (1, 0.0, 2.0, "0 < base_delay_s <= max_delay_s"),
        (1, 3.0, 2.0, "0 < base_delay_s <= max_delay_s"),
    ],
)
def test_bad_arguments(attempts: int, base: float, cap: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        retry_delay(
            Outcome.TRANSIENT, attempts, base_delay_s=base, max_delay_s=cap, rng=random.Random(0)
        )
