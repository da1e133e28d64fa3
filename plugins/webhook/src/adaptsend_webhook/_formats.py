"""The bodies posted for each format: the alert as JSON, a Slack message, or a
Microsoft Teams message carrying an Adaptive Card."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adaptsend import Alert, Severity

_SLACK_EMOJI = {
    Severity.WARNING: ":warning:",
    Severity.CRITICAL: ":rotating_light:",
    Severity.RESOLVED: ":white_check_mark:",
}
_TEAMS_COLOR = {
    Severity.WARNING: "Warning",
    Severity.CRITICAL: "Attention",
    Severity.RESOLVED: "Good",
}
#: Slack cuts a header at 150 characters and rejects longer ones.
_SLACK_HEADER_MAX = 150


def as_json(alert: Alert) -> dict[str, Any]:
    return alert.to_json()


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn reads <...> as links: Message-IDs must be escaped.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def as_slack(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` for notifications, blocks to read."""
    state = "resolved" if alert.resolved else alert.severity.value
    header = f"{_SLACK_EMOJI[alert.severity]} {alert.rule} {state} on {alert.sending_key}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:_SLACK_HEADER_MAX]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(alert.summary)}},
    ]
    details = [f"• {_slack_escape(line)}" for line in alert.details()]
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(details)}})
    return {"text": _slack_escape(alert.title()), "blocks": blocks}


def as_teams(alert: Alert) -> dict[str, Any]:
    """A Teams message with an Adaptive Card, as Teams workflows' "post to a
    channel when a webhook request is received" expects."""
    facts = [
        {"title": "Rule", "value": f"{alert.rule} ({alert.when})"},
        {"title": "Sending key", "value": alert.sending_key},
        *({"title": title, "value": value} for title, value in _detail_pairs(alert)),
    ]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": alert.title(),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "color": _TEAMS_COLOR[alert.severity],
            },
            {"type": "FactSet", "facts": facts},
        ],
    }
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }
    return {"type": "message", "attachments": [attachment]}


def _detail_pairs(alert: Alert) -> list[tuple[str, str]]:
    pairs = []
    for line in alert.details():
        title, _, value = line.partition(": ")
        pairs.append((title[:1].upper() + title[1:], value))
    return pairs


FORMATS: dict[str, Callable[[Alert], dict[str, Any]]] = {
    "json": as_json,
    "slack": as_slack,
    "teams": as_teams,
}


def payload(alert: Alert, format: str) -> dict[str, Any]:
    """The JSON body to post for ``alert`` in ``format`` (json, slack or teams)."""
    return FORMATS[format](alert)
