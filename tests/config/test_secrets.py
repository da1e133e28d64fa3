"""The redactor: which forms of a secret it hides, that it costs nothing
without secrets, the log filter, the secrets hook, and the replies that reach
a person through the embedding API (an outage's, a fatal one)."""

from __future__ import annotations

import base64
import logging
import urllib.parse
from collections.abc import Iterable

import pytest

from adaptsend import Config, Message, config_from_dict, hookimpl, send_batch_async
from adaptsend._models import Reply, Stage
from adaptsend.agent._agent import Agent
from adaptsend.config._redact import LOG_FILTER, REDACTED, Redactor, protect_logs, unprotect_logs
from adaptsend.plugins._manager import load_plugins
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows

SECRET = "Pl4nted/Secret+Value"
USER = "reports@example.com"


def redactor_for(**smtp: str) -> Redactor:
    return Redactor.for_config(config_from_dict({"smtp": smtp}))


def test_the_password_is_hidden_raw_url_quoted_and_as_auth_sends_it() -> None:
    redactor = redactor_for(username=USER, password=SECRET)
    plain = base64.b64encode(f"\0{USER}\0{SECRET}".encode()).decode()
    login = base64.b64encode(SECRET.encode()).decode()
    text = " ".join(
        [SECRET, urllib.parse.quote(SECRET, safe=""), urllib.parse.quote_plus(SECRET), plain, login]
    )

    assert redactor.text(f"535 {text} end") == "535 " + " ".join([REDACTED] * 5) + " end"
    # An echo of AUTH PLAIN cut before its padding is still hidden.
    assert redactor.text(plain.rstrip("=")[: -0 or None]) == REDACTED


def test_the_store_urls_password_is_hidden() -> None:
    config = config_from_dict({"store": {"url": "postgresql://u:db-Pa55word@db.example.com/q"}})
    redactor = Redactor.for_config(config)

    assert redactor.text("FATAL: password db-Pa55word rejected") == (
        f"FATAL: password {REDACTED} rejected"
    )


def test_without_secrets_a_reply_comes_back_as_it_is() -> None:
    redactor = Redactor.for_config(Config())
    reply = Reply(code=250, text="2.0.0 OK queued", stage=Stage.DATA)

    assert not redactor
    assert redactor.reply(reply) is reply
    assert redactor.text("anything") == "anything"


def test_a_reply_without_a_secret_is_the_same_object() -> None:
    redactor = redactor_for(username=USER, password=SECRET)
    reply = Reply(code=250, text="2.0.0 OK queued", stage=Stage.DATA)
    echoed = Reply(code=535, enhanced="5.7.8", text=f"bad {SECRET}", stage=Stage.AUTH)

    assert redactor.reply(reply) is reply
    assert redactor.reply(echoed) == Reply(
        code=535, enhanced="5.7.8", text=f"bad {REDACTED}", stage=Stage.AUTH
    )


def test_a_very_short_secret_is_hidden_only_in_its_encoded_forms() -> None:
    redactor = redactor_for(username=USER, password="pw1")
    plain = base64.b64encode(f"\0{USER}\0pw1".encode()).decode()

    assert redactor.text(f"pw1 is not hidden, {plain} is") == f"pw1 is not hidden, {REDACTED} is"


def test_a_longer_secret_that_holds_a_shorter_one_is_replaced_whole() -> None:
    redactor = Redactor.of(["abcd", "abcdefgh"])

    assert redactor.text("xabcdefghx abcd") == f"x{REDACTED}x {REDACTED}"


def test_the_log_filter_hides_secrets_in_messages_and_tracebacks_while_protected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("adaptsend.test_secrets")
    redactor = Redactor.of([SECRET])
    protect_logs(redactor)
    try:
        log.warning("server said %s", SECRET)
        try:
            raise RuntimeError(f"cannot use {SECRET}")
        except RuntimeError:
            log.exception("failed")
        logging.getLogger("some.library").warning("url http://x/%s", SECRET)
    finally:
        unprotect_logs(redactor)
    log.warning("after: %s", SECRET)

    assert caplog.messages[:3] == ["server said [redacted]", "failed", "url http://x/[redacted]"]
    assert f"RuntimeError: cannot use {REDACTED}" in caplog.text
    assert SECRET not in caplog.text.rpartition("after:")[0]
    # Once no agent uses it, the secret is no longer anyone's to hide.
    assert caplog.messages[3] == f"after: {SECRET}"
    assert LOG_FILTER in logging.getLogger("adaptsend").filters


class NamesASecret:
    @hookimpl
    def adaptsend_secrets(self, config: Config) -> Iterable[str]:
        return [config.plugin["pager"]["token"]]


class FailsToName:
    @hookimpl
    def adaptsend_secrets(self) -> Iterable[str]:
        raise RuntimeError("broken")


def test_plugins_name_their_secrets_and_a_broken_one_is_named_in_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = config_from_dict(
        {"store": {"url": "sqlite://"}, "plugin": {"pager": {"token": "pager-T0ken-value"}}}
    )
    plugins = load_plugins(entry_points=False, extra=[NamesASecret(), FailsToName()])
    with Agent(config, plugins=plugins) as agent:
        hidden = agent.redactor.text("token pager-T0ken-value")

    assert hidden == f"token {REDACTED}"
    assert "failed in adaptsend_secrets, so its secrets are not hidden: RuntimeError" in (
        caplog.text
    )


def one() -> Message:
    return Message(sender=USER, to=("t@example.com",), subject="s", text="t")


async def test_the_fatal_reply_of_a_run_is_redacted(make_config: MakeConfig, db_url: str) -> None:
    with ThrottlingSMTPServer(auth_reply=f"535 5.7.8 no {SECRET}") as server:
        config = make_config(server, smtp={"username": USER, "password": SECRET})
        report = await send_batch_async([one()], config=config)

    assert report.run.fatal is not None
    assert report.run.fatal.text == f"no {REDACTED}"
    assert rows(db_url, "SELECT reply_text FROM attempts") == [(f"no {REDACTED}",)]


async def test_an_outages_reply_is_redacted(make_config: MakeConfig) -> None:
    refusal = f"421 4.3.0 busy, {SECRET}"
    with ThrottlingSMTPServer(refuse_greetings=True, greeting_refusal=refusal) as server:
        config = make_config(
            server, smtp={"username": USER, "password": SECRET}, run={"outage_wait_s": 0.2}
        )
        report = await send_batch_async([one()], config=config)

    assert report.run.deferred_by is not None
    assert report.run.deferred_by.text == f"busy, {REDACTED}"
