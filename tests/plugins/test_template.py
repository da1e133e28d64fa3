"""The plugin template stays a working plugin: its own tests pass, and its
entry point names its module."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[2] / "plugins" / "_template"


def test_the_entry_point_names_the_package() -> None:
    project = tomllib.loads((TEMPLATE / "pyproject.toml").read_text())
    entry_points = project["project"]["entry-points"]["adaptsend"]
    assert entry_points == {"example": "adaptsend_example"}
    assert (TEMPLATE / "src" / "adaptsend_example" / "__init__.py").is_file()


def test_the_templates_own_tests_pass() -> None:
    env = {**os.environ, "PYTHONPATH": str(TEMPLATE / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TEMPLATE / "tests")],
        cwd=TEMPLATE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
