"""``adaptsend run`` as a process of its own, the way cron, systemd or a
person starts it: start one, wait for what it should do, read its summary."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def start_run(config: Path, *args: str) -> subprocess.Popen[str]:
    """``adaptsend --config CONFIG run ARGS...`` in a new Python process."""
    return subprocess.Popen(
        [sys.executable, "-m", "adaptsend", "--config", str(config), "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def summary(proc: subprocess.Popen[str], timeout_s: float = 60.0) -> tuple[int, dict[str, Any]]:
    """Wait for ``proc`` (started with ``--json``) to end: its exit code and
    the summary it printed last."""
    out, err = proc.communicate(timeout=timeout_s)
    lines = out.strip().splitlines()
    assert lines, err
    return proc.returncode, json.loads(lines[-1])


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail the test if it never does, so a
    broken agent ends the test instead of hanging it."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for the agents"
        time.sleep(0.02)
