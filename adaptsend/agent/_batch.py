"""The embedding API: send a batch from a Python program and get a report back.

``send_batch`` is for plain batch scripts; ``send_batch_async`` for trio
programs. Both queue the messages durably first, then drain the queue the way
``adaptsend run`` does (other messages already due are sent too), and report
on each message of the batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import trio

from adaptsend._errors import MessageError
from adaptsend._models import FINAL_STATUSES, Envelope, Message, Reply, Status
from adaptsend.agent._agent import Agent
from adaptsend.config._settings import Config, config_from_dict, load_config
from adaptsend.engine._groups import plain_error
from adaptsend.engine._report import RunReport
from adaptsend.plugins._manager import Plugins
from adaptsend.sources._compose import compose
from adaptsend.sources._validate import check_envelope

ConfigLike = Config | Mapping[str, Any] | str | os.PathLike[str] | None


@attrs.frozen(kw_only=True)
class MessageResult:
    """Where one message of the batch ended up."""

    message_id: str
    status: Status
    attempts: int
    throttles: int
    last_reply: Reply | None


@attrs.frozen(kw_only=True)
class RejectedMessage:
    """A message of the batch that was not queued, and why."""

    index: int
    reason: str


@attrs.frozen(kw_only=True)
class BatchReport:
    """Per-message results (in the order given), rejected inputs, and the run."""

    results: tuple[MessageResult, ...]
    rejected: tuple[RejectedMessage, ...]
    run: RunReport

    def with_status(self, status: Status) -> list[MessageResult]:
        return [r for r in self.results if r.status is status]

    @property
    def deferred(self) -> list[MessageResult]:
        """Messages of the batch still waiting to be sent (queued or to be
        retried): when ``run.deferred`` is set, because the server could not
        be reached. The next run, or ``adaptsend run``, sends them."""
        return [r for r in self.results if r.status not in FINAL_STATUSES]

    @property
    def ok(self) -> bool:
        """True when every message of the batch was sent."""
        return not self.rejected and all(r.status is Status.SENT for r in self.results)


def send_batch(
    messages: Iterable[Message | Envelope],
    *,
    config: ConfigLike = None,
    plugins: Plugins | None = None,
) -> BatchReport:
    """Queue ``messages``, send until each is sent, failed or dead, and report.

    ``config`` is a :class:`Config`, a mapping shaped like ``adaptsend.toml``, a
    path to a TOML file, or None for ``./adaptsend.toml`` and the environment.
    A fatal reply (bad credentials) stops the run: the report's ``run.fatal``
    says why and the messages stay queued for the next run.
    """
    try:
        return trio.run(lambda: send_batch_async(messages, config=config, plugins=plugins))
    except BaseExceptionGroup as group:
        error = plain_error(group)
        if error is None:
            raise
        raise error from None


async def send_batch_async(
    messages: Iterable[Message | Envelope],
    *,
    config: ConfigLike = None,
    plugins: Plugins | None = None,
) -> BatchReport:
    """:func:`send_batch` for a program already running trio."""
    envelopes, rejected = _compose_all(messages)
    with Agent(_config(config), plugins=plugins) as agent:
        ids = await trio.to_thread.run_sync(agent.enqueue, envelopes)
        run = await agent.run()
        states = await trio.to_thread.run_sync(agent.store.states, ids)
    results = tuple(
        MessageResult(
            message_id=s.message_id,
            status=s.status,
            attempts=s.attempts,
            throttles=s.throttles,
            last_reply=s.last_reply,
        )
        for s in states
    )
    return BatchReport(results=results, rejected=tuple(rejected), run=run)


def _compose_all(
    messages: Iterable[Message | Envelope],
) -> tuple[list[Envelope], list[RejectedMessage]]:
    envelopes: list[Envelope] = []
    rejected: list[RejectedMessage] = []
    for index, message in enumerate(messages):
        try:
            envelopes.append(_checked(message))
        except MessageError as exc:
            rejected.append(RejectedMessage(index=index, reason=str(exc)))
    return envelopes, rejected


def _checked(message: Message | Envelope) -> Envelope:
    """What goes into the queue for one item of the batch: a Message composed,
    an Envelope checked as a composed one would be (``adaptsend.sources._validate``)."""
    if isinstance(message, Envelope):
        return check_envelope(message)
    return compose(message)


def _config(config: ConfigLike) -> Config:
    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        return config_from_dict(config)
    return load_config(config)
