"""The maildir transport, installed as a distribution and found through its
entry point: real runs that leave real files a person can open."""

from __future__ import annotations

import email
import email.policy
import importlib.metadata
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adaptsend import Agent, ConfigError, Message, Status, config_from_dict, send_batch_async
from adaptsend.cli._main import cli
from adaptsend.plugins._manager import load_plugins


def maildir_config(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    return {
        "store": {"url": f"sqlite:///{tmp_path / 'queue.db'}"},
        "run": {"transport": "maildir"},
        "plugin": {"maildir": {"path": str(tmp_path / "outbox"), **settings}},
    }


def messages(count: int) -> list[Message]:
    return [
        Message(
            sender="reports@example.com",
            to=("team@example.com",),
            bcc=("audit@example.com",),
            subject=f"Nightly report {n}",
            text=f"Report {n} is ready.",
            message_id=f"<report-{n}@example.com>",
        )
        for n in range(count)
    ]


def read(path: Path) -> email.message.EmailMessage:
    with path.open("rb") as handle:
        parsed = email.message_from_binary_file(handle, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def test_the_entry_point_comes_from_the_installed_distribution() -> None:
    [entry_point] = [
        ep for ep in importlib.metadata.entry_points(group="adaptsend") if ep.name == "maildir"
    ]
    assert entry_point.dist is not None
    assert entry_point.dist.name == "adaptsend-maildir"
    plugins = load_plugins(environ={})
    [info] = [i for i in plugins.infos if i.name == "maildir"]
    assert (info.distribution, info.builtin) == ("adaptsend-maildir", False)
    assert info.registers["transports"] == ("maildir",)


async def test_a_batch_lands_in_the_maildir_once_each(tmp_path: Path) -> None:
    report = await send_batch_async(messages(20), config=maildir_config(tmp_path))

    assert report.ok
    files = sorted((tmp_path / "outbox" / "new").iterdir())
    assert len(files) == 20
    assert list((tmp_path / "outbox" / "tmp").iterdir()) == []
    parsed = [read(path) for path in files]
    assert sorted(m["Message-ID"] for m in parsed) == sorted(
        f"<report-{n}@example.com>" for n in range(20)
    )
    first = parsed[0]
    assert first["Return-Path"] == "<reports@example.com>"
    assert first.get_all("Delivered-To") == ["team@example.com", "audit@example.com"]
    assert "Bcc" not in first
    assert b"\r\n" not in files[0].read_bytes()
    assert {r.status for r in report.results} == {Status.SENT}
    last = report.results[0].last_reply
    assert last is not None and last.code == 250 and str(tmp_path) in last.text


async def test_the_eml_layout_writes_files_named_after_the_message(tmp_path: Path) -> None:
    report = await send_batch_async(messages(3), config=maildir_config(tmp_path, layout="eml"))

    assert report.ok
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 3
    assert all("report-" in f.name and "example.com" in f.name for f in files)
    assert {read(f)["Subject"] for f in files} == {f"Nightly report {n}" for n in range(3)}


def test_a_folder_that_cannot_be_made_stops_with_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    config = config_from_dict(
        {**maildir_config(tmp_path), "plugin": {"maildir": {"path": str(tmp_path / "taken")}}}
    )
    with (
        Agent(config, plugins=load_plugins(environ={})) as agent,
        pytest.raises(ConfigError, match=r"\[plugin.maildir\] path: cannot make the folder"),
    ):
        agent.transport  # noqa: B018


@pytest.mark.parametrize(
    ("settings", "sentence"),
    [
        ({"layout": "mbox"}, "plugin.maildir.layout must be one of 'maildir', 'eml'"),
        ({"paht": "x"}, "unknown key 'paht' in [plugin.maildir]"),
    ],
)
def test_a_settings_mistake_is_one_sentence(
    tmp_path: Path, settings: dict[str, Any], sentence: str
) -> None:
    config = config_from_dict(maildir_config(tmp_path, **settings))
    with (
        Agent(config, plugins=load_plugins(environ={})) as agent,
        pytest.raises(ConfigError) as caught,
    ):
        agent.transport  # noqa: B018
    assert str(caught.value) == sentence


def test_the_command_line_sends_to_the_maildir(tmp_path: Path) -> None:
    config = tmp_path / "adaptsend.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "q.db"}"\n'
        '[run]\ntransport = "maildir"\n'
        f'[plugin.maildir]\npath = "{tmp_path / "outbox"}"\n'
    )
    runner = CliRunner()
    lines = "\n".join(
        json.dumps({"from": "r@example.com", "to": [f"u{n}@example.com"], "subject": "s"})
        for n in range(5)
    )
    queued = runner.invoke(cli, ["--config", str(config), "enqueue", "--jsonl", "-"], input=lines)
    result = runner.invoke(cli, ["--config", str(config), "run", "--json"])

    assert queued.exit_code == 0, queued.output
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["sent"] == 5
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 5
