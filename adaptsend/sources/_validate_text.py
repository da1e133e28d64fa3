"""The characters a message may hold: the rules every input shares.

A header line ends at a line break, so a CR or LF inside a value, a name, an
address or a Message-ID would start a header (or an SMTP command) that the
application never wrote. Other control characters are refused there too: some
(NUL, U+0085, U+2028) end a line for one program and not for the next.
"""

from __future__ import annotations

import re

from adaptsend._errors import MessageError

#: C0 controls but TAB, DEL, and the characters ``str.splitlines`` breaks at.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


def check_string(what: str, value: object) -> str:
    """``value`` if it is a string, else MessageError naming ``what``."""
    if not isinstance(value, str):
        raise MessageError(f"{what} must be a string, not {type(value).__name__}")
    return value


def check_line(what: str, value: object) -> str:
    """``value`` if it can stand on one header line: a string of valid Unicode
    with no line break, NUL or other control character (TAB is allowed)."""
    text = check_unicode(what, value)
    bad = _CONTROL.search(text)
    if bad is not None:
        raise MessageError(f"{what} contains {_describe(bad.group())}")
    return text


def check_unicode(what: str, value: object) -> str:
    """``value`` if it is a string that can be written as UTF-8 (a lone
    surrogate, such as JSON's ``"\\ud800"``, cannot)."""
    text = check_string(what, value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MessageError(
            f"{what} is not valid Unicode (a lone surrogate at position {exc.start})"
        ) from None
    return text


def _describe(char: str) -> str:
    if char in "\r\n":
        return "a line break"
    if char == "\0":
        return "a NUL character"
    return f"the control character U+{ord(char):04X}"
