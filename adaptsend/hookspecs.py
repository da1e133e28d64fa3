"""The hooks adaptsend calls, and what a plugin may do in each.

This module is the reference for plugin authors (``docs/plugins/hooks.md``
repeats each signature, and a test keeps the two the same). A plugin is a
module or object with functions marked ``@adaptsend.hookimpl`` whose names
match the hooks below; a distribution makes it known through the
``adaptsend`` entry-point group::

    [project.entry-points.adaptsend]
    webhook = "adaptsend_webhook"

A hook implementation may accept any subset of a hook's arguments, by name, so
hooks gain arguments without breaking plugins written for fewer.

pluggy calls hooks synchronously. Registration hooks run once, in the main
thread, when the plugin manager is built: they hand factories to ``register``
and do no I/O. Observer hooks run in the dispatcher's trio thread and must not
block; a plugin that needs I/O there sends the event to its own task or thread.
Each plugin's observer is called on its own: if it raises, the error is logged
on ``adaptsend.plugins`` (with its traceback the first time, then at most once a
minute), the other plugins are still called, and sending goes on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import trio

    from adaptsend._models import AttemptRecord, Decision, Reply
    from adaptsend.alerts._model import Alert, AlertSink, SinkContext
    from adaptsend.config._settings import Config
    from adaptsend.limits._records import CapChange
    from adaptsend.oauth._tokens import TokenProvider
    from adaptsend.store._api import Store
    from adaptsend.transports._contract import Transport

PROJECT = "adaptsend"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: ``factory(url)`` opens a store for a SQLAlchemy-style URL.
StoreFactory = Callable[[str], "Store"]
#: ``factory(config, threads)`` makes a transport; blocking calls use ``threads``.
TransportFactory = Callable[["Config", "trio.CapacityLimiter"], "Transport"]
#: ``factory(context)`` makes an alert sink from its settings.
AlertSinkFactory = Callable[["SinkContext"], "AlertSink"]
#: ``factory(config)`` makes a token provider for ``[smtp] auth = "xoauth2"``.
TokenProviderFactory = Callable[["Config"], "TokenProvider"]


# -- registration ------------------------------------------------------------


@hookspec
def adaptsend_register_stores(register: Callable[[str, StoreFactory], None]) -> None:
    """Register log stores by URL scheme: ``register("sqlite", open_store)``.

    The scheme is the part of ``[store] url`` before ``://`` and before any
    ``+driver`` (``postgresql+psycopg`` is looked up as ``postgresql``). The
    factory is called once per agent, in the main thread, and may block; it
    raises ``StoreError`` with one sentence when the store cannot be opened.
    Called once, in the main thread, when the plugin manager is built.
    """


@hookspec
def adaptsend_register_transports(register: Callable[[str, TransportFactory], None]) -> None:
    """Register transports by name: ``register("maildir", make_transport)``.

    ``[run] transport`` picks one by name. The factory is called once per
    agent, in the trio thread, and raises ``ConfigError`` for settings it
    cannot use; the transport's async methods are awaited in the dispatcher's
    nursery and must run blocking work with
    ``trio.to_thread.run_sync(..., limiter=threads)``. A transport without
    SMTP replies gives its own verdict in ``SendResult.outcome``, and the
    server's ``Retry-After`` in ``retry_after_s`` (every connection of the
    key waits it out, in every agent that shares the cap); one with OAuth settings of its own is a
    :class:`~adaptsend.TokenUser`, handed its token cache by the agent.
    Called once, in the main thread, when the plugin manager is built.
    """


@hookspec
def adaptsend_register_alert_sinks(register: Callable[[str, AlertSinkFactory], None]) -> None:
    """Register alert sinks by name: ``register("log", LogSink)``.

    Rules name sinks in ``[[alerts.rules]] sinks``. The factory gets a
    :class:`~adaptsend.SinkContext` with the sink's settings (the
    ``[plugin.NAME]`` table) and raises ``ConfigError`` for settings it cannot
    use. A sink's ``deliver`` is called in a worker thread and may block; a
    failing sink is logged and never stops sending.
    Called once, in the main thread, when the plugin manager is built.
    """


@hookspec
def adaptsend_register_token_providers(
    register: Callable[[str, TokenProviderFactory], None],
) -> None:
    """Register OAuth 2.0 token providers by name: ``register("managed-identity",
    make_provider)``.

    ``[smtp.oauth] provider`` picks one by name when ``[smtp] auth =
    "xoauth2"``, and ``[plugin.NAME.oauth] provider`` for a transport with
    OAuth settings of its own (the factory then finds that table's settings
    in ``config.smtp.oauth``); ``msal`` and ``command`` are built in. The
    factory is called once per agent and table, in the main thread, with the
    whole configuration (a
    provider's own settings go in ``[plugin.NAME]``), and raises
    ``ConfigError`` for settings it cannot use; it does no I/O. The provider's
    ``fetch()`` returns a new ``AccessToken`` each time it is called (never one
    it kept: the agent keeps tokens and decides when to ask), is called in a
    worker thread, one call at a time, may block, and raises ``TokenError``
    with one sentence that holds no secret. Name the provider's secrets with
    :func:`adaptsend_secrets`; the tokens are hidden by the agent.
    Called once, in the main thread, when the plugin manager is built.
    """


@hookspec
def adaptsend_secrets(config: Config) -> Iterable[str]:
    """The secrets in this plugin's settings of ``config`` (a token, a URL
    that holds one, a password), to be hidden wherever adaptsend stores, logs
    or shows text: server replies, alert texts, log lines (every logger's)
    and what the command line prints. Each is also hidden URL-quoted and in
    base64; one shorter than 4 characters only in those forms.

    Called once per agent, in the main thread, after the plugin manager is
    built; settings that do not parse still name what they can (the plugin's
    own code reports them). A plugin whose implementation raises is named in
    a warning and its secrets are not hidden.
    """
    raise NotImplementedError  # a specification: plugins implement it


# -- observers ----------------------------------------------------------------


@hookspec
def adaptsend_attempt_recorded(attempt: AttemptRecord, sending_key: str) -> None:
    """An attempt of a message of ``sending_key`` was written to the store.
    ``attempt.rule`` names what decided its outcome (a classifier rule, a
    site pattern, or the transport's own verdict; see docs/replies.md).

    Called in the dispatcher's trio thread after each batch is committed, once
    per attempt, before :func:`adaptsend_decision_recorded` for its message.
    Must not block.
    """


@hookspec
def adaptsend_decision_recorded(decision: Decision, sending_key: str) -> None:
    """The store applied ``decision`` to a message of ``sending_key``: its new
    status (``sent``, ``retry``, ``failed``, ``dead``, or ``queued``/``retry``
    after a fatal reply that was not its fault) and the reply that decided it.

    Called in the dispatcher's trio thread after each batch is committed, once
    per attempted message. Must not block.
    """


@hookspec
def adaptsend_cap_changed(sending_key: str, change: CapChange) -> None:
    """The limiter for ``sending_key`` changed its connection cap.

    Called in the dispatcher's trio thread at the moment of the change. Must
    not block.
    """


@hookspec
def adaptsend_reachability_changed(
    sending_key: str, unreachable_since: dt.datetime | None, reply: Reply | None
) -> None:
    """The server of ``sending_key`` stopped or started answering.

    When it cannot be reached (a connection refused, a timeout before the
    greeting, a ``421`` at the greeting, a TLS handshake cut),
    ``unreachable_since`` is when the outage began (naive UTC, as in the store)
    and ``reply`` the failure; its messages wait, uncharged. When it answers
    again, both are None. Called once at each change, in the dispatcher's trio
    thread. Must not block.
    """


@hookspec
def adaptsend_alert(alert: Alert) -> None:
    """An alert was raised (or resolved), before the sinks deliver it.

    Called in the trio thread. Must not block.
    """
