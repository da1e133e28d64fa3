"""The agent: one configuration, its plugins and its store, ready to queue and send.

The CLI and the embedding API both go through this, so they behave alike.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import trio

from adaptsend._errors import StoreError
from adaptsend._models import Envelope, Outcome, Reply
from adaptsend.alerts._engine import AlertEngine
from adaptsend.alerts._model import Alert
from adaptsend.alerts._setup import build_sinks
from adaptsend.classify._site import site_classifier
from adaptsend.config._redact import Redactor, protect_logs, unprotect_logs
from adaptsend.config._settings import Config
from adaptsend.config._store_url import parse_url, scheme
from adaptsend.engine._dispatcher import Dispatcher, new_owner
from adaptsend.engine._judge import Judge, reply_classifier
from adaptsend.engine._report import RunReport
from adaptsend.limits._key_limits import KeyLimits, make_key_limits
from adaptsend.metrics._registry import AgentMetrics
from adaptsend.metrics._server import MetricsEndpoint, keeping_metrics
from adaptsend.oauth._tokens import TokenCache, xoauth2_response
from adaptsend.oauth._transport_tokens import TokenSettings, TokenUser, token_cache
from adaptsend.plugins._manager import Plugins, load_plugins
from adaptsend.store._api import Store
from adaptsend.store._thread import StoreThread
from adaptsend.transports._contract import HoldsResources, Transport, UsesTokens

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
            #: The reply classifier with the site's ``[classifier]`` patterns:
            #: made now, so that a bad pattern stops the agent at start. The
            #: SMTP transport makes its own from them; this one judges the
            #: replies of a transport that does not judge its own.
            self.classifier = site_classifier(config.classifier)
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
        #: Every transport made, closed with the agent when it holds resources.
        self._transports: list[Transport] = []
        self._threads = trio.CapacityLimiter(config.limiter.max_cap + _SPARE_THREADS)
        self._alerts: AlertEngine | None = None
        self._metrics = AgentMetrics() if config.metrics.port is not None else None
        #: Where ``/metrics`` is served, while :meth:`keeping_metrics` serves it.
        self.metrics_endpoint: MetricsEndpoint | None = None
        self._table_tokens: dict[str, TokenCache] = {}

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._release_transports()
            self.store.close()
        finally:
            unprotect_logs(self.redactor)

    def _release_transports(self) -> None:
        transports, self._transports = self._transports, []
        for transport in transports:
            if isinstance(transport, HoldsResources):
                transport.release()

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
        if isinstance(transport, TokenUser):
            transport.use_tokens(self._tokens_for(transport.token_settings))
        elif self.tokens is not None and isinstance(transport, UsesTokens):
            transport.use_tokens(self.tokens)
        self._transports.append(transport)
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
                on_alert=self._alerted,
            )
        return self._alerts

    def _alerted(self, alert: Alert) -> None:
        self.plugins.alert(alert)
        if self._metrics is not None:
            self._metrics.alert(alert)

    @property
    def metrics(self) -> AgentMetrics:
        """This agent's Prometheus metrics, in a registry of their own. Made
        at once when ``[metrics] port`` is set, otherwise on first use: from
        then on every dispatcher this agent makes reports to them."""
        if self._metrics is None:
            self._metrics = AgentMetrics()
        return self._metrics

    @contextlib.asynccontextmanager
    async def keeping_metrics(self) -> AsyncIterator[None]:
        """While the block runs, if this agent has metrics: sample the queue's
        depth for them, and serve ``/metrics`` when ``[metrics] port`` is set
        (see :attr:`metrics_endpoint`). Raises ConfigError with one sentence
        when the port cannot be had."""
        if self._metrics is None:
            yield
            return
        async with keeping_metrics(self._metrics, self.config.metrics, self._store_thread) as at:
            self.metrics_endpoint = at
            try:
                yield
            finally:
                self.metrics_endpoint = None

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

    def dispatcher(
        self,
        *,
        follow: bool = False,
        rng: random.Random | None = None,
        limits: KeyLimits | None = None,
    ) -> Dispatcher:
        """A dispatcher for one run over this agent's store and transport.
        Its outcomes reach the alert rules while :meth:`alerting` is open.
        ``limits`` are the sending key's limits for the run (see
        :meth:`limits`); by default those of the configuration."""
        judge = Judge(
            classify=reply_classifier(self.transport, default=self.classifier.classify),
            retry=self.config.retry,
            min_cap=self.config.limiter.min_cap,
            rng=rng or random.Random(),
            redactor=self.redactor,
            quota_pause_s=self.config.limiter.quota_pause_s,
        )
        plugins = self.plugins.with_observer(self.alerts)
        if self._metrics is not None:
            plugins = plugins.with_observer(self._metrics)
        dispatcher = Dispatcher(
            store=self._store_thread,
            transport=self.transport,
            judge=judge,
            config=self.config,
            plugins=plugins,
            follow=follow,
            limits=limits or self.limits(),
        )
        if self._metrics is not None:
            self._metrics.watch(dispatcher)
        return dispatcher

    def limits(self) -> KeyLimits:
        """The limits of this agent's sending key for one run, as the
        configuration asks for them, under a new lease owner name. A caller
        may replace parts (``attrs.evolve``) before handing them to
        :meth:`dispatcher`."""
        return make_key_limits(self.config, self._store_thread, self.sending_key, new_owner())

    def classify(self, reply: Reply) -> Outcome:
        """What ``reply`` means with this configuration's ``[classifier]``
        patterns, as the SMTP transport judges it."""
        return self.classifier.classify(reply).outcome

    async def run(self, *, follow: bool = False) -> RunReport:
        """Send everything due, as ``adaptsend run`` does, with alerting and
        (when this agent has them) metrics."""
        async with self.alerting(), self.keeping_metrics():
            return await self.dispatcher(follow=follow).run()


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
    if scheme(url) != "sqlite":
        return
    try:
        path = parse_url(url).database
    except StoreError:
        return  # the store itself reports a malformed URL
    if not path or path == ":memory:":
        return
    if not Path(path).exists():
        raise StoreError(
            f"there is no store at {path} (nothing has been queued there yet); "
            "check [store] url or the working directory"
        )
