"""BDAT (RFC 3030, CHUNKING): a message sent raw, in chunks of stated size."""

from __future__ import annotations

import re

from aiosmtpd.smtp import Envelope

BAD_SYNTAX = "501 5.5.4 Syntax: BDAT <size> [LAST]"
NO_TRANSACTION = "503 5.5.1 Error: need MAIL and an accepted RCPT before BDAT"

_ARGUMENT = re.compile(r"([0-9]+)(?:[ \t]+(LAST))?", re.IGNORECASE)


def parse_bdat(arg: str | None) -> tuple[int, bool] | None:
    """``"42 LAST"`` -> (42, True), ``"42"`` -> (42, False); None if malformed."""
    found = _ARGUMENT.fullmatch((arg or "").strip())
    if found is None:
        return None
    return int(found[1]), found[2] is not None


def chunk_received(size: int) -> str:
    """The reply to a chunk that is not the last one."""
    return f"250 2.0.0 {size} octets received"


class ChunkedEnvelope(Envelope):
    """An envelope that also keeps the chunks received so far.

    aiosmtpd makes a new envelope on RSET and after each message, so chunks
    of an abandoned transaction go with it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[bytes] = []
