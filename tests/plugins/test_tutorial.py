"""The plugin tutorial builds a working plugin: its files, taken from the page,
make a distribution whose tests pass and that adaptsend loads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from adaptsend import load_plugins

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "tutorial.md"
_BLOCK = re.compile(r"```(?:python|toml)\n# file: (?P<path>\S+)\n(?P<body>.*?)```", re.DOTALL)


def write_tutorial_project(root: Path) -> list[str]:
    written = []
    for block in _BLOCK.finditer(TUTORIAL.read_text()):
        path = root / block["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block["body"])
        written.append(block["path"])
    return written


def test_the_tutorial_names_every_file_of_the_project(tmp_path: Path) -> None:
    assert sorted(write_tutorial_project(tmp_path)) == [
        "pyproject.toml",
        "src/adaptsend_command/__init__.py",
        "tests/test_command_sink.py",
    ]
    project = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["adaptsend"] == {"command": "adaptsend_command"}


def test_the_tutorial_plugin_loads_and_its_tests_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tutorial_project(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    monkeypatch.delitem(sys.modules, "adaptsend_command", raising=False)
    import adaptsend_command  # type: ignore[import-not-found]

    plugins = load_plugins(entry_points=False, extra=[adaptsend_command], environ={})
    assert "command" in plugins.registry.alert_sinks
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
