"""The cap line of the recorded run (a hidden limit that falls and rises):
drawn from the limiter's record of each change, with its reasons, and from
the attempts when that record is gone."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from adaptsend.store import open_store
from tests.helpers.command_line import cli_ok
from tests.helpers.recorded_run import HIGH, INITIAL_CAP, LOW, RecordedRun

#: The reasons of a change that lowers the cap, and of one that raises it.
CUTS = {"throttle", "probe-failed"}
RISES = {"growth", "probe", "probe-succeeded"}

Point = tuple[dt.datetime, int, str | None]


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.removesuffix("Z"))


def cap_line(config: Path, sending_key: str, *args: str) -> tuple[dict[str, Any], list[Point]]:
    """The report's one cap series of ``sending_key``, and its points."""
    doc = json.loads(cli_ok(config, "report", "--json", "--key", sending_key, *args))
    [series] = doc["cap"]
    assert (series["sending_key"], series["agent"]) == (sending_key, None)
    points = [(utc(p["at"]), p["cap"], p["reason"]) for p in series["points"]]
    assert [at for at, _, _ in points] == sorted(at for at, _, _ in points)
    return {**series, "since": utc(doc["since"]), "until": utc(doc["until"])}, points


def falls_and_rises(run: RecordedRun, points: list[Point]) -> tuple[Point, Point]:
    """The shape every cap line of the run has, whatever its source: the
    point where the cap fell to the low limit, and where it rose past it."""
    [(_, high), (dropped_at, low), (raised_at, high_again)] = run.limits
    assert (high, low, high_again) == (HIGH, LOW, HIGH)
    # While the limit was 6 the cap grew toward it, and never fell to 2.
    before = [cap for at, cap, _ in points if at < dropped_at]
    assert max(before) >= HIGH - 1
    assert min(before) > LOW
    # It fell to the new limit after the limit dropped, and before it rose again.
    fell = next(p for p in points if p[1] <= LOW)
    assert dropped_at < fell[0] < raised_at
    # From then until the limit rose, probes went one above it at most.
    assert max(cap for at, cap, _ in points if fell[0] <= at <= raised_at) <= LOW + 1
    # It grew past that only once the limit had risen.
    rose = next(p for p in points if p[0] > fell[0] and p[1] > LOW + 1)
    assert rose[0] > raised_at
    assert max(cap for at, cap, _ in points if at > raised_at) >= HIGH - 1
    return fell, rose


def test_the_cap_line_is_the_limiters_record_with_its_reasons(recorded_run: RecordedRun) -> None:
    key = recorded_run.sending_key
    series, points = cap_line(recorded_run.config, key)
    assert series["source"] == "changes"
    # From the period's start, the cap the first change started from: the initial cap.
    assert points[0] == (series["since"], INITIAL_CAP, None)
    fell, rose = falls_and_rises(recorded_run, points)

    # Every change says why, and a cut is never called growth, nor growth a cut.
    for (_, before, _), (_, cap, reason) in itertools.pairwise(points):
        assert reason is not None
        if cap < before:
            assert reason in CUTS
        elif cap > before:
            assert reason in RISES
    # The fall to the low limit was a throttle's cut: a new, lower ceiling.
    assert fell[2] == "throttle"
    # Up to the new ceiling the cap grew back by probes, which failed until
    # the limit rose...
    raised_at = recorded_run.limits[2][0]
    low = [reason for at, _, reason in points if fell[0] < at < raised_at]
    assert "probe" in low and "probe-failed" in low
    # ... and the first to go past it succeeded, after it rose.
    assert rose[2] == "probe-succeeded"

    # The record is the limiter's decision itself; attempts show it later.
    store = open_store(recorded_run.db_url)
    try:
        [seen] = store.cap_changes_from_attempts(
            since=series["since"], until=series["until"], sending_key=key
        )
    finally:
        store.close()
    seen_fell_at = next(p.at for p in seen.points if p.cap <= LOW)
    assert fell[0] <= seen_fell_at


@pytest.fixture(scope="module")
def without_history(recorded_run: RecordedRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the recorded run's store whose history of the limits was
    deleted, as a store's rows of a period before that history was kept;
    returns its configuration."""
    directory = tmp_path_factory.mktemp("without-history")
    copy = directory / "adaptsend.db"
    shutil.copyfile(recorded_run.config.parent / "adaptsend.db", copy)
    with sqlite3.connect(copy) as conn:
        assert conn.execute("DELETE FROM cap_changes").rowcount > 0
    config = directory / "adaptsend.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{copy}"\n')
    return config


def test_without_the_record_the_cap_line_comes_from_attempts(
    recorded_run: RecordedRun, without_history: Path
) -> None:
    key = recorded_run.sending_key
    series, points = cap_line(without_history, key)
    assert series["source"] == "attempts"
    assert {reason for _, _, reason in points} == {None}
    # The first point is the first attempt of the period, not its start.
    assert points[0][0] > series["since"]
    falls_and_rises(recorded_run, points)

    text = cli_ok(without_history, "report", "--key", key)
    assert "attempts: the cap each attempt saw when it began" in text
    assert "the limiter's record" not in text
    # No message rate was recorded: the section has no line of it.
    assert "messages a minute" not in text


def test_the_terminal_names_the_source_and_counts_the_reasons(recorded_run: RecordedRun) -> None:
    _, points = cap_line(recorded_run.config, recorded_run.sending_key)
    text = cli_ok(recorded_run.config, "report", "--key", recorded_run.sending_key)
    # The reasons may wrap within their column; their words stay in order.
    words = " ".join(text.split())
    source = "the limiter's record"
    shown = words[words.index(source) + len(source) : words.index("Failures by reply")]
    counted = collections.Counter(reason for _, _, reason in points[1:])
    by_reason = dict(item.rsplit(" ", 1) for item in shown.strip().split(", "))
    assert {reason: int(n) for reason, n in by_reason.items()} == counted
