"""Two agents sending one key's queue at once, over real SMTP on 127.0.0.1
into one SQLite file, against a hidden limit that falls and rises: with a
shared cap the report draws the key's one cap, whichever agent decided each
change, and with caps of their own a line for each agent."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import trio

from adaptsend import Agent
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.store import open_store
from adaptsend.store._cap_change_api import CapChangeRecord, LimitKind
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.command_line import cli_ok
from tests.helpers.messages import batch
from tests.helpers.recorded_run import wait_for
from tests.helpers.store_builders import LONG_AGO

COUNT = 300
#: The hidden limit, and the limit of the dip: enough for each agent's
#: smallest cap, so that agents with caps of their own still get through.
HIGH, LOW = 4, 2


async def _move_limit(server: ThrottlingSMTPServer) -> None:
    """Lower the hidden limit for a third of the messages, once both agents
    send, so that both have cuts and growth to decide."""
    await wait_for(lambda: server.delivered >= COUNT // 3)
    server.set_limit(LOW)
    await wait_for(lambda: server.delivered >= 2 * COUNT // 3)
    server.set_limit(HIGH)


async def send_with_two_agents(make_config: MakeConfig, *, shared: bool) -> tuple[str, set[str]]:
    """Send :data:`COUNT` messages through two agents against a hidden limit
    that falls for a while; returns the sending key and the agents'
    names."""
    with ThrottlingSMTPServer(limit=HIGH, latency_s=0.01) as server:
        limiter = {"initial_cap": 2, "probe_interval_s": 0.2, "shared": shared}
        config = make_config(server, limiter=limiter)
        plugins = load_plugins(entry_points=False)
        with Agent(config, plugins=plugins) as first, Agent(config, plugins=plugins) as second:
            first.enqueue(compose(m) for m in batch(COUNT))
            dispatchers = [first.dispatcher(), second.dispatcher()]
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_move_limit, server)
                for dispatcher in dispatchers:
                    nursery.start_soon(dispatcher.run)
    assert server.delivered == COUNT and server.rejections >= 1
    return f"anonymous@{server.host}:{server.port}", {d.owner for d in dispatchers}


def history_rows(db_url: str, kind: LimitKind) -> list[CapChangeRecord]:
    """The rows of the history of ``kind`` of limit, oldest first."""
    store = open_store(db_url)
    try:
        return [row for row in store.cap_changes(since=LONG_AGO) if row.kind is kind]
    finally:
        store.close()


def cap_lines(db_url: str, tmp_path: Path) -> list[dict[str, object]]:
    config = tmp_path / "report.toml"
    config.write_text(f'[store]\nurl = "{db_url}"\n')
    lines: list[dict[str, object]] = json.loads(cli_ok(config, "report", "--json"))["cap"]
    return lines


async def test_a_shared_cap_is_one_line_whoever_decided(
    make_config: MakeConfig, db_url: str, tmp_path: Path
) -> None:
    key, agents = await send_with_two_agents(make_config, shared=True)
    rows = history_rows(db_url, LimitKind.CONNECTIONS)
    assert {row.agent for row in rows} == agents, "one agent made every decision"

    [line] = cap_lines(db_url, tmp_path)
    assert (line["sending_key"], line["agent"], line["source"]) == (key, None, "changes")
    points = line["points"]
    assert isinstance(points, list)
    assert [p["cap"] for p in points[1:]] == [round(row.new_value) for row in rows]


async def test_caps_of_their_own_are_a_line_per_agent(
    make_config: MakeConfig, db_url: str, tmp_path: Path
) -> None:
    key, agents = await send_with_two_agents(make_config, shared=False)
    rows = history_rows(db_url, LimitKind.CONNECTIONS)

    lines = cap_lines(db_url, tmp_path)
    assert {(line["sending_key"], line["source"]) for line in lines} == {(key, "changes")}
    assert {line["agent"] for line in lines} == agents
    for line in lines:
        own = [row for row in rows if row.agent == line["agent"]]
        points = line["points"]
        assert isinstance(points, list)
        # Each line starts from its agent's initial cap and follows its decisions only.
        assert points[0]["cap"] == 2
        assert [(p["cap"], p["reason"]) for p in points[1:]] == [
            (round(row.new_value), row.reason) for row in own
        ]
    # The terminal names each line's agent under the key.
    text = cli_ok(tmp_path / "report.toml", "report")
    pairs = list(itertools.pairwise(text.splitlines()))
    for agent in agents:
        assert any(a.startswith(key) and b.startswith(f"agent {agent}") for a, b in pairs)
