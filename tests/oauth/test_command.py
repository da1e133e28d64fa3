"""XOAUTH2 with tokens from a command, end to end through a real SMTP server:
the token used, a stale token replaced once, a refused one fatal, and no
token in any reply a person sees."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from adaptsend import Config, Message, hookimpl, send_batch_async
from adaptsend._errors import ConfigError
from adaptsend.agent._batch import BatchReport
from adaptsend.cli._common import exit_code
from adaptsend.config._redact import REDACTED
from adaptsend.oauth._command import CommandTokenProvider
from adaptsend.oauth._tokens import TokenError
from adaptsend.plugins._manager import load_plugins
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows

USER = "sender@example.com"
FIRST = "tok-first-0123456789"
SECOND = "tok-second-9876543210"

SCRIPT = """
import json, pathlib, sys
state = pathlib.Path(sys.argv[1])
with (state / "calls").open("a") as calls:
    calls.write(".")
mode = (state / "mode").read_text()
token = (state / "token").read_text()
if mode == "fail":
    sys.stderr.write("broker down\\nsecond line\\n")
    sys.exit(2)
print(token if mode == "plain" else json.dumps({"access_token": token, "expires_in": 3600}))
"""


@attrs.define
class Broker:
    """A token broker: a real program, told by files what to print."""

    state: Path

    @property
    def argv(self) -> list[str]:
        return [sys.executable, str(self.state / "broker.py"), str(self.state)]

    def gives(self, token: str, mode: str = "json") -> None:
        (self.state / "token").write_text(token)
        (self.state / "mode").write_text(mode)

    @property
    def calls(self) -> int:
        path = self.state / "calls"
        return len(path.read_text()) if path.exists() else 0


@pytest.fixture
def broker(tmp_path: Path) -> Broker:
    (tmp_path / "broker.py").write_text(SCRIPT)
    made = Broker(tmp_path)
    made.gives(FIRST)
    return made


def oauth_config(make_config: MakeConfig, server: ThrottlingSMTPServer, broker: Broker) -> Config:
    return make_config(
        server,
        smtp={
            "username": USER,
            "auth": "xoauth2",
            "oauth": {"provider": "command", "command": broker.argv},
        },
        limiter={"initial_cap": 1, "max_cap": 1},
    )


def messages(count: int) -> list[Message]:
    return [
        Message(sender=USER, to=(f"to{n}@example.com",), subject="s", text="t")
        for n in range(count)
    ]


class Rotate:
    """After the first message is recorded, the server takes only a new token
    (and, unless ``stuck``, the broker gives it)."""

    def __init__(self, server: ThrottlingSMTPServer, broker: Broker, *, stuck: bool) -> None:
        self.server, self.broker, self.stuck, self.done = server, broker, stuck, False

    @hookimpl
    def adaptsend_decision_recorded(self, decision: Any, sending_key: str) -> None:
        if not self.done:
            self.done = True
            self.server.set_xoauth2_token(USER, SECOND)
            if not self.stuck:
                self.broker.gives(SECOND)


async def run_rotating(
    make_config: MakeConfig, broker: Broker, *, stuck: bool
) -> tuple[BatchReport, ThrottlingSMTPServer]:
    # Each connection takes one message, then its next command is refused:
    # every later message needs a new connection, and a new login.
    with ThrottlingSMTPServer(
        xoauth2_tokens={USER: FIRST}, hang_up_after=1, hang_up_reply="421 4.3.2 Closing"
    ) as server:
        plugins = load_plugins(
            entry_points=False, extra=[Rotate(server, broker, stuck=stuck)], environ={}
        )
        config = oauth_config(make_config, server, broker)
        report = await send_batch_async(messages(5), config=config, plugins=plugins)
    return report, server


def refused(server: ThrottlingSMTPServer) -> list[tuple[str, str, bool]]:
    return [login for login in server.xoauth2_logins if not login[2]]


async def test_the_commands_token_logs_in_and_the_mail_is_delivered(
    make_config: MakeConfig, broker: Broker
) -> None:
    with ThrottlingSMTPServer(xoauth2_tokens={USER: FIRST}) as server:
        report = await send_batch_async(
            messages(3), config=oauth_config(make_config, server, broker)
        )

    assert exit_code(report.run) == 0
    assert server.delivered == 3
    assert server.xoauth2_logins == [(USER, FIRST, True)]
    assert broker.calls == 1  # one connection, one token (it lives an hour)


async def test_a_stale_token_is_replaced_once_and_the_run_goes_on(
    make_config: MakeConfig, broker: Broker
) -> None:
    report, server = await run_rotating(make_config, broker, stuck=False)

    assert exit_code(report.run) == 0
    assert server.delivered == 5
    # Connections opened before the rotation logged in with the first token;
    # the first one after it was refused once, and every later one took the new.
    logins = server.xoauth2_logins
    at = logins.index((USER, FIRST, False))
    assert set(logins[:at]) == {(USER, FIRST, True)}
    assert set(logins[at + 1 :]) == {(USER, SECOND, True)}
    assert broker.calls == 2


async def test_a_token_refused_again_after_a_fresh_one_is_fatal(
    make_config: MakeConfig, broker: Broker, db_url: str
) -> None:
    report, server = await run_rotating(make_config, broker, stuck=True)

    assert exit_code(report.run) == 3
    assert report.run.fatal is not None
    assert (report.run.fatal.code, report.run.fatal.text) == (
        535,
        "Authentication unsuccessful",
    )
    logins = server.xoauth2_logins
    assert logins[-2:] == [(USER, FIRST, False), (USER, FIRST, False)]
    assert refused(server) == logins[-2:]
    assert broker.calls == 2
    # What was delivered is recorded as sent; the rest stays queued.
    sent = rows(db_url, "SELECT count(*) FROM messages WHERE status = 'sent'")
    assert sent == [(server.delivered,)]
    assert 1 <= server.delivered < 5


async def test_a_refusal_at_the_first_login_is_fatal_without_a_second_token(
    make_config: MakeConfig, broker: Broker
) -> None:
    with ThrottlingSMTPServer(xoauth2_tokens={USER: SECOND}) as server:
        report = await send_batch_async(
            messages(1), config=oauth_config(make_config, server, broker)
        )

    assert exit_code(report.run) == 3
    assert server.xoauth2_logins == [(USER, FIRST, False)]
    assert broker.calls == 1


async def test_a_server_that_echoes_the_token_is_cleaned(
    make_config: MakeConfig, broker: Broker, db_url: str
) -> None:
    sasl = base64.b64encode(f"user={USER}\x01auth=Bearer {FIRST}\x01\x01".encode()).decode()
    echo = f"535 5.7.3 refused {FIRST} in {sasl}"
    with ThrottlingSMTPServer(xoauth2_tokens={USER: FIRST}, auth_reply=echo) as server:
        report = await send_batch_async(
            messages(1), config=oauth_config(make_config, server, broker)
        )

    assert report.run.fatal is not None
    cleaned = f"refused {REDACTED} in {REDACTED}"
    assert report.run.fatal.text == cleaned
    assert rows(db_url, "SELECT reply_text FROM attempts") == [(cleaned,)]


async def test_a_failing_command_stops_the_run_in_one_sentence(
    make_config: MakeConfig, broker: Broker
) -> None:
    broker.gives(FIRST, mode="fail")
    with ThrottlingSMTPServer(xoauth2_tokens={USER: FIRST}) as server:
        report = await send_batch_async(
            messages(1), config=oauth_config(make_config, server, broker)
        )

    assert exit_code(report.run) == 3
    assert report.run.fatal is not None
    assert report.run.fatal.text == (
        f"the token command {sys.executable} failed with exit code 2: broker down"
    )
    assert server.xoauth2_logins == []


def test_a_token_printed_alone_is_asked_for_again_each_time(broker: Broker) -> None:
    broker.gives(FIRST, mode="plain")
    token = CommandTokenProvider(broker.argv, timeout_s=10).fetch()
    assert (token.value, token.expires_in_s) == (FIRST, None)


@pytest.mark.parametrize(
    ("printed", "sentence"),
    [
        ("", "printed nothing"),
        ("two words", "printed more than a token"),
        ('{"expires_in": 5}', "printed JSON without an access_token string"),
        ('{"access_token": "t", "expires_in": "soon"}', "an expires_in that is not a number"),
    ],
)
def test_output_that_is_not_a_token_is_one_sentence_without_it(
    broker: Broker, printed: str, sentence: str
) -> None:
    broker.gives(printed, mode="plain")
    with pytest.raises(TokenError, match=sentence) as caught:
        CommandTokenProvider(broker.argv, timeout_s=10).fetch()
    assert "two words" not in str(caught.value)


def test_a_command_that_cannot_start_is_named() -> None:
    with pytest.raises(TokenError, match="the token command /nonexistent/broker could not be"):
        CommandTokenProvider(["/nonexistent/broker"], timeout_s=10).fetch()


def test_no_command_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match='provider = "command" needs command'):
        CommandTokenProvider([], timeout_s=10)
