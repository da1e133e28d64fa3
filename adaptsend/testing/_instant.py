"""A transport that accepts every message at once, in process, for tests and
benchmarks that measure adaptsend itself rather than a server."""

from __future__ import annotations

import collections
from collections.abc import Callable

import trio

from adaptsend._models import Envelope, Reply, Stage
from adaptsend.config._settings import Config
from adaptsend.hookspecs import TransportFactory, hookimpl
from adaptsend.transports._contract import SendResult

_ACCEPTED = Reply(code=250, enhanced="2.0.0", text="OK", stage=Stage.DATA)


class InstantTransport:
    """Counts deliveries per Message-ID; every send succeeds without I/O."""

    sending_key = "instant@in-process"

    def __init__(self) -> None:
        self.deliveries: collections.Counter[str] = collections.Counter()
        self.connections = 0

    async def connect(self) -> InstantConnection:
        self.connections += 1
        return InstantConnection(self)


class InstantConnection:
    def __init__(self, transport: InstantTransport) -> None:
        self._transport = transport

    async def send(self, envelope: Envelope) -> SendResult:
        self._transport.deliveries[envelope.message_id] += 1
        # A checkpoint, as a real send has, so other tasks get to run.
        await trio.lowlevel.checkpoint()
        return SendResult(reply=_ACCEPTED)

    async def close(self) -> None:
        await trio.lowlevel.checkpoint()


class InstantTransportPlugin:
    """Registers one shared :class:`InstantTransport` as the ``instant`` transport::

    plugin = InstantTransportPlugin()
    agent = Agent(config, plugins=load_plugins(extra=[plugin]))  # [run] transport = "instant"
    ...
    assert plugin.transport.deliveries[...] == 1
    """

    def __init__(self) -> None:
        self.transport = InstantTransport()

    def _factory(self, _config: Config, _threads: trio.CapacityLimiter) -> InstantTransport:
        return self.transport

    @hookimpl
    def adaptsend_register_transports(
        self, register: Callable[[str, TransportFactory], None]
    ) -> None:
        register("instant", self._factory)
