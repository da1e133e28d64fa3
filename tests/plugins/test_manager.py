"""The plugin manager: built-ins through the same hooks as third parties,
replacement by name, blocking, and clear errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from adaptsend import Agent, Decision, PluginError, Status, config_from_dict, hookimpl
from adaptsend._models import Message
from adaptsend.plugins._manager import BUILTIN_PLUGINS, load_plugins
from adaptsend.sources._compose import compose
from adaptsend.testing import InstantTransportPlugin


def test_builtins_register_through_the_hooks() -> None:
    plugins = load_plugins(entry_points=False, environ={})
    assert set(plugins.registry.stores) == {"sqlite", "postgresql", "oracle"}
    assert set(plugins.registry.transports) == {"smtp"}
    assert set(plugins.registry.alert_sinks) == {"log", "email"}
    registered = {plugins.manager.get_name(p) for p in plugins.manager.get_plugins()}
    assert set(BUILTIN_PLUGINS) <= registered


async def test_an_extra_plugin_provides_the_transport_for_a_real_run(tmp_path: Path) -> None:
    plugin = InstantTransportPlugin()
    config = config_from_dict(
        {"store": {"url": f"sqlite:///{tmp_path / 'q.db'}"}, "run": {"transport": "instant"}}
    )
    messages = [
        Message(sender="a@example.com", to=("b@example.com",), message_id=f"<{n}@example.com>")
        for n in range(50)
    ]
    with Agent(config, plugins=load_plugins(entry_points=False, extra=[plugin])) as agent:
        agent.enqueue(compose(m) for m in messages)
        report = await agent.run()

    assert report.sent == 50
    assert sorted(plugin.transport.deliveries) == sorted(f"<{n}@example.com>" for n in range(50))
    assert set(plugin.transport.deliveries.values()) == {1}


def test_a_plugin_registering_the_same_name_replaces_the_builtin() -> None:
    def fake_store(url: str) -> object:
        return url

    class Replacement:
        @hookimpl
        def adaptsend_register_stores(self, register: Callable[[str, object], None]) -> None:
            register("sqlite", fake_store)

    plugins = load_plugins(entry_points=False, extra=[Replacement()], environ={})
    assert plugins.store_factory("sqlite:///x.db") is fake_store


def test_disabled_plugins_are_blocked() -> None:
    plugins = load_plugins(
        entry_points=False, environ={"ADAPTSEND_DISABLE_PLUGINS": "adaptsend._alerts_plugin"}
    )
    assert plugins.registry.alert_sinks == {}
    with pytest.raises(PluginError, match="no alert sink 'log' is registered"):
        plugins.alert_sink_factory("log")


def test_an_unknown_transport_name_is_one_sentence() -> None:
    plugins = load_plugins(entry_points=False, environ={})
    with pytest.raises(PluginError) as caught:
        plugins.transport_factory("smpt")
    assert str(caught.value) == "no transport 'smpt' is registered (known: smtp)"


def test_a_misspelt_hook_is_caught() -> None:
    class Misspelt:
        @hookimpl
        def adaptsend_register_transport(self, register: object) -> None:
            pass

    with pytest.raises(PluginError, match="unknown hook"):
        load_plugins(entry_points=False, extra=[Misspelt()], environ={})


def test_builtins_are_loaded_by_the_entry_point_path_and_say_where_from() -> None:
    plugins = load_plugins(entry_points=False, environ={})
    infos = {info.name: info for info in plugins.infos}
    assert list(infos) == list(BUILTIN_PLUGINS)
    smtp = infos["adaptsend._smtp_plugin"]
    assert (smtp.distribution, smtp.builtin) == ("adaptsend", True)
    assert smtp.hooks == ("adaptsend_register_transports",)
    assert smtp.registers == {"transports": ("smtp",)}
    assert infos["adaptsend._alerts_plugin"].registers == {"alert_sinks": ("log", "email")}


def test_observers_see_every_record_and_agents_do_not_share_them() -> None:
    seen: list[tuple[str, object]] = []

    class Observer:
        def attempt_recorded(self, attempt: object, sending_key: str) -> None:
            seen.append(("attempt", attempt))

        def decision_recorded(self, decision: object, sending_key: str) -> None:
            seen.append(("decision", decision))

    plugins = load_plugins(entry_points=False, environ={})
    watched = plugins.with_observer(Observer())
    decision = Decision(message_pk=1, status=Status.SENT, attempts=1, throttles=0)
    plugins.recorded([], decision, "key")
    assert seen == []
    watched.recorded([], decision, "key")
    assert [kind for kind, _ in seen] == ["decision"]
