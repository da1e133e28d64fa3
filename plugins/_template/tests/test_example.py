"""Tests for the example sink: the way adaptsend will call it, with real files."""

from __future__ import annotations

import json
from pathlib import Path

import adaptsend_example
import pytest

from adaptsend import Alert, ConfigError, Severity, SinkContext, config_from_dict, load_plugins


def an_alert() -> Alert:
    return Alert(
        rule="dead",
        when="dead",
        severity=Severity.CRITICAL,
        summary="1 message(s) dead after their last retry in the last 300 s (threshold 1)",
        sending_key="reports@example.com@smtp.example.com:587",
        count=1,
    )


def test_the_plugin_registers_its_sink() -> None:
    plugins = load_plugins(entry_points=False, extra=[adaptsend_example], environ={})
    assert plugins.alert_sink_factory("example") == adaptsend_example.ExampleSink.from_context


def test_each_alert_is_one_json_line(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    config = config_from_dict({"plugin": {"example": {"path": str(path)}}})
    context = SinkContext(name="example", config=config, settings=config.plugin["example"])
    sink = adaptsend_example.ExampleSink.from_context(context)
    sink.deliver(an_alert())
    sink.deliver(an_alert())

    lines = path.read_text().splitlines()
    assert [json.loads(line)["rule"] for line in lines] == ["dead", "dead"]


def test_a_misspelt_setting_is_named() -> None:
    config = config_from_dict({})
    context = SinkContext(name="example", config=config, settings={"paht": "x"})
    with pytest.raises(ConfigError, match=r"unknown key 'paht' in \[plugin.example\]"):
        adaptsend_example.ExampleSink.from_context(context)
