"""Soak: many messages through a server that injects every fault at once,
sent by several agent processes sharing one store.

``python -m bench.soak [--url URL] [--messages N] [--agents K] [--every N]``

The server (``python -m adaptsend.testing`` in a process of its own) hangs
up after ``every`` messages per connection, cuts one message's content in
``every``, loses the reply after the final dot of one in ``every``, refuses
one greeting in ``every``, and goes down twice for a second and a half. The
agents (``adaptsend run --json``, no ``--follow``) drain one queue on ``URL``
(a PostgreSQL database to empty, or by default a new SQLite file).

What it checks, and prints as a Markdown table: every message is in a final
state, every message arrived, and the only repeats at the server are
attempts the agents counted ``unknown``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import attrs
import sqlalchemy as sa

from adaptsend import Agent, Envelope, load_config
from adaptsend.plugins._manager import load_plugins
from adaptsend.store import drop_store, upgrade_store
from adaptsend.store._schema import attempts, messages
from adaptsend.testing import ServerStatistics
from bench import _table
from bench._server import ServerProcess

#: Seconds after the server starts at which it goes down, and for how long.
OUTAGES = ((2.0, 1.5), (6.0, 1.5))


@attrs.frozen(kw_only=True)
class Result:
    messages: int
    agents: int
    elapsed_s: float
    exit_codes: tuple[int, ...]
    statuses: dict[str, int]
    unknown_attempts: int
    server: ServerStatistics

    @property
    def repeats(self) -> int:
        return self.server.duplicate_deliveries

    @property
    def exactly_once(self) -> bool:
        """Every message final and sent, each arrived, and no repeat that was
        not counted as ``unknown``."""
        return (
            self.statuses.get("sent", 0) == self.messages
            and self.server.unique_messages == self.messages
            and self.repeats <= self.unknown_attempts
        )


def run(*, url: str | None, count: int, agents: int, every: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="adaptsend-soak-") as workdir:
        store_url = url or f"sqlite:///{Path(workdir) / 'soak.db'}"
        drop_store(store_url)
        upgrade_store(store_url)
        with ServerProcess(_server_args(every)) as server:
            config = _write_config(Path(workdir), store_url, server.host, server.port)
            _enqueue(config, count)
            started = time.perf_counter()
            codes = _drain(config, agents)
            elapsed = time.perf_counter() - started
            stats = server.stop()
        statuses, unknown = _outcomes(store_url)
    return Result(
        messages=count,
        agents=agents,
        elapsed_s=elapsed,
        exit_codes=codes,
        statuses=statuses,
        unknown_attempts=unknown,
        server=stats,
    )


def _server_args(every: int) -> list[str]:
    outages = ",".join(f"{at}:{seconds}" for at, seconds in OUTAGES)
    return [
        "--limit",
        "3",
        "--latency-ms",
        "2",
        "--pipelining",
        "--chunking",
        "--hang-up-after",
        str(every),
        "--cut-content-every",
        str(every),
        "--lose-reply-every",
        str(every),
        "--refuse-greeting-every",
        str(every),
        "--outages",
        outages,
    ]


def _write_config(workdir: Path, url: str, host: str, port: int) -> Path:
    path = workdir / "adaptsend.toml"
    path.write_text(
        f"""
[store]
url = "{url}"
[smtp]
host = "{host}"
port = {port}
timeout_s = 5
[retry]
base_delay_s = 0.05
max_delay_s = 0.5
max_attempts = 30
[run]
poll_interval_s = 0.1
outage_wait_s = 60
"""
    )
    return path


def _enqueue(config_path: Path, count: int) -> None:
    config = load_config(config_path)
    with Agent(config, plugins=load_plugins(entry_points=False)) as agent:
        page = 1_000
        for start in range(0, count, page):
            agent.enqueue(_envelope(n) for n in range(start, min(start + page, count)))


def _envelope(n: int) -> Envelope:
    message_id = f"<soak-{n}@example.com>"
    content = (
        f"From: soak@example.com\r\nTo: u{n}@example.org\r\nMessage-ID: {message_id}\r\n"
        f"Subject: soak {n}\r\n\r\n" + "A line of a soak report.\r\n" * 40
    ).encode()
    return Envelope(
        message_id=message_id,
        sender="soak@example.com",
        recipients=(f"u{n}@example.org",),
        content=content,
    )


def _drain(config: Path, agents: int) -> tuple[int, ...]:
    command = [sys.executable, "-m", "adaptsend", "--config", str(config), "run", "--json"]
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for _ in range(agents)
    ]
    for proc in procs:
        proc.communicate()
    return tuple(proc.returncode for proc in procs)


def _outcomes(url: str) -> tuple[dict[str, int], int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            by_status = sa.select(messages.c.status, sa.func.count()).group_by(messages.c.status)
            statuses = {status: n for status, n in conn.execute(by_status)}
            unknown = sa.select(sa.func.count()).where(attempts.c.outcome == "unknown")
            return statuses, int(conn.execute(unknown).scalar_one())
    finally:
        engine.dispose()


def table(result: Result) -> str:
    server = result.server
    rows = [
        ["messages", str(result.messages)],
        ["agents (exit codes)", f"{result.agents} ({', '.join(map(str, result.exit_codes))})"],
        ["drain time", f"{result.elapsed_s:.1f} s"],
        ["final states", ", ".join(f"{k} {v}" for k, v in sorted(result.statuses.items()))],
        ["hang-ups / content cuts", f"{server.hangups} / {server.content_cuts}"],
        ["replies lost after the dot", str(server.replies_lost)],
        ["greetings refused / outages", f"{server.greeting_refusals} / {len(OUTAGES)}"],
        ["unknown attempts (counted)", str(result.unknown_attempts)],
        ["arrived / repeats at the server", f"{server.unique_messages} / {result.repeats}"],
        ["exactly once but counted unknowns", _table.verdict(result.exactly_once)],
    ]
    return _table.render("Soak under every fault", ["what", "figure"], rows)


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--url", help="a database to empty and use (default: a new SQLite file)")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--agents", type=int, default=3)
    parser.add_argument("--every", type=int, default=100, help="one fault of each kind in N")
    args = parser.parse_args(argv)
    result = run(url=args.url, count=args.messages, agents=args.agents, every=args.every)
    print(table(result), flush=True)
    sys.exit(0 if result.exactly_once else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
