"""Messages of which some meet a daily quota reply at the test server."""

from __future__ import annotations

from adaptsend import Message

QUOTA_REPLY = "454 4.7.0 Throttling failure: Daily message quota exceeded"


def messages(count: int, *, over_quota_from: int) -> list[Message]:
    """``count`` messages; from ``over_quota_from`` on they go to an address
    the server answers with the quota reply, as if the day's quota ran out
    there."""
    return [
        Message(
            sender="reports@example.com",
            to=("late@example.com" if n >= over_quota_from else f"u{n}@example.com",),
            subject=f"report {n}",
            text="body",
            message_id=f"<quota-{n}@example.com>",
        )
        for n in range(count)
    ]
