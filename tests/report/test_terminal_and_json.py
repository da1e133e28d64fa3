"""``adaptsend report`` on real runs: the JSON document against what the
server did, the terminal sections, and the options' errors."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from adaptsend._models import Outcome, Reply
from adaptsend.cli._common import parse_since
from adaptsend.cli._main import cli
from adaptsend.report._build import ReportError, incident_log
from adaptsend.report._text import SECTIONS
from adaptsend.store import open_store
from tests.helpers.recorded_run import REFUSAL, RecordedRun
from tests.helpers.store_builders import KEY, attempt, envelope


def report(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), "report", *args])


def document(run: RecordedRun, *args: str) -> dict[str, Any]:
    result = report(run.config, "--json", *args)
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.removesuffix("Z"))


def test_the_counts_agree_with_what_the_server_saw(recorded_run: RecordedRun) -> None:
    doc = document(recorded_run)
    assert doc["format"] == 1 and doc["sending_key"] is None
    assert doc["statuses"] == {
        "queued": 0,
        "sending": 0,
        "retry": 0,
        "sent": recorded_run.delivered,
        "failed": recorded_run.refused,
        "dead": 0,
    }
    assert doc["attempts"]["throttled"] == recorded_run.throttled > 0
    assert doc["attempts"]["sent"] == recorded_run.delivered
    timeline = doc["timeline"]
    assert sum(s["sent"] for s in timeline["slices"]) == recorded_run.delivered
    assert sum(s["throttled"] for s in timeline["slices"]) == recorded_run.throttled
    starts = [utc(s["start"]) for s in timeline["slices"]]
    step = dt.timedelta(seconds=timeline["slice_s"])
    assert all(b - a == step for a, b in itertools.pairwise(starts))
    assert utc(timeline["end"]) == starts[-1] + step

    by_reply = {(f["code"], f["enhanced"], f["outcome"]): f for f in doc["failures"]}
    assert by_reply[(432, "4.3.2", "throttled")]["count"] == recorded_run.throttled
    assert by_reply[(432, "4.3.2", "throttled")]["rule"] == "concurrency-status"
    refused = by_reply[(550, "5.1.1", "permanent")]
    assert (refused["count"], refused["rule"]) == (recorded_run.refused, "permanent")
    assert refused["text"] in REFUSAL and refused["stage"] == "rcpt"
    assert len(refused["sample_message_ids"]) == 3

    # The slowest waited longest; nothing waits after a complete run.
    waits = [m["waited_s"] for m in doc["slowest"]]
    assert waits == sorted(waits, reverse=True) and len(waits) == 10
    assert all(m["ended_at"] is not None for m in doc["slowest"])
    assert doc["oldest_waiting"] == [] and doc["pauses"] == []


def test_the_terminal_report_shows_every_section_in_order(recorded_run: RecordedRun) -> None:
    result = report(recorded_run.config, "--key", recorded_run.sending_key)
    assert result.exit_code == 0, result.output
    out = result.stdout
    positions = [out.index(f"\n{title}\n") for title in SECTIONS]
    assert positions == sorted(positions)
    assert out.startswith("adaptsend report")
    assert recorded_run.sending_key in out
    assert f"sent      {recorded_run.delivered}" in out
    assert "432 4.3.2 Concurrent connections limit exceeded" in out
    assert "550 5.1.1" in out
    # Each group names the rule that judged it: "... (rule permanent)", which
    # the reply's cell may wrap before the name.
    assert "concurrency-status)" in out and "permanent)" in out
    # The charts: a line of blocks per outcome and for the cap, marks where it was refused.
    assert any(block in out for block in "▁▂▃▄▅▆▇█")
    assert "▴" in out and "refused for load" in out
    assert "Oldest waiting messages\nnone" in out


NOW = dt.datetime(2026, 11, 29, 21, 40, 0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30m", NOW - dt.timedelta(minutes=30)),
        ("2h", NOW - dt.timedelta(hours=2)),
        ("1d", NOW - dt.timedelta(days=1)),
        ("90s", NOW - dt.timedelta(seconds=90)),
        ("2026-11-28", dt.datetime(2026, 11, 28)),
        ("2026-11-28T21:43:00", dt.datetime(2026, 11, 28, 21, 43)),
        ("2026-11-28T21:43:00Z", dt.datetime(2026, 11, 28, 21, 43)),
        ("2026-11-28 23:43:00+02:00", dt.datetime(2026, 11, 28, 21, 43)),
    ],
)
def test_since_takes_durations_and_iso_times(value: str, expected: dt.datetime) -> None:
    assert parse_since(value, now=NOW) == expected


@pytest.mark.parametrize(
    ("value", "sentence"),
    [
        ("1w", "'1w' is neither a duration like 2h or 7d nor an ISO date"),
        ("yesterday", "'yesterday' is neither a duration like 2h or 7d nor an ISO date"),
        ("-30m", "'-30m' is neither a duration like 2h or 7d nor an ISO date"),
        ("2026-13-01", "'2026-13-01' is neither a duration like 2h or 7d nor an ISO date"),
        ("99999999999d", "'99999999999d' reaches back before the year 1"),
        ("2999-01-01", "'2999-01-01' is in the future"),
    ],
)
def test_a_bad_since_is_one_sentence_and_exit_2(
    recorded_run: RecordedRun, value: str, sentence: str
) -> None:
    result = report(recorded_run.config, "--since", value)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == f"Error: Invalid value for '--since': {sentence}"


def test_parse_since_errors_are_click_errors() -> None:
    with pytest.raises(click.BadParameter):
        parse_since("soon", now=NOW)


def test_an_unknown_key_is_one_sentence_and_exit_2(recorded_run: RecordedRun) -> None:
    result = report(recorded_run.config, "--key", "someone@elsewhere.example:587")
    assert result.exit_code == 2
    assert result.output == (
        "adaptsend: No message in the store was queued under the sending key "
        f"'someone@elsewhere.example:587' (its keys: {recorded_run.sending_key}).\n"
    )


def test_a_period_without_attempts_says_so(recorded_run: RecordedRun) -> None:
    # The period starts now: the run is over.
    result = report(recorded_run.config, "--since", "0s")
    assert result.exit_code == 0, result.output
    assert "No attempt started in this period." in result.stdout
    doc = document(recorded_run, "--since", "0s")
    assert doc["timeline"] is None and doc["cap"] == [] and doc["failures"] == []
    assert doc["attempts"] == dict.fromkeys(doc["attempts"], 0)
    # The messages that ended before the period are not counted in it.
    assert doc["statuses"]["sent"] == 0


def test_a_secret_in_a_stored_reply_is_hidden(tmp_path: Path) -> None:
    # A reply written down by an older version, before replies were cleaned.
    secret = "pa55-w0rd-never-shown"
    url = f"sqlite:///{tmp_path / 'adaptsend.db'}"
    store = open_store(url)
    try:
        [pk] = store.enqueue([envelope(1)], sending_key=KEY)
        echo = Reply(code=451, text=f"4.3.0 your password is {secret}", enhanced="4.3.0")
        store.record([attempt(pk, echo, Outcome.TRANSIENT)], [], owner="a")
    finally:
        store.close()
    config = tmp_path / "adaptsend.toml"
    config.write_text(f'[store]\nurl = "{url}"\n[smtp]\nusername = "u"\npassword = "{secret}"\n')
    page = tmp_path / "report.html"

    shown = report(config, "--html", str(page)).stdout
    document = report(config, "--json").stdout
    assert "your password is [redacted]" in shown
    assert json.loads(document)["failures"][0]["text"] == "4.3.0 your password is [redacted]"
    for text in (shown, document, page.read_text()):
        assert secret not in text


def test_a_store_that_cannot_answer_is_named_in_one_sentence() -> None:
    class OnlySends:
        """A plugin's store with the sending half only."""

        def counts(self) -> dict[str, int]:
            return {}

    with pytest.raises(ReportError, match=r"^The configured store cannot answer a report's"):
        incident_log(OnlySends())
