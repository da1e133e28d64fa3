"""Configurations for an agent that sends to a test SMTP server on 127.0.0.1,
with short retry delays so that tests wait little."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from adaptsend import Config
from adaptsend.testing import ThrottlingSMTPServer

#: The ``make_config`` fixture: ``make_config(server, limiter={...}, ...)``.
MakeConfig = Callable[..., Config]


def write_agent_config(
    directory: Path, url: str, server: ThrottlingSMTPServer, extra: str = ""
) -> Path:
    """``adaptsend.toml`` in ``directory`` for an agent process on ``url`` that
    sends to ``server`` with short retry delays; ``extra`` adds sections."""
    path = directory / "adaptsend.toml"
    path.write_text(
        f"""
[store]
url = "{url}"
[smtp]
host = "{server.host}"
port = {server.port}
timeout_s = 10
[retry]
base_delay_s = 0.05
max_delay_s = 0.2
{extra}
"""
    )
    return path


def write_sqlite_agent_config(
    directory: Path, server: ThrottlingSMTPServer, extra: str = ""
) -> Path:
    """:func:`write_agent_config` for a store in ``directory / "queue.db"``."""
    return write_agent_config(directory, f"sqlite:///{directory / 'queue.db'}", server, extra)
