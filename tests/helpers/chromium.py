"""Headless Chromium, to open the HTML report as a person's browser would.

The binary is ``$ADAPTSEND_TEST_CHROMIUM`` if set, else the first of the
usual names on PATH. CI installs Debian's ``chromium`` package (see
``.ci/chromium.sh``); a machine without it fails the tests that need it,
saying how to install it, rather than skipping them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

VARIABLE = "ADAPTSEND_TEST_CHROMIUM"
_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MISSING = (
    "The HTML report is checked in headless Chromium, which is not installed: install "
    "Debian's package (`apt-get install chromium`), or set ADAPTSEND_TEST_CHROMIUM to a "
    "Chromium or Chrome binary."
)
#: A hung browser must not hang the suite for ever; this is no bound on speed.
_PATIENCE_S = 300


def find_chromium() -> str:
    """The browser to run; fails the calling test when there is none."""
    given = os.environ.get(VARIABLE)
    if given:
        return given
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(MISSING, pytrace=False)


def _run(page: Path, profile: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [
        find_chromium(),
        "--headless",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        # A profile of its own: concurrent runs must not share one.
        f"--user-data-dir={profile}",
        *flags,
        page.resolve().as_uri(),
    ]
    if os.geteuid() == 0:
        # Chromium's sandbox refuses to start as root, as CI runs.
        command.insert(2, "--no-sandbox")
    return subprocess.run(command, capture_output=True, text=True, timeout=_PATIENCE_S, check=True)


def dump_dom(page: Path, *, profile: Path) -> str:
    """The document as Chromium parsed it."""
    return _run(page, profile, "--dump-dom").stdout


def screenshot(page: Path, target: Path, *, width: int, height: int, profile: Path) -> None:
    """A PNG of the first ``width`` x ``height`` pixels of the page."""
    _run(page, profile, f"--screenshot={target.resolve()}", f"--window-size={width},{height}")
    if not target.exists():
        raise AssertionError(f"Chromium wrote no screenshot to {target}")
