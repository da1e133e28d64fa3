"""``adaptsend plugins``: what is loaded, from where, and what it provides."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from adaptsend.cli._common import EXIT_FAILED, fail_cleanly
from adaptsend.plugins._manager import (
    DISABLE_VARIABLE,
    PluginFailure,
    PluginInfo,
    Plugins,
    load_plugins,
)
from adaptsend.plugins._registry import KINDS


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@fail_cleanly
def plugins(as_json: bool) -> None:
    """List the plugins: built-in ones and those installed through the
    'adaptsend' entry-point group, with the hooks each implements and the
    stores, transports and alert sinks it registers.

    Exits 1 when a plugin could not be loaded. Set ADAPTSEND_DISABLE_PLUGINS
    to a comma-separated list of names to block plugins.
    """
    loaded = load_plugins()
    if as_json:
        click.echo(json.dumps(plugins_json(loaded)))
    else:
        for line in plugins_text(loaded):
            click.echo(line)
    if loaded.failures:
        sys.exit(EXIT_FAILED)


def plugins_json(loaded: Plugins) -> dict[str, Any]:
    return {
        "plugins": [_info_json(info) for info in loaded.infos],
        "failed": [_failure_json(failure) for failure in loaded.failures],
        "blocked": list(loaded.blocked),
    }


def _info_json(info: PluginInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "distribution": info.distribution,
        "version": info.version,
        "builtin": info.builtin,
        "hooks": list(info.hooks),
        "registers": {kind: list(info.registers.get(kind, ())) for kind in KINDS},
    }


def _failure_json(failure: PluginFailure) -> dict[str, Any]:
    return {
        "name": failure.name,
        "distribution": failure.distribution,
        "version": failure.version,
        "reason": failure.reason,
    }


def plugins_text(loaded: Plugins) -> list[str]:
    lines: list[str] = []
    for info in loaded.infos:
        lines.append(f"{info.name} ({_origin(info)})")
        lines.append(f"    hooks: {', '.join(info.hooks) or 'none'}")
        for kind in KINDS:
            names = info.registers.get(kind, ())
            if names:
                lines.append(f"    {kind.replace('_', ' ')}: {', '.join(names)}")
    for failure in loaded.failures:
        lines.append(f"NOT LOADED: {failure.sentence()}")
    if loaded.blocked:
        lines.append(f"blocked by {DISABLE_VARIABLE}: {', '.join(loaded.blocked)}")
    return lines


def _origin(info: PluginInfo) -> str:
    if info.distribution is None:
        return "passed in by the program"
    release = f"{info.distribution} {info.version or '(version unknown)'}"
    return f"built-in, {release}" if info.builtin else release
