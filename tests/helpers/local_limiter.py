"""Helpers for the limiter's tests: make a limiter, take slots, report
successes, and bring a limiter to a known ceiling."""

from __future__ import annotations

import contextlib
from typing import Any

import trio

from adaptsend.config._settings import LimiterConfig
from adaptsend.limits._local import AIMDLimiter, Slot
from adaptsend.limits._records import CapChange


def make(
    *, initial_cap: int = 4, min_cap: int = 1, max_cap: int = 10, **kwargs: Any
) -> tuple[AIMDLimiter, list[CapChange]]:
    """A limiter with ``[limiter]`` settings as given (the defaults for the rest)."""
    changes: list[CapChange] = []
    settings = LimiterConfig(initial_cap=initial_cap, min_cap=min_cap, max_cap=max_cap, **kwargs)
    return AIMDLimiter(settings, on_change=changes.append), changes


async def take(stack: contextlib.AsyncExitStack, limiter: AIMDLimiter, *, open_: bool) -> Slot:
    """Take a slot (it must be free) and, if asked, open its connection."""
    with trio.fail_after(0.001):
        slot = await stack.enter_async_context(limiter.slot())
    if open_:
        limiter.connection_opened(slot)
    return slot


async def take_many(stack: contextlib.AsyncExitStack, limiter: AIMDLimiter, n: int) -> list[Slot]:
    return [await take(stack, limiter, open_=True) for _ in range(n)]


def succeed(limiter: AIMDLimiter, slots: list[Slot], rounds: int = 1) -> list[CapChange]:
    made = []
    for _ in range(rounds):
        for slot in slots:
            change = limiter.record_success(slot)
            if change is not None:
                made.append(change)
    return made


async def cut_to_two_with_ceiling_four(
    stack: contextlib.AsyncExitStack, limiter: AIMDLimiter
) -> list[Slot]:
    """Four open connections, a throttle: cap 2, ceiling 4. Returns three
    connections from the new epoch, proven and holding slots (cap is now 3)."""
    async with contextlib.AsyncExitStack() as first:
        old = await take_many(first, limiter, 4)
        limiter.record_throttle(old[0])
    fresh = await take_many(stack, limiter, 2)
    succeed(limiter, fresh)  # proves both: window 1
    limiter.record_success(fresh[0])  # window 2 at cap 2: growth to 3 (ceiling - 1)
    assert limiter.cap == 3
    fresh.append(await take(stack, limiter, open_=True))
    limiter.record_success(fresh[2])
    return fresh
