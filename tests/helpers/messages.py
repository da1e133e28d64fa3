"""Messages for a run, with fixed Message-IDs."""

from __future__ import annotations

from adaptsend import Message


def batch(count: int, *, to: str = "team@example.com") -> list[Message]:
    """``count`` report messages with fixed Message-IDs, so that a test can
    count deliveries per message at the server."""
    return [
        Message(
            sender="reports@example.com",
            to=(to,),
            subject=f"report {n}",
            text=f"body {n}",
            message_id=f"<report-{n}@example.com>",
        )
        for n in range(count)
    ]
