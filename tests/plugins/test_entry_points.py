"""Plugins as distributions: found through the ``adaptsend`` entry-point group,
listed, blocked, and isolated when broken.

Broken plugins are real distributions as ``importlib.metadata`` sees them: a
``.dist-info`` folder with ``entry_points.txt`` and a module, in a folder put
on ``sys.path`` for the test. That is what an installed wheel leaves behind,
without installing into (and breaking) the environment every other test uses.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from adaptsend import Agent, Message, PluginError, config_from_dict, send_batch_async
from adaptsend.cli._main import cli
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig

Install = Callable[[str, str, str], None]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Install:
    """``install(entry_point_name, module_name, source)``: a distribution
    ``<module>-plugin 1.0`` whose entry point loads ``module_name``."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def make(name: str, module: str, source: str) -> None:
        dist = f"{module.replace('_', '-')}-plugin"
        info = site / f"{module}_plugin-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[adaptsend]\n{name} = {module}\n")
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        monkeypatch.delitem(sys.modules, module, raising=False)

    return make


BROKEN = """
    raise ImportError("needs libfoo, which is not installed")
"""

MISSPELT = """
    from adaptsend import hookimpl

    @hookimpl
    def adaptsend_register_transport(register):
        pass
"""

FAILS_TO_REGISTER = """
    from adaptsend import hookimpl

    @hookimpl
    def adaptsend_register_alert_sinks(register):
        raise RuntimeError("no settings")
"""


def batch(count: int) -> list[Message]:
    return [
        Message(sender="r@example.com", to=("t@example.com",), message_id=f"<m{n}@example.com>")
        for n in range(count)
    ]


async def test_an_installed_distribution_is_found_and_used_for_a_real_run(tmp_path: Path) -> None:
    dist = importlib.metadata.distribution("adaptsend-maildir")
    assert "maildir" in {ep.name for ep in dist.entry_points if ep.group == "adaptsend"}
    config = config_from_dict(
        {
            "store": {"url": f"sqlite:///{tmp_path / 'q.db'}"},
            "run": {"transport": "maildir"},
            "plugin": {"maildir": {"path": str(tmp_path / "out")}},
        }
    )
    report = await send_batch_async(batch(10), config=config, plugins=load_plugins(environ={}))

    assert report.ok
    assert len(list((tmp_path / "out" / "new").iterdir())) == 10


async def test_a_broken_plugin_does_not_stop_a_run_that_does_not_need_it(
    install: Install, make_config: MakeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    install("broken", "broken_mod", BROKEN)
    plugins = load_plugins(environ={})
    [failure] = plugins.failures
    sentence = (
        "plugin 'broken' (broken-mod-plugin 1.0) could not be loaded: "
        "ImportError: needs libfoo, which is not installed"
    )
    assert failure.sentence() == sentence
    assert f"{sentence}; going on without it" in caplog.text
    with ThrottlingSMTPServer() as server:
        report = await send_batch_async(batch(5), config=make_config(server), plugins=plugins)

    assert report.ok
    assert server.delivered == 5


def test_a_broken_plugin_that_provides_the_transport_stops_with_its_sentence(
    install: Install, tmp_path: Path
) -> None:
    install("broken", "broken_mod", BROKEN)
    config = config_from_dict(
        {"store": {"url": f"sqlite:///{tmp_path / 'q.db'}"}, "run": {"transport": "broken"}}
    )
    with (
        Agent(config, plugins=load_plugins(environ={})) as agent,
        pytest.raises(PluginError) as caught,
    ):
        agent.transport  # noqa: B018
    assert str(caught.value) == (
        "no transport 'broken' is registered: plugin 'broken' (broken-mod-plugin 1.0) "
        "could not be loaded: ImportError: needs libfoo, which is not installed"
    )


def test_the_command_line_stops_in_one_sentence_too(install: Install, tmp_path: Path) -> None:
    install("broken", "broken_mod", BROKEN)
    config = tmp_path / "adaptsend.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "q.db"}"\n[run]\ntransport = "broken"\n'
    )
    result = CliRunner().invoke(
        cli, ["--config", str(config), "run"], env={"ADAPTSEND_DISABLE_PLUGINS": ""}
    )
    assert result.exit_code == 2
    [line] = [x for x in result.output.splitlines() if x.startswith("adaptsend:")]
    assert "no transport 'broken' is registered: plugin 'broken'" in line
    assert "Traceback" not in result.output


def test_disabled_plugins_are_not_loaded_and_are_listed_as_blocked(install: Install) -> None:
    install("broken", "broken_mod", BROKEN)
    plugins = load_plugins(environ={"ADAPTSEND_DISABLE_PLUGINS": "broken, maildir"})
    assert plugins.failures == []
    assert set(plugins.blocked) == {"broken", "maildir"}
    assert "maildir" not in plugins.registry.transports


def test_an_unknown_hook_in_a_third_party_plugin_is_reported_not_fatal(install: Install) -> None:
    install("misspelt", "misspelt_mod", MISSPELT)
    plugins = load_plugins(environ={})
    [failure] = plugins.failures
    assert failure.name == "misspelt"
    assert "implements a hook that does not exist" in failure.reason
    assert "adaptsend_register_transport" in failure.reason
    assert "misspelt" not in {i.name for i in plugins.infos}


def test_a_plugin_that_fails_while_registering_is_left_out(install: Install) -> None:
    install("nosettings", "nosettings_mod", FAILS_TO_REGISTER)
    plugins = load_plugins(environ={})
    [failure] = plugins.failures
    assert failure.reason == "registering failed: RuntimeError: no settings"
    assert set(plugins.registry.alert_sinks) >= {"log", "email", "webhook"}


def test_plugins_lists_every_plugin_with_what_it_provides(install: Install) -> None:
    install("broken", "broken_mod", BROKEN)
    result = CliRunner().invoke(cli, ["plugins", "--json"], env={"ADAPTSEND_DISABLE_PLUGINS": ""})

    assert result.exit_code == 1  # a plugin failed to load
    listing = json.loads(result.stdout)
    by_name = {p["name"]: p for p in listing["plugins"]}
    assert by_name["webhook"] == {
        "name": "webhook",
        "distribution": "adaptsend-webhook",
        "version": "0.1.0",
        "builtin": False,
        "hooks": ["adaptsend_register_alert_sinks", "adaptsend_secrets"],
        "registers": {
            "stores": [],
            "transports": [],
            "alert_sinks": ["webhook"],
            "token_providers": [],
        },
    }
    assert by_name["adaptsend._store_plugin"]["builtin"] is True
    assert by_name["adaptsend._store_plugin"]["registers"]["stores"] == [
        "sqlite",
        "postgresql",
        "oracle",
    ]
    assert listing["failed"] == [
        {
            "name": "broken",
            "distribution": "broken-mod-plugin",
            "version": "1.0",
            "reason": "ImportError: needs libfoo, which is not installed",
        }
    ]


def test_plugins_as_text(install: Install) -> None:
    result = CliRunner().invoke(cli, ["plugins"], env={"ADAPTSEND_DISABLE_PLUGINS": "maildir"})

    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "adaptsend._smtp_plugin (built-in, adaptsend 0.1.0)" in lines
    at = lines.index("webhook (adaptsend-webhook 0.1.0)")
    assert lines[at + 1 : at + 3] == [
        "    hooks: adaptsend_register_alert_sinks, adaptsend_secrets",
        "    alert sinks: webhook",
    ]
    assert lines[-1] == "blocked by ADAPTSEND_DISABLE_PLUGINS: maildir"


async def test_a_sink_whose_plugin_is_broken_is_left_out_and_sending_goes_on(
    install: Install, make_config: MakeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    install("pager", "pager_mod", BROKEN)
    with ThrottlingSMTPServer() as server:
        config = make_config(server, alerts={"sinks": ["log", "pager"]})
        with Agent(config, plugins=load_plugins(environ={})) as agent:
            assert set(agent.alerts.sinks) == {"log"}
            agent.enqueue(compose(m) for m in batch(3))
            report = await agent.run()

    assert report.ok
    assert "alert sink 'pager' is left out: no alert sink 'pager' is registered" in caplog.text
