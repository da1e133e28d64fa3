"""A real run for the report's tests and for the picture in the docs.

Messages go over loopback TCP to a ``ThrottlingSMTPServer`` whose connection
limit adaptsend is not told: 6 at first, 2 once a share of the messages is
delivered, 6 again later. A few messages go to an address the server
refuses. The store is a SQLite file with a configuration beside it, so that
``adaptsend report`` can read it as an operator would.

``python -m tests.helpers.recorded_run docs/images/report.png`` records a longer
run, photographs its HTML report with headless Chromium, and prints its
terminal report: the example in docs/operations.md.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import attrs
import trio
from click.testing import CliRunner

from adaptsend import Message, config_from_dict, send_batch_async
from adaptsend._models import utcnow
from adaptsend.cli._main import cli
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.chromium import screenshot

HIGH, LOW = 6, 2
#: The cap the limiter starts from; it grows past HIGH, up to MAX_CAP.
INITIAL_CAP, MAX_CAP = 4, 8
REFUSED_ADDRESS = "nobody@example.com"
#: Messages sent to it, each refused for good.
REFUSED_MESSAGES = 3
REFUSAL = "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"


@attrs.frozen(kw_only=True)
class RecordedRun:
    """Where the run is written down, and what the server did meanwhile."""

    config: Path
    db_url: str
    sending_key: str
    #: (from when, limit) for each limit the server enforced, in order.
    limits: tuple[tuple[dt.datetime, int], ...]
    #: The server's own counts.
    delivered: int
    throttled: int
    refused: int

    def limit_at(self, when: dt.datetime) -> int:
        return [limit for since, limit in self.limits if since <= when][-1]


def _messages(count: int, refused: int) -> list[Message]:
    sent = [
        Message(sender="reports@example.com", to=(f"u{n}@example.com",), subject="s", text="t")
        for n in range(count)
    ]
    # Spread over the run, so that the failures have a time of their own.
    for i in range(refused):
        at = (i + 1) * count // (refused + 1)
        sent.insert(at, Message(sender="reports@example.com", to=(REFUSED_ADDRESS,), text="t"))
    return sent


async def wait_for(condition: Callable[[], bool]) -> None:
    """Return once ``condition()`` holds. It reads the server, whose thread
    cannot set a trio event: so it is asked again and again."""
    while not condition():  # noqa: ASYNC110
        await trio.sleep(0.002)


async def _move_limit(
    server: ThrottlingSMTPServer,
    limits: list[tuple[dt.datetime, int]],
    *,
    drop_after: int,
    rise_after: int,
) -> None:
    """Lower the limit after ``drop_after`` deliveries, raise it after ``rise_after``."""

    def change(limit: int) -> None:
        limits.append((utcnow(), limit))
        server.set_limit(limit)

    await wait_for(lambda: server.delivered >= drop_after)
    change(LOW)
    await wait_for(lambda: server.delivered >= rise_after)
    change(HIGH)


def record_run(
    directory: Path, *, messages: int = 900, latency_s: float = 0.01, probe_s: float = 0.2
) -> RecordedRun:
    """Send ``messages`` (and the refused ones) through the moving limit into
    a store in ``directory``. The limiter probes above a limit it met after
    ``probe_s``, and at most 5 times that apart."""
    db_url = f"sqlite:///{directory / 'adaptsend.db'}"
    limits: list[tuple[dt.datetime, int]] = []
    refused = {REFUSED_ADDRESS: REFUSAL}
    with ThrottlingSMTPServer(limit=HIGH, latency_s=latency_s, rcpt_replies=refused) as server:
        config = {
            "store": {"url": db_url},
            "smtp": {"host": server.host, "port": server.port, "timeout_s": 30},
            # Probing often, so that the cap finds the raised limit within the run.
            "limiter": {
                "initial_cap": INITIAL_CAP,
                "max_cap": MAX_CAP,
                "probe_interval_s": probe_s,
                "max_probe_interval_s": 5 * probe_s,
            },
            "retry": {"base_delay_s": 0.05, "max_delay_s": 0.5},
        }

        async def run() -> str:
            limits.append((utcnow(), HIGH))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    lambda: _move_limit(
                        server,
                        limits,
                        drop_after=messages * 3 // 10,
                        rise_after=messages * 6 // 10,
                    )
                )
                report = await send_batch_async(
                    _messages(messages, REFUSED_MESSAGES), config=config_from_dict(config)
                )
                nursery.cancel_scope.cancel()
            assert report.run.sent == messages, report.run
            return f"anonymous@{server.host}:{server.port}"

        sending_key = trio.run(run)
    path = directory / "adaptsend.toml"
    path.write_text(f'[store]\nurl = "{db_url}"\n')
    assert len(limits) == 3, "the run ended before the limit rose again"
    return RecordedRun(
        config=path,
        db_url=db_url,
        sending_key=sending_key,
        limits=tuple(limits),
        delivered=server.delivered,
        throttled=server.rejections,
        refused=REFUSED_MESSAGES,
    )


def _photograph(target: Path) -> None:
    """Record a run, photograph its HTML report into ``target``, and print
    its terminal report and the server's limits, for the docs' example."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        run = record_run(directory, messages=4000, latency_s=0.02, probe_s=1.0)
        page = directory / "report.html"
        args = ["--config", str(run.config), "report", "--since", "12h", "--html", str(page)]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        screenshot(page, target, width=1040, height=1500, profile=directory / "profile")
    print(result.stdout)
    for since, limit in run.limits:
        print(f"limit {limit} from {since:%H:%M:%S}", file=sys.stderr)
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    _photograph(Path(sys.argv[1]))
