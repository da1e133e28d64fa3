"""Counting and summarising what happened, and keeping long replies."""

from __future__ import annotations

from adaptsend._models import Outcome, Reply, Stage, Status
from adaptsend.store import SQLStore
from adaptsend.store._schema import REPLY_TEXT_LEN
from tests.helpers.store_builders import (
    KEY,
    LATER,
    NO_USER,
    attempt,
    attempt_rows,
    claim_ids,
    decision,
    enqueue,
    later,
    message_row,
)


def test_counts_have_every_status(store: SQLStore) -> None:
    assert store.counts() == dict.fromkeys(Status, 0)
    ids = enqueue(store, 7)
    claim_ids(store, limit=5)
    store.record(
        [],
        [
            decision(ids[0]),
            decision(ids[1], Status.FAILED),
            decision(ids[2], Status.DEAD),
            decision(ids[3], Status.RETRY, next_attempt_at=later(60)),
        ],
        owner="a",
    )
    assert store.counts() == {
        Status.QUEUED: 2,
        Status.SENDING: 1,
        Status.RETRY: 1,
        Status.SENT: 1,
        Status.FAILED: 1,
        Status.DEAD: 1,
    }


def test_recent_failures_group_by_reply(store: SQLStore) -> None:
    ids = enqueue(store, 6)
    claim_ids(store)
    no_code = Reply(code=None, text="connection reset", stage=Stage.CONNECT)
    old = later(-3600)
    store.record(
        [
            attempt(ids[0], LATER, Outcome.TRANSIENT),
            attempt(ids[1], LATER, Outcome.TRANSIENT),
            attempt(ids[1], LATER, Outcome.TRANSIENT),
            attempt(ids[2], NO_USER, Outcome.PERMANENT, recipient="to@example.org"),
            attempt(ids[3], no_code, Outcome.TRANSIENT),
            attempt(ids[4], no_code, Outcome.TRANSIENT),
            attempt(ids[5], NO_USER, Outcome.PERMANENT, started_at=old),
            attempt(ids[5]),
        ],
        [],
        owner="a",
    )
    groups = store.recent_failures(since=later(-60), limit=10)
    assert [(g.reply, g.count) for g in groups] == [(LATER, 3), (no_code, 2), (NO_USER, 1)]
    assert set(groups[0].sample_message_ids) == {"<0@adaptsend.test>", "<1@adaptsend.test>"}
    assert set(groups[1].sample_message_ids) == {"<3@adaptsend.test>", "<4@adaptsend.test>"}
    assert groups[2].sample_message_ids == ("<2@adaptsend.test>",)
    assert all(g.last_at >= later(-60) for g in groups)
    assert len(store.recent_failures(since=later(-60), limit=1)) == 1
    assert store.recent_failures(since=later(60), limit=10) == []


def test_recent_failures_name_the_rule_and_a_reply_judged_by_two_rules_is_two_groups(
    store: SQLStore,
) -> None:
    ids = enqueue(store, 4)
    claim_ids(store)
    site = "site-throttle: Try again"
    store.record(
        [
            attempt(ids[0], LATER, Outcome.TRANSIENT, rule="temporary"),
            attempt(ids[1], LATER, Outcome.TRANSIENT, rule="temporary"),
            attempt(ids[2], LATER, Outcome.THROTTLED, rule=site),
            # Recorded before rules were kept.
            attempt(ids[3], LATER, Outcome.TRANSIENT),
        ],
        [],
        owner="a",
    )
    groups = store.recent_failures(since=later(-60), limit=10)
    assert sorted((g.rule or "", g.count) for g in groups) == [
        ("", 1),
        (site, 1),
        ("temporary", 2),
    ]
    by_rule = {g.rule: g for g in groups}
    assert set(by_rule["temporary"].sample_message_ids) == {
        "<0@adaptsend.test>",
        "<1@adaptsend.test>",
    }
    assert by_rule[site].sample_message_ids == ("<2@adaptsend.test>",)
    assert by_rule[None].sample_message_ids == ("<3@adaptsend.test>",)


def test_failure_samples_are_capped(store: SQLStore) -> None:
    ids = enqueue(store, 5)
    claim_ids(store)
    store.record([attempt(pk, LATER, Outcome.THROTTLED) for pk in ids], [], owner="a")
    [group] = store.recent_failures(since=later(-60), limit=10)
    assert group.count == 5
    assert len(group.sample_message_ids) == 3


def test_long_reply_texts_are_cut_to_fit(store: SQLStore) -> None:
    [pk] = enqueue(store, 1)
    claim_ids(store)
    long = Reply(code=554, text="x" * 5000, enhanced="5.7.1-very-long-code")
    store.record(
        [attempt(pk, long, Outcome.PERMANENT, recipient="r" * 400 + "@example.org")],
        [decision(pk, Status.FAILED, last_reply=long)],
        owner="a",
    )
    [row] = attempt_rows(store)
    assert len(row.reply_text) == REPLY_TEXT_LEN and row.reply_text.startswith("xxx")
    assert len(row.enhanced_code) <= 16 and len(row.recipient) <= 320
    assert len(message_row(store, pk).last_text) == REPLY_TEXT_LEN
    [state] = store.states([pk])
    assert state.last_reply is not None and len(state.last_reply.text) == REPLY_TEXT_LEN


def test_unsent_by_key_counts_only_messages_not_final(store: SQLStore) -> None:
    assert store.unsent_by_key() == {}
    ids = enqueue(store, 3)
    enqueue(store, 2, key="old@relay.example.org:25")
    claim_ids(store, limit=2)
    store.record([], [decision(ids[0]), decision(ids[1], Status.FAILED)], owner="a")
    assert store.unsent_by_key() == {KEY: 1, "old@relay.example.org:25": 2}


def test_adopt_moves_only_waiting_messages_of_the_old_key(store: SQLStore) -> None:
    old = "old@relay.example.org:25"
    mine = enqueue(store, 1)
    moved = enqueue(store, 3, key=old)
    store.claim(owner="b", sending_key=old, limit=1, lease_s=60)
    assert store.adopt(from_key=old, to_key=KEY) == 2
    assert store.unsent_by_key() == {KEY: 3, old: 1}
    assert {message_row(store, pk).sending_key for pk in [*mine, *moved[1:]]} == {KEY}
