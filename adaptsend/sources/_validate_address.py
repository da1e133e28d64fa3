"""Email addresses as adaptsend takes them: one address, or a list in one string.

The syntax is judged by email-validator (no DNS: whether a domain receives
mail is the provider's answer to give, at send time). It knows RFC 5321's
limits and internationalised addresses, which a hand-written pattern gets
wrong in both directions. Two choices are ours: a domain needs no dot and may
be a special-use name (``localhost``, ``corp.local``, ``*.invalid``), because
a relay inside an organisation delivers to such names; and an address whose
local part is ASCII goes into the envelope with its domain in ASCII (IDNA), so
that only a non-ASCII local part needs a server that offers SMTPUTF8.
"""

from __future__ import annotations

import email.utils
import functools

import attrs
import email_validator

from adaptsend._errors import MessageError
from adaptsend._models import header_form
from adaptsend.sources._validate_text import check_line

#: Appended to a special-use domain for the library's check (which refuses
#: those names outright) and taken off again: the rest of its rules still apply.
_NEUTRAL = ".example"


@attrs.frozen(kw_only=True)
class Mailbox:
    """One checked address: the name a header shows and the address the envelope carries."""

    display_name: str
    #: As it goes into MAIL FROM or RCPT TO; non-ASCII only in its local part.
    address: str

    @property
    def smtputf8(self) -> bool:
        """True when only a server that offers SMTPUTF8 can take this address."""
        return not self.address.isascii()

    def header_form(self) -> str:
        """The mailbox as a To, Cc or From header lists it."""
        return header_form(self.display_name, self.address)


def mailboxes(value: str, *, what: str) -> tuple[Mailbox, ...]:
    """Every address of an address list such as ``"A <a@x.example>, b@y.example"``;
    MessageError names the first that is not an email address."""
    check_line(f"{what} {value!r}", value)
    pairs = email.utils.getaddresses([value])
    if not pairs or any(not address for _, address in pairs):
        raise MessageError(f"{what} {value!r} is not a list of email addresses")
    # Name the input as given where it is one address: the parser may have
    # read only part of it ("not an address" parses as "not").
    shown = value if len(pairs) == 1 else None
    return tuple(
        Mailbox(display_name=name, address=_checked(address, what, shown or address))
        for name, address in pairs
    )


def mailbox(value: str, *, what: str) -> Mailbox:
    """The one address in ``value`` (a display name may come with it)."""
    check_line(f"{what} {value!r}", value)
    pairs = email.utils.getaddresses([value])
    if len(pairs) != 1 or not pairs[0][1]:
        raise MessageError(f"{what} {value!r} is not one email address")
    name, address = pairs[0]
    return Mailbox(display_name=name, address=_checked(address, what, value))


def envelope_address(address: str, *, what: str) -> str:
    """A bare address (no display name) as the envelope carries it; MessageError
    says in one sentence why it is not an email address."""
    check_line(f"{what} {address!r}", address)
    return _checked(address, what, address)


@functools.lru_cache(maxsize=4096)
def _checked(address: str, what: str, shown: str) -> str:
    # Cached: a batch repeats its sender, and often its recipients' domains.
    domain = address.rpartition("@")[2].lower()
    special = any(domain == d or domain.endswith("." + d) for d in _special_use())
    try:
        checked = email_validator.validate_email(
            address + _NEUTRAL if special else address,
            check_deliverability=False,
            globally_deliverable=False,
        )
    except email_validator.EmailNotValidError as exc:
        reason = str(exc).rstrip(".")
        raise MessageError(f"{what} {shown!r} is not an email address: {reason}") from None
    if address.isascii():
        return address
    ascii_domain = checked.ascii_domain.removesuffix(_NEUTRAL) if special else checked.ascii_domain
    return f"{checked.local_part}@{ascii_domain}"


def _special_use() -> list[str]:
    return list(email_validator.SPECIAL_USE_DOMAIN_NAMES)
