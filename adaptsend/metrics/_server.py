"""Keeping an agent's metrics while a run lasts: the queue's depth sampled
from the store, and ``/metrics`` served over HTTP when ``[metrics] port`` is set.

The server is ``prometheus_client``'s WSGI application on the standard
library's threading WSGI server, in a thread of its own: a scrape never waits
for trio, and trio never waits for a scrape. (``start_http_server`` would do
the same, but its server looks for a stop only twice a second, and every
run, a batch of a few messages too, would end that much later.)
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import AsyncIterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import attrs
import trio
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from adaptsend._errors import ConfigError
from adaptsend.config._metrics import MetricsConfig
from adaptsend.metrics._registry import AgentMetrics
from adaptsend.store._thread import StoreThread

log = logging.getLogger("adaptsend.metrics")

#: How often the server's thread looks whether it should stop: the most a
#: run's end waits for it.
_POLL_S = 0.02


@attrs.frozen(kw_only=True)
class MetricsEndpoint:
    """Where ``/metrics`` is served: the port is the one bound (``[metrics]
    port = 0`` takes any free one)."""

    address: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/metrics"


@contextlib.asynccontextmanager
async def keeping_metrics(
    metrics: AgentMetrics, settings: MetricsConfig, store: StoreThread
) -> AsyncIterator[MetricsEndpoint | None]:
    """Sample the queue's depth into ``metrics`` until the block ends, and
    serve them meanwhile if ``settings.port`` is set (yields where, or None).
    Raises ConfigError with one sentence when the port cannot be had."""
    server, endpoint = None, None
    if settings.port is not None:
        address = settings.address
        server = await trio.to_thread.run_sync(_serve, metrics.registry, address, settings.port)
        endpoint = MetricsEndpoint(address=address, port=server.server_port)
        log.info("serving metrics at %s", endpoint.url)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_sample_queue, metrics, store, settings.queue_interval_s)
            try:
                yield endpoint
            finally:
                nursery.cancel_scope.cancel()
    finally:
        if server is not None:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(_stop, server)


def _serve(registry: CollectorRegistry, address: str, port: int) -> WSGIServer:
    try:
        family = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)[0][0]

        class Server(ThreadingWSGIServer):
            address_family = family

        server = make_server(
            address, port, make_wsgi_app(registry), Server, handler_class=_QuietHandler
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot serve metrics on {address} port {port}: {reason}") from None
    # A daemon: a program that ends without closing the agent is not held up.
    serving = threading.Thread(
        target=server.serve_forever, args=(_POLL_S,), name="adaptsend-metrics", daemon=True
    )
    serving.start()
    return server


class _QuietHandler(WSGIRequestHandler):
    """Scrapes are routine: nothing to log."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _stop(server: WSGIServer) -> None:
    server.shutdown()
    server.server_close()


async def _sample_queue(metrics: AgentMetrics, store: StoreThread, interval_s: float) -> None:
    while True:
        try:
            counts = await store.call(store.store.counts)
        except Exception as exc:  # a failed sample must not stop the sending
            log.warning("could not count the queue for the metrics: %s", exc)
        else:
            metrics.queue_counted(counts)
        await trio.sleep(interval_s)
