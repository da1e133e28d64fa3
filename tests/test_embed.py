"""The embedding API as a plain batch script uses it (sync, no trio in sight)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptsend import Message, PluginError, Status, send_batch
from adaptsend.testing import ThrottlingSMTPServer


def test_send_batch_from_a_plain_script(tmp_path: Path) -> None:
    messages = [
        Message(sender="r@example.com", to="a@example.com", subject="ok", text="t"),
        Message(sender="r@example.com", to=(), subject="no recipients"),
    ]
    with ThrottlingSMTPServer() as server:
        report = send_batch(
            messages,
            config={
                "store": {"url": f"sqlite:///{tmp_path / 'q.db'}"},
                "smtp": {"host": server.host, "port": server.port},
            },
        )

    assert [r.status for r in report.results] == [Status.SENT]
    assert [(r.index, r.reason) for r in report.rejected] == [
        (1, "the message has no recipients (to, cc or bcc)")
    ]
    assert not report.ok
    assert server.delivered == 1


def test_a_user_error_inside_the_run_is_raised_plainly(tmp_path: Path) -> None:
    config = {"store": {"url": f"sqlite:///{tmp_path / 'q.db'}"}, "run": {"transport": "nope"}}
    with pytest.raises(PluginError, match="no transport 'nope' is registered"):
        send_batch([Message(sender="r@example.com", to="a@example.com")], config=config)
