"""The budgets the store keeps besides the connection cap: the shared
message-rate bucket and the daily recipient budget, on the database's clock."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from adaptsend.store import SQLStore
from adaptsend.store._day_api import COUNTED_S, RecipientGrant, Settlement
from adaptsend.store._schema import message_rates, recipient_charges
from tests.helpers.store_builders import KEY, db_now

from .conftest import OpenStore

# -- the shared message rate -----------------------------------------------------


def take(store: SQLStore, per_minute: float, least: int = 1, most: int = 1) -> tuple[int, float]:
    grant = store.take_tokens(sending_key=KEY, per_minute=per_minute, least=least, most=most)
    return grant.granted, grant.wait_s


def test_a_new_bucket_is_full_and_then_says_how_long_until_the_next_token(
    store: SQLStore,
) -> None:
    # 120 a minute: two tokens a second, and a bucket of one.
    assert take(store, 120, most=5) == (1, 0.0)
    granted, wait_s = take(store, 120)
    assert granted == 0
    assert 0 < wait_s <= 0.5


def test_a_take_gets_what_the_bucket_holds_between_least_and_most(store: SQLStore) -> None:
    # 6000 a minute: 100 a second, and a bucket of half a second's worth.
    assert take(store, 6000, least=10, most=80) == (50, 0.0)
    granted, wait_s = take(store, 6000, least=10, most=80)
    assert granted == 0 and 0 < wait_s <= 0.1
    time.sleep(0.2)
    # At least 0.2 s of the database's clock went by: 20 tokens or more.
    granted, _ = take(store, 6000, least=10, most=80)
    assert 20 <= granted <= 50


def test_the_bucket_holds_no_more_than_its_capacity_however_long_it_rests(
    store: SQLStore,
) -> None:
    take(store, 600, most=5)
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(message_rates).values(refilled_at=db_now(store) - dt.timedelta(hours=1))
        )
    assert take(store, 600, least=1, most=100) == (5, 0.0)


def test_asking_for_more_than_the_bucket_can_hold_is_refused(store: SQLStore) -> None:
    with pytest.raises(ValueError, match="bucket of 1"):
        take(store, 30, least=2, most=2)


def test_agents_taking_at_once_never_get_more_than_the_rate_together(
    store_url: str, make_store: OpenStore
) -> None:
    # 600 a minute: 10 tokens a second, and a bucket of 5.
    stores = [make_store(store_url) for _ in range(3)]
    take(stores[0], 600, most=5)
    granted = _in_threads(stores, lambda s: take(s, 600)[0], seconds=1.5)
    elapsed_s = granted.pop()
    # Counted against the time they took, however slow the machine is.
    assert sum(granted) <= 10 * elapsed_s + 1
    assert sum(granted) >= 10


def _in_threads(
    stores: list[SQLStore], one: Callable[[SQLStore], int], *, seconds: float
) -> list[float]:
    """Call ``one(store)`` over and over in a thread per store for ``seconds``;
    the sums per thread, and last the seconds it all took."""
    sums = [0] * len(stores)
    errors: list[BaseException] = []

    def loop(n: int) -> None:
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                sums[n] += one(stores[n])
        except BaseException as exc:
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(n,)) for n in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return [*sums, time.monotonic() - started]


# -- the daily recipient budget ----------------------------------------------


def charge(
    store: SQLStore, *sizes: int, limit: int = 5, settlement: Settlement | None = None
) -> RecipientGrant:
    return store.charge_recipients(
        sending_key=KEY, day_limit=limit, sizes=sizes, settlement=settlement or Settlement()
    )


def add_charge(store: SQLStore, recipients: int, *, age_s: float) -> int:
    """A charge made ``age_s`` seconds ago by the database's clock; its id."""
    with store.engine.begin() as conn:
        made = conn.execute(
            sa.insert(recipient_charges).values(
                sending_key=KEY,
                charged_at=db_now(store) - dt.timedelta(seconds=age_s),
                recipients=recipients,
            )
        )
    return int(made.inserted_primary_key[0])


def used(store: SQLStore) -> list[int]:
    return [usage.used for usage in store.recipient_usage()]


def test_the_first_messages_that_fit_are_charged_and_then_the_day_waits(
    store: SQLStore,
) -> None:
    first = charge(store, 2, 2, 2)
    assert first.charge_id is not None
    assert (first.messages, first.granted, first.used) == (2, 4, 4)
    refused = charge(store, 2, 1)
    assert (refused.charge_id, refused.messages, refused.granted, refused.used) == (None, 0, 0, 4)
    # The first message decides: the one behind it would fit, but waits.
    assert COUNTED_S - 60 < refused.wait_s <= COUNTED_S
    assert (charge(store, 1).messages, used(store)) == (1, [5])


def test_recipients_given_back_make_room(store: SQLStore) -> None:
    first = charge(store, 5)
    assert first.charge_id is not None
    store.settle_recipients(settlement=Settlement(given_back={first.charge_id: 2}))
    assert charge(store, 1, 1, 1).messages == 2
    # Given back with a charge: the room is there for that charge.
    again = charge(store, 1, settlement=Settlement(given_back={first.charge_id: 1}))
    assert (again.messages, again.used) == (1, 5)


def test_a_charge_never_goes_below_none(store: SQLStore) -> None:
    first = charge(store, 2)
    assert first.charge_id is not None
    store.settle_recipients(settlement=Settlement(given_back={first.charge_id: 7}))
    assert used(store) == [0]


def test_only_the_last_day_counts_and_the_wait_is_until_the_oldest_charges_end(
    store: SQLStore,
) -> None:
    # A charge given back whole: the key has its budget row.
    first = charge(store, 1)
    assert first.charge_id is not None
    store.settle_recipients(settlement=Settlement(given_back={first.charge_id: 1}))
    add_charge(store, 4, age_s=COUNTED_S + 60)  # no longer counts
    add_charge(store, 3, age_s=COUNTED_S - 100)  # ends in 100 s
    add_charge(store, 2, age_s=3600)
    assert used(store) == [5]
    refused = charge(store, 2)
    assert (refused.messages, refused.used) == (0, 5)
    assert 90 < refused.wait_s <= 100


def test_a_new_charge_is_written_over_one_that_no_longer_counts(store: SQLStore) -> None:
    old = add_charge(store, 4, age_s=COUNTED_S + 60)
    new = charge(store, 2)
    assert (new.charge_id, new.used) == (old, 2)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(recipient_charges)).scalar()
    assert rows == 1


def test_a_renewed_charge_counts_for_a_day_from_then(store: SQLStore) -> None:
    charge(store, 1)
    old = add_charge(store, 4, age_s=COUNTED_S - 10)
    store.settle_recipients(settlement=Settlement(renewed=frozenset({old})))
    refused = charge(store, 1)
    # Without the renewal, the old charge would end in 10 s.
    assert refused.messages == 0 and refused.wait_s > COUNTED_S - 60


def test_the_usage_names_every_key_with_its_limit(store: SQLStore) -> None:
    charge(store, 2, limit=10)
    store.charge_recipients(sending_key="other:25", day_limit=7, sizes=[1], settlement=Settlement())
    usage = [(u.sending_key, u.used, u.day_limit) for u in store.recipient_usage()]
    assert usage == [("other:25", 1, 7), (KEY, 2, 10)]


def test_a_message_larger_than_the_day_is_not_charged(store: SQLStore) -> None:
    with pytest.raises(ValueError, match="recipients to 5 a day"):
        charge(store, 1, 6)


def test_agents_charging_at_once_never_go_past_the_limit_together(
    store_url: str, make_store: OpenStore
) -> None:
    stores = [make_store(store_url) for _ in range(3)]
    granted = _in_threads(stores, lambda s: charge(s, 1, 1, limit=60).granted, seconds=1.0)
    granted.pop()
    assert sum(granted) == 60
