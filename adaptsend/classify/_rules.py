"""The pieces every classifier rule is made of: a :class:`Rule`, the
:class:`Verdict` it gives, and a :class:`Reply` read from what a client
library hands over (:func:`parse_reply`)."""

from __future__ import annotations

import re
from collections.abc import Callable

import attrs

from adaptsend._models import Outcome, Reply, Stage

#: RFC 3463 ``class.subject.detail`` at the start of a reply line.
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")


@attrs.frozen(kw_only=True)
class Verdict:
    """The outcome of one reply and the name of the rule that decided it.

    ``hint`` is one sentence telling a person what to change, when the rule
    knows (mostly for fatal replies, which wait for a person).
    """

    outcome: Outcome
    rule: str
    hint: str | None = None


@attrs.frozen(kw_only=True)
class Rule:
    """One named test on a reply, the outcome it stands for, and (optionally)
    what a person should do about such a reply.

    ``name`` is what an attempt's record keeps, so it stays short and never
    changes; ``description`` is the reference text of what the rule matches,
    for people reading the code (docs/replies.md lists every built-in rule by
    name, in order, with its outcome: a test holds the two together).
    """

    name: str
    outcome: Outcome
    matches: Callable[[Reply], bool] = attrs.field(eq=False)
    description: str = ""
    hint: str | None = None
    #: Made once: every reply a rule matches gets the same (frozen) verdict,
    #: and classifying is done for every message.
    _verdict: Verdict = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        verdict = Verdict(outcome=self.outcome, rule=self.name, hint=self.hint)
        object.__setattr__(self, "_verdict", verdict)

    def verdict(self) -> Verdict:
        """The verdict this rule gives to a reply it matches."""
        return self._verdict


def parse_reply(code: int | None, text: bytes | str, stage: Stage) -> Reply:
    """Build a :class:`Reply` from a code and the raw text a client library gives.

    Bytes are decoded as UTF-8, replacing what is not. The lines of a
    multi-line reply are joined with a space. A leading enhanced status code
    (``4.3.2``) becomes ``enhanced`` when its class agrees with ``code``; the
    same code repeated at the start of later lines is dropped.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    enhanced = _leading_enhanced(lines[0], code) if lines else None
    if enhanced is not None:
        lines = [_strip_prefix(line, enhanced) for line in lines]
    return Reply(
        code=code,
        text=" ".join(line for line in lines if line),
        enhanced=enhanced,
        stage=stage,
    )


def _leading_enhanced(text: str, code: int | None) -> str | None:
    if code is None:
        return None
    found = _ENHANCED.match(text)
    if found is None or int(found.group(1)) != code // 100:
        return None
    return found.group(0)


def _strip_prefix(line: str, enhanced: str) -> str:
    if line == enhanced or line.startswith(enhanced + " "):
        return line[len(enhanced) :].strip()
    return line


def enhanced_status(reply: Reply) -> str | None:
    """The reply's enhanced code, read from its text if nobody parsed it out."""
    return reply.enhanced or _leading_enhanced(reply.text, reply.code)


def reply_class(reply: Reply) -> int | None:
    """The first digit of the reply code (2, 4, 5), or None for a local error."""
    return None if reply.code is None else reply.code // 100
