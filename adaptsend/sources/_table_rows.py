"""A row of a site's table as a message: the column mapping, addresses and keys.

Rows come as mappings from lower-cased column names (databases differ in the
case they report names in) to values as the driver gives them.
"""

from __future__ import annotations

import decimal
import email.utils
import json
from collections.abc import Iterable, Mapping
from typing import Any

from adaptsend._errors import MessageError, SourceError
from adaptsend._models import Message, header_form
from adaptsend.config._source import TableColumns
from adaptsend.store._source_api import MAX_KEY_LEN

Row = Mapping[str, Any]


def lowered(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(name).lower(): value for name, value in row.items()}


def check_columns(available: Iterable[str], columns: TableColumns) -> None:
    """Raise SourceError naming the first mapped column the query does not return."""
    have = {name.lower() for name in available}
    for part, column in _mapped(columns):
        if column.lower() not in have:
            raise SourceError(
                f"The [source.table] query returns no column {column!r} for columns.{part}; "
                f"it returns {', '.join(sorted(have)) or 'no columns'}."
            )


def _mapped(columns: TableColumns) -> list[tuple[str, str]]:
    parts = ("key", "sender", "to", "cc", "bcc", "subject", "text", "html", "message_id")
    return [(part, getattr(columns, part)) for part in parts if getattr(columns, part)]


def row_key(row: Row, columns: TableColumns) -> str:
    """The row's key as a ledger keeps it: JSON, so that 7 and "7" stay apart
    and a write-back binds the value with the site's own type."""
    value = row[columns.key.lower()]
    if value is None or isinstance(value, bool):
        raise MessageError(f"its key column {columns.key!r} is {value!r}")
    if isinstance(value, float | decimal.Decimal) and value == int(value):
        # NUMBER columns come back as floats or decimals from some drivers.
        value = int(value)
    elif not isinstance(value, int | str):
        value = str(value)
    text = json.dumps(value)
    if len(text) > MAX_KEY_LEN:
        raise MessageError(f"its key is longer than {MAX_KEY_LEN} characters")
    return text


def key_value(stored: str) -> Any:
    """The site's key back from the ledger's text."""
    return json.loads(stored)


def describe_key(row: Row, columns: TableColumns) -> str:
    """The row as an error message names it."""
    return f"row {columns.key}={row.get(columns.key.lower())!r}"


def message_from_row(row: Row, columns: TableColumns, *, default_sender: str | None) -> Message:
    """The message a row describes; MessageError says what is wrong with it."""
    sender = _text(row, columns.sender) or default_sender
    if not sender:
        raise MessageError(f"it has no sender in column {columns.sender!r}")
    return Message(
        sender=sender,
        to=_addresses(row, columns.to),
        cc=_addresses(row, columns.cc),
        bcc=_addresses(row, columns.bcc),
        subject=_text(row, columns.subject) or "",
        text=_text(row, columns.text),
        html=_text(row, columns.html),
        message_id=_text(row, columns.message_id),
    )


def _text(row: Row, column: str | None) -> str | None:
    if not column:
        return None
    value = row.get(column.lower())
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _addresses(row: Row, column: str | None) -> tuple[str, ...]:
    # Applications join addresses with commas or semicolons; a quoted display
    # name may hold a comma, which getaddresses keeps whole.
    value = _text(row, column)
    if not value:
        return ()
    pairs = [p for p in email.utils.getaddresses([value.replace(";", ",")]) if any(p)]
    if not pairs or not all("@" in address for _, address in pairs):
        raise MessageError(f"{value!r} in column {column!r} is not a list of email addresses")
    return tuple(header_form(name, address) for name, address in pairs)
