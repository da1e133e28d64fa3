"""The MIME Graph is given: the queued bytes, as SMTP sends them, and the
envelope's recipients in its headers.

SMTP delivers to the envelope; Graph to the addresses of the MIME's To, Cc
and Bcc headers. A queued message keeps its Bcc recipients in the envelope
only (a Bcc header would show them to everyone), so those go into a ``Bcc``
header put before the others; Exchange delivers to them and removes the
header, as it does for any Bcc. Everything else is the queued bytes, byte
for byte, Message-ID included.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils

from adaptsend import Envelope

_HEADERS = ("To", "Cc", "Bcc")
#: A header line longer than this is folded (RFC 5322 asks for 78).
_LINE = 78


class RecipientsDiffer(Exception):
    """The MIME names a recipient the envelope no longer has: Graph would
    deliver to it again. One sentence."""


def header_recipients(content: bytes) -> list[str]:
    """The addresses of the To, Cc and Bcc headers of ``content``."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(content)
    values = [str(v) for name in _HEADERS for v in headers.get_all(name, [])]
    return [address for _, address in email.utils.getaddresses(values) if address]


def graph_mime(envelope: Envelope) -> bytes:
    """``envelope.content`` with a ``Bcc`` header for the envelope's
    recipients that no header names; raises :class:`RecipientsDiffer`."""
    named = {address.lower() for address in header_recipients(envelope.content)}
    wanted = {address.lower() for address in envelope.recipients}
    gone = sorted(named - wanted)
    if gone:
        raise RecipientsDiffer(
            f"Graph sends to every address of the message's To, Cc and Bcc headers, and "
            f"{', '.join(gone)} is no longer among its recipients (an earlier attempt "
            "reached it), so it cannot go through Graph without reaching it again"
        )
    hidden = [address for address in envelope.recipients if address.lower() not in named]
    if not hidden:
        return envelope.content
    return _bcc_header(hidden) + envelope.content


def _bcc_header(addresses: list[str]) -> bytes:
    lines = ["Bcc:"]
    for index, address in enumerate(addresses):
        item = f" {address}" + ("," if index < len(addresses) - 1 else "")
        if len(lines[-1]) + len(item) > _LINE and lines[-1] != "Bcc:":
            lines.append("")
        lines[-1] += item
    return "\r\n".join(lines).encode() + b"\r\n"
