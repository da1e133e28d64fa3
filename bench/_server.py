"""SMTP servers in their own processes, so that their CPU is not ours.

The throttling server is ``python -m adaptsend.testing``: it prints
``host:port`` when it accepts connections and one JSON line of statistics on
SIGUSR1 and on SIGTERM.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from adaptsend.testing import ServerStatistics


class ServerProcess:
    """A child process running an SMTP server; a context manager.

    ``module`` is run with ``python -m``; it must print ``host:port`` once
    ready and a JSON statistics line on SIGUSR1 and SIGTERM.
    """

    def __init__(self, args: Sequence[str] = (), *, module: str = "adaptsend.testing") -> None:
        self._command = [sys.executable, "-m", module, "--port", "0", *args]
        self._process: subprocess.Popen[str] | None = None
        self.host = ""
        self.port = 0

    def __enter__(self) -> Self:
        self._process = subprocess.Popen(self._command, stdout=subprocess.PIPE, text=True)
        host, _, port = self._read_line().partition(":")
        self.host, self.port = host, int(port)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    @property
    def smtp(self) -> dict[str, object]:
        """``[smtp]`` settings that send to this server, with a timeout no
        benchmark's latency comes near."""
        return {"host": self.host, "port": self.port, "timeout_s": 30}

    def statistics(self) -> ServerStatistics:
        """The server's counts so far; it keeps running."""
        return self._signal(signal.SIGUSR1)

    def stop(self) -> ServerStatistics:
        """Stop the server and return its final counts."""
        stats = self._signal(signal.SIGTERM)
        assert self._process is not None
        self._process.wait(timeout=10)
        return stats

    def _signal(self, signum: int) -> ServerStatistics:
        assert self._process is not None
        self._process.send_signal(signum)
        return ServerStatistics(**json.loads(self._read_line()))

    def _read_line(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            code = self._process.wait()
            raise RuntimeError(f"{' '.join(self._command[2:4])} exited ({code}) before answering")
        return line.strip()
