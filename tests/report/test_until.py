"""``adaptsend report --until``: a period that ended in the past, on a real
SQLite file and every database server the tests reach. The store is the one
of tests/helpers/period_scenario.py, with the limits' history added."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from adaptsend._models import utcnow
from adaptsend.cli._common import parse_since
from adaptsend.cli._main import cli
from adaptsend.report._build import IncidentReport, build_report
from adaptsend.report._html import report_html
from adaptsend.report._json import report_document
from adaptsend.store import open_store
from adaptsend.store._cap_change_api import CapChangeRecord, LimitKind
from tests.helpers.period_scenario import SINCE, UNTIL, at, write_period
from tests.helpers.store_builders import cap_change

NOW = dt.datetime(2026, 12, 6, 14, 0, 0)


def _change(seconds: float, kind: LimitKind, old: float | None, new: float) -> CapChangeRecord:
    reason = "throttle" if kind is LimitKind.CONNECTIONS else "cut"
    return cap_change(at(seconds), old=old, new=new, reason=reason, kind=kind)


@pytest.fixture
def period_url(db_ready: str) -> str:
    """A store with attempts and limit changes before, inside and after the period."""
    store = open_store(db_ready)
    try:
        write_period(store)
        store.record_cap_changes(
            [
                _change(45, LimitKind.CONNECTIONS, 8, 4),
                _change(115, LimitKind.CONNECTIONS, 4, 2),
                _change(125, LimitKind.CONNECTIONS, 2, 3),
                _change(215, LimitKind.CONNECTIONS, 3, 5),
                _change(55, LimitKind.RATE, None, 600),
                _change(121, LimitKind.RATE, 600, 300),
                _change(230, LimitKind.RATE, 300, 150),
            ]
        )
    finally:
        store.close()
    return db_ready


def _report(url: str) -> IncidentReport:
    store = open_store(url)
    try:
        return build_report(store, since=SINCE, until=UNTIL, now=utcnow())
    finally:
        store.close()


def test_every_section_holds_the_period_only(period_url: str) -> None:
    doc = report_document(_report(period_url))
    assert (doc["since"], doc["until"]) == ("2026-03-01T22:01:40Z", "2026-03-01T22:03:20Z")
    assert doc["statuses"] == {
        "queued": 2,
        "sending": 0,
        "retry": 1,
        "sent": 0,
        "failed": 1,
        "dead": 0,
    }
    assert {o: n for o, n in doc["attempts"].items() if n} == {
        "quota": 2,
        "throttled": 1,
        "transient": 1,
        "permanent": 1,
    }
    timeline = doc["timeline"]
    assert (timeline["start"], timeline["end"]) == ("2026-03-01T22:01:50Z", "2026-03-01T22:03:12Z")
    [cap] = doc["cap"]
    assert [(p["at"], p["cap"]) for p in cap["points"]] == [
        ("2026-03-01T22:01:40Z", 4),
        ("2026-03-01T22:01:55Z", 2),
        ("2026-03-01T22:02:05Z", 3),
    ]
    [rate] = doc["rate"]
    assert [(p["at"], p["per_minute"]) for p in rate["points"]] == [
        ("2026-03-01T22:01:40Z", 600),
        ("2026-03-01T22:02:01Z", 300),
    ]
    assert [(f["outcome"], f["count"]) for f in doc["failures"]] == [
        ("quota", 2),
        ("permanent", 1),
        ("transient", 1),
        ("throttled", 1),
    ]
    assert [m["message_id"] for m in doc["slowest"]] == ["<1@adaptsend.test>"]
    assert [(m["message_id"], m["status"], m["waited_s"]) for m in doc["oldest_waiting"]] == [
        ("<4@adaptsend.test>", "queued", 120.0),
        ("<2@adaptsend.test>", "retry", 110.0),
        ("<3@adaptsend.test>", "queued", 110.0),
    ]


def test_a_pause_under_way_at_the_end_lasts_until_the_end(period_url: str) -> None:
    report = _report(period_url)
    [pause] = report_document(report)["pauses"]
    # The quota reply at 190 s paused the key; the period ended at 200 s.
    assert (pause["kind"], pause["start"], pause["end"]) == ("quota", "2026-03-01T22:03:10Z", None)
    assert pause["duration_s"] == 10.0
    page = report_html(report)
    assert "2026-03-01 22:01:40 - 2026-03-01 22:03:20 UTC, made " in page
    assert "still paused at the end" in page


def _cli(tmp_path: Path, url: str, *args: str) -> Result:
    config = tmp_path / "report.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')
    return CliRunner().invoke(cli, ["--config", str(config), "report", *args])


def test_the_json_document_carries_the_end_of_the_period(tmp_path: Path, period_url: str) -> None:
    result = _cli(
        tmp_path,
        period_url,
        "--json",
        "--since",
        "2026-03-01T23:01:40+01:00",
        "--until",
        "2026-03-01T22:03:20",
    )
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    assert (doc["since"], doc["until"]) == ("2026-03-01T22:01:40Z", "2026-03-01T22:03:20Z")
    assert doc["generated_at"] > doc["until"]
    assert sum(doc["attempts"].values()) == 5


def test_the_terminal_report_shows_the_period(tmp_path: Path, period_url: str) -> None:
    result = _cli(
        tmp_path, period_url, "--since", "2026-03-01T22:01:40", "--until", "2026-03-01T22:03:20"
    )
    assert result.exit_code == 0, result.output
    assert "2026-03-01 22:01:40 - 2026-03-01 22:03:20 UTC, made " in result.stdout
    assert "still paused at the end" in result.stdout


@pytest.mark.parametrize(
    ("since", "until", "sentence"),
    [
        ("2h", "2999-01-01", "'2999-01-01' is in the future"),
        ("2h", "3h", "'3h' is not after --since '2h': the period must end after it starts"),
        (
            "2026-03-01T22:00",
            "2026-03-01T22:00:00Z",
            "'2026-03-01T22:00:00Z' is not after --since '2026-03-01T22:00': "
            "the period must end after it starts",
        ),
        ("1d", "tomorrow", "'tomorrow' is neither a duration like 2h or 7d nor an ISO date"),
    ],
)
def test_a_bad_until_is_one_sentence_and_exit_2(
    tmp_path: Path, db_ready: str, since: str, until: str, sentence: str
) -> None:
    result = _cli(tmp_path, db_ready, "--since", since, "--until", until)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == f"Error: Invalid value for '--until': {sentence}"


def test_the_help_examples_are_the_periods_they_say() -> None:
    help_text = " ".join(CliRunner().invoke(cli, ["report", "--help"]).output.split())
    assert "--since 2026-12-05T22:00 --until 2026-12-06T02:00" in help_text
    assert "--since 6h --until 2h" in help_text
    night = (parse_since("2026-12-05T22:00", now=NOW), parse_since("2026-12-06T02:00", now=NOW))
    assert night == (dt.datetime(2026, 12, 5, 22), dt.datetime(2026, 12, 6, 2))
    start, end = parse_since("6h", now=NOW), parse_since("2h", now=NOW)
    assert start is not None and end is not None
    assert (end - start, NOW - end) == (dt.timedelta(hours=4), dt.timedelta(hours=2))
