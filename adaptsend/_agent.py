"""The agent: one configuration, its plugins and its store, ready to queue and send.

The CLI and the embedding API both go through this, so they behave alike.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import sqlalchemy
import trio

from adaptsend._alert_engine import AlertEngine
from adaptsend._alert_setup import build_sinks
from adaptsend._classifier import Classifier
from adaptsend._config import Config
from adaptsend._decide import Judge
from adaptsend._dispatcher import Dispatcher
from adaptsend._errors import ConfigError, StoreError
from adaptsend._models import Envelope, Outcome, Reply
from adaptsend._oauth import TokenCache, xoauth2_response
from adaptsend._oauth_transport import TokenSettings, TokenUser, token_cache
from adaptsend._plugins import Plugins, load_plugins
from adaptsend._redact import Redactor, protect_logs, unprotect_logs
from adaptsend._report import RunReport
from adaptsend._smtp import SMTPTransport
from adaptsend._store_api import Store
from adaptsend._store_thread import StoreThread
from adaptsend._transport import Transport

#: Threads for blocking transport calls beyond the connection cap: closes that
#: overlap with new connections must not wait behind them.
_SPARE_THREADS = 4
#: Threads for the transport that alert mail uses, apart from the queue's.
_ALERT_THREADS = 2


class Agent:
    """Owns the store for its lifetime; use as a context manager or call :meth:`close`."""

    def __init__(
        self, config: Config, *, plugins: Plugins | None = None, existing_store: bool = False
    ) -> None:
        """``existing_store`` refuses to create a new SQLite file: a command that
        only reads the queue, run in the wrong directory, should say so rather
        than report an empty queue."""
        self.config = config
        self.plugins = plugins or load_plugins()
        #: The configured secrets (adaptsend's own and the plugins'): hidden in
        #: every reply before it is stored, and in every log line while open.
        self.redactor = Redactor.for_config(config, self.plugins.secrets(config))
        protect_logs(self.redactor)
        try:
            self.classifier = _classifier(config)
            #: Access tokens for ``[smtp] auth = "xoauth2"``, shared by every
            #: transport of this agent; None for a password.
            self.tokens = _token_cache(config, self.plugins, self.redactor)
            if existing_store:
                _check_sqlite_file_exists(config.store.url)
            self.store: Store = self.plugins.store_factory(config.store.url)(config.store.url)
        except BaseException:
            unprotect_logs(self.redactor)
            raise
        # One door to the store for the dispatcher and the alert engine: a
        # store is used from one thread at a time.
        self._store_thread = StoreThread(self.store)
        self._transport: Transport | None = None
        self._threads = trio.CapacityLimiter(config.limiter.max_cap + _SPARE_THREADS)
        self._alerts: AlertEngine | None = None
        self._table_tokens: dict[str, TokenCache] = {}

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.store.close()
        finally:
            unprotect_logs(self.redactor)

    @property
    def transport(self) -> Transport:
        """The configured transport, made on first use (inside trio)."""
        if self._transport is None:
            self._transport = self._new_transport(self._threads)
        return self._transport

    def open_transport(self) -> Transport:
        """Another transport of the configured kind, with threads of its own:
        what alert mail goes through, outside the dispatcher's limiter."""
        return self._new_transport(trio.CapacityLimiter(_ALERT_THREADS))

    def _new_transport(self, threads: trio.CapacityLimiter) -> Transport:
        factory = self.plugins.transport_factory(self.config.run.transport)
        transport = factory(self.config, threads)
        if self.tokens is not None and isinstance(transport, SMTPTransport):
            transport.use_tokens(self.tokens)
        elif isinstance(transport, TokenUser):
            transport.use_tokens(self._tokens_for(transport.token_settings))
        return transport

    def _tokens_for(self, settings: TokenSettings) -> TokenCache:
        """The token cache of a transport's own OAuth table, one per table:
        the queue's transport and the alert mail's share their tokens."""
        if settings.table not in self._table_tokens:
            self._table_tokens[settings.table] = token_cache(
                settings, config=self.config, plugins=self.plugins, on_token=self.redactor.add
            )
        return self._table_tokens[settings.table]

    @property
    def sending_key(self) -> str:
        return self.transport.sending_key

    @property
    def alerts(self) -> AlertEngine:
        """The alert rules and sinks, made on first use; raises ConfigError
        when a sink cannot be made from its settings."""
        if self._alerts is None:
            sinks = build_sinks(self.config, self.plugins, self.open_transport)
            self._alerts = AlertEngine(
                self.config.alerts,
                sinks=sinks,
                store=self._store_thread,
                on_alert=self.plugins.alert,
            )
        return self._alerts

    @contextlib.asynccontextmanager
    async def alerting(self) -> AsyncIterator[AlertEngine]:
        """Watch the runs inside with the alert rules; on the way out, wait
        (up to ``[alerts] drain_s``) for alerts still being delivered."""
        engine = self.alerts
        async with engine.running(self.sending_key):
            yield engine

    def stranded(self) -> dict[str, int]:
        """Unsent messages per sending key other than this agent's own."""
        own = self.sending_key
        return {k: n for k, n in self.store.unsent_by_key().items() if k != own}

    def enqueue(self, envelopes: Iterable[Envelope]) -> list[int]:
        """Queue messages durably before any attempt; returns their ids."""
        return self.store.enqueue(envelopes, sending_key=self.sending_key)

    def dispatcher(self, *, follow: bool = False, rng: random.Random | None = None) -> Dispatcher:
        """A dispatcher for one run over this agent's store and transport.
        Its outcomes reach the alert rules while :meth:`alerting` is open."""
        judge = Judge(
            classify=self.classify,
            retry=self.config.retry,
            min_cap=self.config.limiter.min_cap,
            rng=rng or random.Random(),
            redactor=self.redactor,
            quota_pause_s=self.config.limiter.quota_pause_s,
        )
        return Dispatcher(
            store=self._store_thread,
            transport=self.transport,
            judge=judge,
            config=self.config,
            plugins=self.plugins.with_observer(self.alerts),
            follow=follow,
        )

    def classify(self, reply: Reply) -> Outcome:
        return self.classifier.classify(reply).outcome

    async def run(self, *, follow: bool = False) -> RunReport:
        """Send everything due, as ``adaptsend run`` does, with alerting."""
        async with self.alerting():
            return await self.dispatcher(follow=follow).run()


def _classifier(config: Config) -> Classifier:
    patterns = config.classifier
    try:
        return Classifier.from_patterns(
            throttle=patterns.throttle,
            transient=patterns.transient,
            permanent=patterns.permanent,
            fatal=patterns.fatal,
        )
    except ValueError as exc:
        raise ConfigError(f"[classifier]: {exc}") from None


def _token_cache(config: Config, plugins: Plugins, redactor: Redactor) -> TokenCache | None:
    """The token cache for ``[smtp] auth = "xoauth2"``; its provider is made
    now, so that bad ``[smtp.oauth]`` settings stop the agent at start."""
    smtp = config.smtp
    if smtp.auth != "xoauth2" or not smtp.username:
        return None
    provider = plugins.token_provider_factory(smtp.oauth.provider)(config)
    username = smtp.username

    def learn(token: str) -> None:
        # Before the token is used: a server that echoes it, or the SASL
        # string it came in, is cleaned like any other secret.
        redactor.add(token)
        redactor.add(xoauth2_response(username, token))

    return TokenCache(provider, on_token=learn)


def _check_sqlite_file_exists(url: str) -> None:
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        return  # the store itself reports a malformed URL
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return
    if not Path(path).exists():
        raise StoreError(
            f"there is no store at {path} (nothing has been queued there yet); "
            "check [store] url or the working directory"
        )
