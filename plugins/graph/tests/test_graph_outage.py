"""Graph out of reach is an outage, as an SMTP server out of reach is: the
messages wait, charged nothing, one connection probes (a ``HEAD`` without a
token) until Graph answers again, and the plugins hear both changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import trio
from conftest import MakeConfig, Rows

from adaptsend import Message, Reply, hookimpl, send_batch_async
from adaptsend.plugins._manager import load_plugins
from adaptsend.testing import FakeGraphServer


class Reachability:
    def __init__(self) -> None:
        self.changes: list[tuple[bool, Reply | None]] = []
        self.changed = trio.Event()

    @hookimpl
    def adaptsend_reachability_changed(
        self, sending_key: str, unreachable_since: dt.datetime | None, reply: Reply | None
    ) -> None:
        self.changes.append((unreachable_since is not None, reply))
        self.changed.set()


async def test_messages_wait_uncharged_until_graph_answers_again(
    graph_config: MakeConfig, rows: Rows, reports: Callable[[int], list[Message]]
) -> None:
    graph = FakeGraphServer()
    graph.start()
    graph.stop()  # the port is known, and nothing listens on it
    watcher = Reachability()
    plugins = load_plugins(environ={}, extra=[watcher])
    config = graph_config(
        graph, run={"outage_wait_s": 60}, retry={"base_delay_s": 0.2, "max_delay_s": 0.4}
    )
    try:
        async with trio.open_nursery() as nursery:
            results = []

            async def send() -> None:
                results.append(await send_batch_async(reports(4), config=config, plugins=plugins))

            nursery.start_soon(send)
            await watcher.changed.wait()
            # A few probes fail before Graph comes back.
            await trio.sleep(1.0)
            graph.start()
    finally:
        graph.stop()

    [report] = results
    assert report.ok
    assert {r.attempts for r in report.results} == {1}
    assert rows("SELECT outcome, count(*) FROM attempts GROUP BY outcome") == [("sent", 4)]
    assert graph.deliveries == {m.message_id: 1 for m in reports(4)}
    [(down, reply), (up, none)] = watcher.changes
    assert (down, up, none) == (True, False, None)
    assert reply is not None and reply.code is None and reply.stage.value == "connect"
    assert reply.text.startswith("cannot reach 127.0.0.1")
