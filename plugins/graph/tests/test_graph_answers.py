"""Each of Graph's answers, through a real run against the fake server, ends
as the transport contract's own verdict: sent, throttled (every request
waits out the Retry-After), unknown (retried with the same Message-ID and
counted), fatal with a sentence that says what to do, permanent, quota."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MAILBOX, MakeConfig, Rows

from adaptsend import Message, Outcome, Status, send_batch_async
from adaptsend.cli._common import exit_code
from adaptsend.testing import FakeGraphServer, GraphAnswer, GraphFault
from adaptsend.testing.graph import (
    ACCESS_DENIED,
    ACCESS_POLICY_DENIED,
    INVALID_BASE64,
    SERVER_BUSY,
    SUBMISSION_QUOTA,
)

Reports = Callable[[int], list[Message]]


async def test_the_limit_is_learnt_and_nothing_is_sent_inside_a_retry_after_window(
    graph_config: MakeConfig, reports: Reports
) -> None:
    # Three requests at once against a limit of two: the third is refused
    # while the other two are still under way (a second each), and opens a
    # two-second window. Every later request must wait for its end.
    with FakeGraphServer(limit=2, latency_s=1.0, retry_after_s=2.0) as graph:
        config = graph_config(graph, limiter={"initial_cap": 3, "min_cap": 1, "max_cap": 3})
        report = await send_batch_async(reports(6), config=config)
        stats = graph.statistics()

    assert report.ok and report.run.throttled >= 1
    assert stats.windows >= 1 and stats.in_window == 0
    assert set(graph.deliveries.values()) == {1} and len(graph.deliveries) == 6
    assert report.run.final_cap <= 2
    refused = [r for r in graph.requests if r.status == 429]
    later = [r for r in graph.requests if r.arrived_at > refused[0].arrived_at]
    assert later and min(r.arrived_at for r in later) >= refused[0].arrived_at + 2.0


async def test_a_503_is_unknown_waits_its_retry_after_and_goes_again_with_the_same_id(
    graph_config: MakeConfig, rows: Rows, reports: Reports
) -> None:
    busy = GraphAnswer(
        status=503, code=SERVER_BUSY.code, message=SERVER_BUSY.message, retry_after="1"
    )
    with FakeGraphServer(answers=[busy]) as graph:
        config = graph_config(graph, limiter={"initial_cap": 1, "max_cap": 1})
        report = await send_batch_async(reports(1), config=config)

    assert report.ok and report.run.unknown == 1
    [refused, sent] = graph.requests
    assert (refused.status, sent.status) == (503, 202)
    assert refused.body == sent.body
    assert sent.arrived_at >= refused.arrived_at + 1.0
    assert rows("SELECT outcome, reply_code, reply_text, rule FROM attempts ORDER BY id") == [
        (
            "unknown",
            503,
            "ErrorServerBusy: The server is busy. Try again later. (Retry-After: 1 s)",
            "graph-server-error",
        ),
        ("sent", 202, "Accepted", "graph-accepted"),
    ]


@pytest.mark.parametrize("fault", [GraphFault.STALL, GraphFault.RESET])
async def test_no_answer_after_the_whole_request_is_unknown_and_its_duplicate_counted(
    graph_config: MakeConfig, rows: Rows, reports: Reports, fault: GraphFault
) -> None:
    # Every fourth send is delivered and then answered with silence (the
    # client's timeout ends it) or a hang-up.
    with FakeGraphServer(fault_every={fault: 4}, stall_s=5) as graph:
        config = graph_config(
            graph,
            graph_settings={"timeout_s": 1},
            limiter={"initial_cap": 1, "max_cap": 1},
        )
        report = await send_batch_async(reports(8), config=config)
        stats = graph.statistics()

    assert report.ok and report.run.sent == 8
    # Each unknown attempt went out: the server counts exactly as many duplicates.
    assert report.run.unknown == stats.duplicate_deliveries >= 2
    assert len(graph.deliveries) == 8
    texts = rows("SELECT reply_text FROM attempts WHERE outcome = 'unknown'")
    said = "gave no answer within 1 s" if fault is GraphFault.STALL else "closed the connection"
    assert texts and all(said in t and "may have been sent" in t for (t,) in texts)


#: A token issuer whose first token is already stale: it prints
#: "stale-token" the first time it runs and "fresh-token" after.
ROTATING_ISSUER = """
import json, pathlib, sys
runs = pathlib.Path(sys.argv[1])
count = int(runs.read_text()) if runs.exists() else 0
runs.write_text(str(count + 1))
token = "stale-token" if count == 0 else "fresh-token"
print(json.dumps({"access_token": token, "expires_in": 3600}))
"""


async def test_a_refused_token_is_refreshed_once(
    graph_config: MakeConfig, reports: Reports, tmp_path: Path
) -> None:
    command = [sys.executable, "-c", ROTATING_ISSUER, str(tmp_path / "runs")]
    with FakeGraphServer(tokens=["fresh-token"]) as graph:
        config = graph_config(
            graph,
            graph_settings={"oauth": {"provider": "command", "command": command}},
            limiter={"initial_cap": 1, "max_cap": 1},
        )
        report = await send_batch_async(reports(2), config=config)

    assert report.ok and (tmp_path / "runs").read_text() == "2"
    assert [(r.status, r.headers["authorization"]) for r in graph.requests] == [
        (401, "Bearer stale-token"),
        (202, "Bearer fresh-token"),
        (202, "Bearer fresh-token"),
    ]
    assert {r.attempts for r in report.results} == {1}


async def test_a_token_refused_twice_stops_the_run_and_keeps_the_queue(
    graph_config: MakeConfig, reports: Reports
) -> None:
    with FakeGraphServer(tokens=["another-token"]) as graph:
        config = graph_config(graph, limiter={"initial_cap": 1, "max_cap": 1})
        report = await send_batch_async(reports(3), config=config)

    assert exit_code(report.run) == 3
    assert [r.status for r in graph.requests] == [401, 401]
    fatal = report.run.fatal
    assert fatal is not None and fatal.describe() == (
        "401 InvalidAuthenticationToken: Access token validation failure. Invalid audience. "
        "(Graph refused a freshly fetched token too: check the tenant and client of "
        f"[plugin.graph.oauth] and its scope, {graph.url}/.default)"
    )
    assert {r.status for r in report.results} <= {Status.QUEUED, Status.RETRY}
    assert {r.attempts for r in report.results} == {0}


@pytest.mark.parametrize(
    ("answer", "sentence"),
    [
        (
            ACCESS_DENIED,
            "the application needs the Mail.Send application permission, with admin "
            f"consent, to send as {MAILBOX}",
        ),
        (
            ACCESS_POLICY_DENIED,
            "an application access policy (or RBAC for Applications) of the tenant does "
            f"not let this application send as {MAILBOX}",
        ),
    ],
)
async def test_a_403_stops_the_run_with_a_sentence_saying_which(
    graph_config: MakeConfig, reports: Reports, answer: GraphAnswer, sentence: str
) -> None:
    with FakeGraphServer(answers=[answer]) as graph:
        config = graph_config(graph, limiter={"initial_cap": 1, "max_cap": 1})
        report = await send_batch_async(reports(3), config=config)

    assert exit_code(report.run) == 3
    fatal = report.run.fatal
    assert fatal is not None
    assert fatal.describe() == f"403 {answer.code}: {answer.message} ({sentence})"
    assert fatal.stage.value == "auth"
    assert graph.deliveries == {} and len(graph.requests) == 1
    assert {r.attempts for r in report.results} == {0}


async def test_a_from_the_mailbox_may_not_send_as_stops_the_run_saying_so(
    graph_config: MakeConfig, reports: Reports
) -> None:
    denied = GraphAnswer(
        status=403,
        code="ErrorSendAsDenied",
        message="The user account which was used to submit this request does not have the "
        "right to send mail on behalf of the specified sending account.",
    )
    with FakeGraphServer(answers=[denied]) as graph:
        config = graph_config(graph, limiter={"initial_cap": 1, "max_cap": 1})
        report = await send_batch_async(reports(2), config=config)

    fatal = report.run.fatal
    assert fatal is not None and fatal.stage.value == "mail"
    assert fatal.describe().endswith(
        f"({MAILBOX} may not send as the message's From address: send from {MAILBOX}, "
        "or give it Send As on that address)"
    )


async def test_an_unknown_mailbox_stops_the_run(graph_config: MakeConfig, reports: Reports) -> None:
    with FakeGraphServer(mailboxes=["someone.else@contoso.com"]) as graph:
        report = await send_batch_async(reports(2), config=graph_config(graph))

    fatal = report.run.fatal
    assert fatal is not None and fatal.describe() == (
        f"404 ErrorInvalidUser: The requested user '{MAILBOX}' is invalid. "
        f"([plugin.graph] mailbox {MAILBOX} is not a mailbox Graph can send as)"
    )


async def test_a_message_graph_refuses_fails_alone(
    graph_config: MakeConfig, rows: Rows, reports: Reports
) -> None:
    with FakeGraphServer(answers=[INVALID_BASE64]) as graph:
        config = graph_config(graph, limiter={"initial_cap": 1, "max_cap": 1})
        report = await send_batch_async(reports(3), config=config)

    statuses = sorted(r.status.value for r in report.results)
    assert statuses == ["failed", "sent", "sent"]
    assert len(graph.deliveries) == 2
    refused = rows(
        "SELECT outcome, reply_code, reply_text, rule FROM attempts WHERE outcome != 'sent'"
    )
    assert refused == [
        (
            "permanent",
            400,
            "ErrorMimeContentInvalidBase64String: Invalid base64 string for MIME content.",
            "graph-refused",
        )
    ]


async def test_a_quota_pauses_the_mailbox_and_charges_nothing(
    graph_config: MakeConfig, reports: Reports
) -> None:
    with FakeGraphServer(answers=[SUBMISSION_QUOTA]) as graph:
        config = graph_config(graph, limiter={"initial_cap": 1, "max_cap": 1})
        report = await send_batch_async(reports(3), config=config)

    assert exit_code(report.run) == 4
    assert report.run.deferred == 3 and graph.deliveries == {}
    assert {r.attempts for r in report.results} == {0}
    by = report.run.deferred_by
    assert by is not None and by.code == 403 and by.text.startswith("ErrorSubmissionQuotaExceeded")
    assert Outcome.QUOTA.value == "quota"
