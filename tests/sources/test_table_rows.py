"""A site's row as a message: keys, addresses and the column mapping."""

from __future__ import annotations

import decimal
import uuid

import pytest

from adaptsend._errors import MessageError, SourceError
from adaptsend.config._source import TableColumns
from adaptsend.sources._table_rows import (
    check_columns,
    key_value,
    lowered,
    message_from_row,
    row_key,
)

COLUMNS = TableColumns(cc="copy_to", html="body_html", message_id="msg_id")


def row(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": 7,
        "sender": "billing@example.com",
        "recipients": "a@example.org",
        "subject": "Invoice",
        "body": "Attached.",
        "copy_to": None,
        "body_html": None,
        "msg_id": None,
    }
    return lowered({**base, **values})


@pytest.mark.parametrize(
    ("value", "stored", "back"),
    [
        (7, "7", 7),
        (decimal.Decimal("7"), "7", 7),
        (7.0, "7", 7),
        ("7", '"7"', "7"),
        ("INV-2024-001", '"INV-2024-001"', "INV-2024-001"),
    ],
)
def test_keys_keep_their_type(value: object, stored: str, back: object) -> None:
    assert row_key(row(id=value), COLUMNS) == stored
    assert key_value(stored) == back


def test_other_key_types_are_kept_as_text() -> None:
    value = uuid.UUID(int=1)
    assert key_value(row_key(row(id=value), COLUMNS)) == str(value)


@pytest.mark.parametrize("value", [None, True, "x" * 300])
def test_a_key_that_cannot_name_a_row_is_refused(value: object) -> None:
    with pytest.raises(MessageError):
        row_key(row(id=value), COLUMNS)


def test_addresses_split_on_commas_and_semicolons_keeping_names() -> None:
    message = message_from_row(
        row(recipients='"Doe, Jane" <jane@example.org>; b@example.org,c@example.org'),
        COLUMNS,
        default_sender=None,
    )
    assert message.to == ('"Doe, Jane" <jane@example.org>', "b@example.org", "c@example.org")


@pytest.mark.parametrize("value", ["not an address", ";", "a@example.org; nobody"])
def test_a_column_of_non_addresses_is_refused(value: str) -> None:
    with pytest.raises(MessageError, match="in column 'recipients' is not a list"):
        message_from_row(row(recipients=value), COLUMNS, default_sender=None)


def test_every_mapped_part_is_read() -> None:
    message = message_from_row(
        row(copy_to="boss@example.org", body_html=b"<p>Attached.</p>", msg_id="<7@example.com>"),
        COLUMNS,
        default_sender=None,
    )
    assert message.cc == ("boss@example.org",)
    assert (message.subject, message.text, message.html) == (
        "Invoice",
        "Attached.",
        "<p>Attached.</p>",
    )
    assert message.message_id == "<7@example.com>"


def test_the_default_sender_stands_in_for_a_missing_one() -> None:
    message = message_from_row(row(sender=None), COLUMNS, default_sender="noreply@example.com")
    assert message.sender == "noreply@example.com"
    with pytest.raises(MessageError, match="no sender"):
        message_from_row(row(sender=None), COLUMNS, default_sender=None)


def test_columns_are_matched_without_regard_to_case() -> None:
    check_columns(
        ["ID", "Sender", "RECIPIENTS", "subject", "BODY", "copy_to", "body_html", "msg_id"],
        COLUMNS,
    )
    with pytest.raises(SourceError, match=r"no column 'copy_to' for columns\.cc; it returns"):
        check_columns(["id", "sender", "recipients", "subject", "body"], COLUMNS)
