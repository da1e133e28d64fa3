"""The daily recipient budget of one run (``RecipientBudget``) on a real
SQLite store: what a page charges, what goes back, and what a stop keeps
counted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import trio

from adaptsend._models import ClaimedMessage, Outcome, Reply, Stage, Status
from adaptsend.limits._day_budget import DayFull, RecipientBudget
from adaptsend.store import SQLStore, open_store
from adaptsend.store._schema import recipient_charges
from adaptsend.store._thread import StoreThread
from adaptsend.transports._contract import SendResult
from tests.helpers.store_builders import KEY, envelope

ACCEPTED = SendResult(reply=Reply(code=250, text="2.0.0 OK", enhanced="2.0.0"))
REFUSED = Reply(code=550, text="5.1.1 No such user", enhanced="5.1.1", stage=Stage.RCPT)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLStore]:
    store = open_store(f"sqlite:///{tmp_path / 'day.db'}")
    yield store
    store.close()


def claim(store: SQLStore, *sizes: int, first: int = 0) -> list[ClaimedMessage]:
    """Queue and claim messages with these numbers of recipients, numbered from ``first``."""
    envelopes = [
        envelope(n, recipients=tuple(f"r{r}@example.org" for r in range(size)))
        for n, size in enumerate(sizes, start=first)
    ]
    store.enqueue(envelopes, sending_key=KEY)
    return store.claim(owner="run", sending_key=KEY, limit=len(sizes), lease_s=60)


def budget(store: SQLStore, per_day: int, full: list[DayFull]) -> RecipientBudget:
    return RecipientBudget(
        store=StoreThread(store),
        sending_key=KEY,
        owner="run",
        per_day=per_day,
        on_full=full.append,
        recheck_s=0.01,
    )


def used(store: SQLStore) -> int:
    [usage] = store.recipient_usage()
    return usage.used


def statuses(store: SQLStore, messages: list[ClaimedMessage]) -> list[Status]:
    return [state.status for state in store.states([m.id for m in messages])]


async def test_a_page_is_charged_as_far_as_it_fits_and_the_rest_goes_back(
    store: SQLStore,
) -> None:
    full: list[DayFull] = []
    day = budget(store, 5, full)
    page = claim(store, 2, 2, 2, 1)
    async with day.running():
        admitted = await day.admit(page)
    assert admitted == page[:2]
    # The third does not fit; the fourth would, but waits behind it.
    assert statuses(store, page[2:]) == [Status.QUEUED, Status.QUEUED]
    assert full == []


async def test_what_the_server_refused_goes_back_and_then_the_day_is_full(
    store: SQLStore,
) -> None:
    full: list[DayFull] = []
    day = budget(store, 3, full)
    first, second = claim(store, 3, 1)
    async with day.running():
        assert await day.admit([first]) == [first]
        day.sending([first])
        # One of three refused: it goes back, and the next message fits.
        refused = SendResult(reply=ACCEPTED.reply, refused={"r1@example.org": REFUSED})
        day.settle(first, refused, Outcome.SENT)
        assert await day.admit([second]) == [second]
        day.sending([second])
        day.settle(second, ACCEPTED, Outcome.SENT)
        [third] = claim(store, 1)
        assert await day.admit([third]) == []
    assert used(store) == 3
    [told] = full
    assert (told.used, told.per_day, told.needed, told.first) == (3, 3, 1, True)
    assert told.wait_s > 24 * 3600
    assert statuses(store, [third]) == [Status.QUEUED]


async def test_room_after_the_day_was_full_is_told_once(store: SQLStore) -> None:
    full: list[DayFull] = []
    rooms: list[None] = []
    day = RecipientBudget(
        store=StoreThread(store),
        sending_key=KEY,
        owner="run",
        per_day=2,
        on_full=full.append,
        on_room=lambda: rooms.append(None),
        recheck_s=0.01,
    )
    [first] = claim(store, 2)
    async with day.running():
        assert await day.admit([first]) == [first]
        assert rooms == []
        day.sending([first])
        day.settle(first, ACCEPTED, Outcome.SENT)
        [second] = claim(store, 1, first=1)
        assert await day.admit([second]) == []
        # A day later: the first charge no longer counts.
        with store.engine.begin() as conn:
            conn.execute(sa.delete(recipient_charges))
        [second] = store.claim(owner="run", sending_key=KEY, limit=1, lease_s=60)
        assert await day.admit([second]) == [second]
        day.sending([second])
        day.settle(second, ACCEPTED, Outcome.SENT)
        [third] = claim(store, 2, first=2)
        assert await day.admit([third]) == []
    assert [f.first for f in full] == [True, True]
    assert rooms == [None]


async def test_a_run_waits_for_its_own_sends_before_it_calls_the_day_full(
    store: SQLStore,
) -> None:
    full: list[DayFull] = []
    day = budget(store, 2, full)
    first, second = claim(store, 2, 2)
    admitted: list[ClaimedMessage] = []

    async def admit_second() -> None:
        admitted.extend(await day.admit([second]))

    async with day.running():
        assert await day.admit([first]) == [first]
        day.sending([first])
        async with trio.open_nursery() as nursery:
            nursery.start_soon(admit_second)
            await trio.sleep(0.2)
            # The second waits for the first, not for the day.
            assert (admitted, full) == ([], [])
            day.settle(first, SendResult(reply=REFUSED), Outcome.PERMANENT)
    assert admitted == [second]
    assert full == []


async def test_a_stop_keeps_counted_only_the_sends_that_started(store: SQLStore) -> None:
    day = budget(store, 10, [])
    page = claim(store, 2, 3, 4)
    async with day.running():
        assert await day.admit(page) == page
        day.sending(page[:1])
    # The first may have been delivered; the others never went out.
    assert used(store) == 2


async def test_a_message_larger_than_the_day_passes_uncharged_to_fail(store: SQLStore) -> None:
    day = budget(store, 3, [])
    page = claim(store, 4, 1)
    async with day.running():
        admitted = await day.admit(page)
    assert admitted == page
    assert day.never_fits(page[0]) and not day.never_fits(page[1])
    assert day.refusal(page[0]).outcome is Outcome.PERMANENT
    assert used(store) == 0  # the second was never started: given back at the end


async def test_an_unknown_outcome_keeps_every_recipient_counted(store: SQLStore) -> None:
    day = budget(store, 10, [])
    [message] = claim(store, 3)
    async with day.running():
        await day.admit([message])
        day.sending([message])
        lost = SendResult(reply=Reply(code=None, text="no reply"), outcome=Outcome.UNKNOWN)
        day.settle(message, lost, Outcome.UNKNOWN)
    assert used(store) == 3
