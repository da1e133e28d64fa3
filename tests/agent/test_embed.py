"""The embedding API as a plain batch script uses it (sync, no trio in sight)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from adaptsend import ConfigError, Message, PluginError, Status, hookimpl, send_batch
from adaptsend.plugins._manager import load_plugins
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


def test_an_unknown_transport_is_one_sentence(tmp_path: Path) -> None:
    config = {"store": {"url": f"sqlite:///{tmp_path / 'q.db'}"}, "run": {"transport": "nope"}}
    with pytest.raises(PluginError, match="no transport 'nope' is registered"):
        send_batch([Message(sender="r@example.com", to="a@example.com")], config=config)


class MisconfiguredTransport:
    """A transport plugin whose connections fail with a user's error, raised
    from inside the dispatcher's nurseries."""

    sending_key = "misconfigured"

    async def connect(self) -> object:
        raise ConfigError("the relay certificate file is missing")

    @hookimpl
    def adaptsend_register_transports(self, register: Callable[[str, object], None]) -> None:
        register("misconfigured", lambda _config, _threads: self)


def test_a_user_error_raised_inside_the_run_comes_out_plain(tmp_path: Path) -> None:
    config = {
        "store": {"url": f"sqlite:///{tmp_path / 'q.db'}"},
        "run": {"transport": "misconfigured"},
    }
    plugins = load_plugins(entry_points=False, extra=[MisconfiguredTransport()])
    with pytest.raises(ConfigError) as caught:
        send_batch(
            [Message(sender="r@example.com", to="a@example.com")], config=config, plugins=plugins
        )
    assert str(caught.value) == "the relay certificate file is missing"
