"""``adaptsend alerts``: the rules in force (``rules``), and proof that an
alert reaches the person on call (``test``)."""

from __future__ import annotations

import json
import socket
import sys
from typing import Any

import click
import trio

from adaptsend.agent._agent import Agent
from adaptsend.alerts._delivery import deliver_one
from adaptsend.alerts._model import Alert, Severity
from adaptsend.alerts._setup import build_sinks
from adaptsend.cli._common import EXIT_FAILED, fail_cleanly, load
from adaptsend.config._alerts import DEFAULT_RULES, MEASURES, AlertRuleConfig, AlertsConfig

#: How long a test waits for a sink at least, whatever ``[alerts] drain_s`` says.
_MIN_WAIT_S = 10.0


@click.group()
def alerts() -> None:
    """Alert rules and sinks (see [alerts] in the configuration)."""


@alerts.command("rules")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@fail_cleanly
def list_rules(ctx: click.Context, as_json: bool) -> None:
    """The alert rules in force: the built-in ones (unless [alerts] defaults
    is false), as replaced by name in the configuration, then the configured
    ones; what each watches, when it fires, and where it goes."""
    config = load(ctx).alerts
    rules = [rule_document(rule, config) for rule in config.active_rules()]
    if as_json:
        click.echo(json.dumps({"rules": rules}))
        return
    for rule in rules:
        click.echo(_rule_line(rule))


def rule_document(rule: AlertRuleConfig, config: AlertsConfig) -> dict[str, Any]:
    """One rule in force, as ``alerts rules --json`` shows it."""
    origin = "built-in"
    if any(mine.name == rule.name for mine in config.rules):
        replaces = config.defaults and any(r.name == rule.name for r in DEFAULT_RULES)
        origin = "configured, in place of the built-in one" if replaces else "configured"
    return {
        "name": rule.name,
        "when": rule.when,
        "threshold": rule.threshold,
        "unit": "seconds" if rule.when in MEASURES else "events",
        "window_s": rule.window_s,
        "cooldown_s": rule.cooldown_s,
        "severity": rule.severity_in_force(),
        "sinks": list(config.sinks_of(rule)),
        "origin": origin,
    }


def _rule_line(rule: dict[str, Any]) -> str:
    if rule["unit"] == "seconds":
        fires = f"fires after {rule['threshold']:g} s"
    else:
        fires = f"fires at {rule['threshold']:g} in {rule['window_s']:g} s"
    return (
        f"{rule['name']}: when {rule['when']}, {fires}; {rule['severity']}; repeats at most "
        f"every {rule['cooldown_s']:g} s; to {', '.join(rule['sinks'])} ({rule['origin']})"
    )


@alerts.command("test")
@click.option(
    "--sink",
    "sink_names",
    multiple=True,
    help="A sink to test; repeat for more. Default: every sink the rules use.",
)
@click.pass_context
@fail_cleanly
def test_alert(ctx: click.Context, sink_names: tuple[str, ...]) -> None:
    """Send a test alert through the configured sinks and say which got it.

    Exits 1 when a sink failed.
    """
    config = load(ctx)
    with Agent(config) as agent:
        results = trio.run(lambda: send_test_alert(agent, sink_names or None))
        # A sink's error may quote what it was given: its URL, a token.
        shown = {n: None if e is None else agent.redactor.text(e) for n, e in results.items()}
    for name, error in shown.items():
        click.echo(f"{name}: delivered" if error is None else f"{name}: FAILED: {error}")
    if any(error is not None for error in results.values()):
        sys.exit(EXIT_FAILED)


async def send_test_alert(agent: Agent, names: tuple[str, ...] | None) -> dict[str, str | None]:
    """Deliver one test alert to each sink named (or every configured sink)
    at once; return each sink's failure sentence, None where it worked."""
    wanted = names if names is not None else agent.config.alerts.sink_names()
    sinks = build_sinks(agent.config, agent.plugins, agent.open_transport, wanted)
    alert = test_alert_for(agent.sending_key)
    results: dict[str, str | None] = {
        name: "the sink is not available (its plugin did not load)" for name in wanted
    }
    wait_s = max(agent.config.alerts.drain_s, _MIN_WAIT_S)

    async def one(name: str) -> None:
        results[name] = f"no answer within {wait_s:g} s"
        with trio.move_on_after(wait_s):
            results[name] = await deliver_one(sinks[name], name, alert)

    async with trio.open_nursery() as nursery:
        for name in sinks:
            nursery.start_soon(one, name)
    return results


def test_alert_for(sending_key: str) -> Alert:
    return Alert(
        rule="test",
        when="test",
        severity=Severity.WARNING,
        summary=f"a test alert from adaptsend on {socket.gethostname()}; nothing is wrong",
        sending_key=sending_key,
    )
