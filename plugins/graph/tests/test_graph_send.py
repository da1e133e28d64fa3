"""The graph transport, installed as a distribution, against a fake Graph
server on 127.0.0.1: the exact requests it makes, the MIME it hands over
byte for byte, and what it records."""

from __future__ import annotations

import base64
import importlib.metadata
import json
from collections.abc import Callable
from pathlib import Path

from adaptsend_graph._transport import GraphTransport
from click.testing import CliRunner
from conftest import MAILBOX, MakeConfig, Rows, token_command

from adaptsend import Agent, Message, Status, config_from_dict, send_batch_async
from adaptsend.cli._main import cli
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.testing import DEFAULT_GRAPH_TOKEN, FakeGraphServer


def test_the_entry_point_comes_from_the_installed_distribution() -> None:
    [entry_point] = [
        ep for ep in importlib.metadata.entry_points(group="adaptsend") if ep.name == "graph"
    ]
    assert entry_point.dist is not None and entry_point.dist.name == "adaptsend-graph"
    plugins = load_plugins(environ={})
    [info] = [i for i in plugins.infos if i.name == "graph"]
    assert (info.distribution, info.builtin) == ("adaptsend-graph", False)
    assert info.registers["transports"] == ("graph",)


async def test_one_message_is_one_exact_sendmail_request(graph_config: MakeConfig) -> None:
    envelope = compose(
        Message(
            sender=MAILBOX,
            to="team@contoso.com",
            cc="Ann <ann@contoso.com>",
            subject="Nightly report",
            text="Report ready.",
            message_id="<nightly-1@contoso.com>",
        )
    )
    with FakeGraphServer() as graph:
        report = await send_batch_async([envelope], config=graph_config(graph))

    assert report.ok
    [request] = graph.requests
    assert (request.method, request.path) == ("POST", "/v1.0/users/reports%40contoso.com/sendMail")
    assert request.headers["authorization"] == f"Bearer {DEFAULT_GRAPH_TOKEN}"
    assert request.headers["content-type"] == "text/plain"
    assert request.headers["content-length"] == str(len(request.body))
    # What SMTP would have sent, byte for byte, Message-ID included.
    assert request.body == base64.b64encode(envelope.content)
    assert graph.deliveries == {"<nightly-1@contoso.com>": 1}
    assert request.status == 202


async def test_bcc_recipients_go_in_a_bcc_header_and_nothing_else_changes(
    graph_config: MakeConfig,
) -> None:
    envelope = compose(
        Message(
            sender=MAILBOX,
            to="team@contoso.com",
            bcc=["audit@contoso.com", "Archive <archive@contoso.com>"],
            subject="s",
            text="t",
        )
    )
    assert b"audit@" not in envelope.content
    with FakeGraphServer() as graph:
        report = await send_batch_async([envelope], config=graph_config(graph))

    assert report.ok
    [delivered] = graph.delivered
    assert delivered.mime == b"Bcc: audit@contoso.com, archive@contoso.com\r\n" + envelope.content
    assert delivered.recipients == ("team@contoso.com", "audit@contoso.com", "archive@contoso.com")


async def test_a_batch_is_delivered_once_each_and_recorded_as_http_answers(
    graph_config: MakeConfig, rows: Rows, reports: Callable[[int], list[Message]]
) -> None:
    with FakeGraphServer(limit=None, latency_s=0.01) as graph:
        report = await send_batch_async(reports(40), config=graph_config(graph))

    assert report.ok and report.run.sent == 40
    assert sorted(graph.deliveries) == sorted(m.message_id for m in reports(40))
    assert set(graph.deliveries.values()) == {1}
    assert rows(
        "SELECT DISTINCT outcome, reply_code, enhanced_code, reply_text, stage FROM attempts"
    ) == [("sent", 202, None, "Accepted", "data")]
    assert {r.status for r in report.results} == {Status.SENT}
    assert rows("SELECT DISTINCT sending_key FROM messages") == [
        (f"graph:{MAILBOX}@{graph.url.removeprefix('http://')}",)
    ]


def test_a_site_switches_from_smtp_by_changing_the_transport_alone(tmp_path: Path) -> None:
    with FakeGraphServer() as graph:
        config = tmp_path / "adaptsend.toml"
        config.write_text(
            f"""
[store]
url = "sqlite:///{tmp_path / "queue.db"}"
[smtp]
host = "smtp.office365.com"
port = 587
username = "{MAILBOX}"
[run]
transport = "graph"
[plugin.graph]
mailbox = "{MAILBOX}"
base_url = "{graph.base_url}"
[plugin.graph.oauth]
provider = "command"
command = {json.dumps(token_command())}
"""
        )
        lines = "\n".join(
            json.dumps({"from": MAILBOX, "to": [f"u{n}@contoso.com"], "subject": "s", "text": "t"})
            for n in range(5)
        )
        runner = CliRunner()
        queued = runner.invoke(
            cli, ["--config", str(config), "enqueue", "--jsonl", "-"], input=lines
        )
        sent = runner.invoke(cli, ["--config", str(config), "run", "--json"])
        status = runner.invoke(cli, ["--config", str(config), "status", "--json"])

    assert queued.exit_code == 0, queued.output
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.stdout.strip().splitlines()[-1])["sent"] == 5
    assert len(graph.deliveries) == 5
    assert json.loads(status.stdout)["counts"]["sent"] == 5


async def test_closing_the_agent_closes_the_http_client_of_its_transport(
    graph_config: MakeConfig,
) -> None:
    envelope = compose(Message(sender=MAILBOX, to="team@contoso.com", subject="s", text="t"))
    with FakeGraphServer() as graph:
        agent = Agent(config_from_dict(graph_config(graph)), plugins=load_plugins(environ={}))
        try:
            agent.enqueue([envelope])
            report = await agent.run()
            transport = agent.transport
            assert isinstance(transport, GraphTransport)
            open_before_close = not transport.http.closed
        finally:
            agent.close()

    assert report.sent == 1 and graph.deliveries
    assert open_before_close
    assert transport.http.closed
