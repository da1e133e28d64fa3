"""The batch every strategy sends: the same bytes for adaptsend and the baselines."""

from __future__ import annotations

from adaptsend import Envelope, Message
from adaptsend.sources._compose import compose

#: About the size of a report notification; the body is not what is measured.
_BODY = "The nightly report is ready.\n" + "Line of report text for the benchmark.\n" * 25


def batch(count: int, *, tag: str) -> list[Envelope]:
    """``count`` distinct messages whose Message-IDs carry ``tag``, so the
    server's duplicate count is per run."""
    return [
        compose(
            Message(
                sender="reports@bench.invalid",
                to=(f"team{n % 7}@bench.invalid",),
                subject=f"Nightly report {n}",
                text=_BODY,
                message_id=f"<{tag}-{n}@bench.invalid>",
            )
        )
        for n in range(count)
    ]
