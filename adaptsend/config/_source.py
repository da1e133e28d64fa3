"""The ``[source]`` section: where ``adaptsend run --source`` finds messages
besides the store's own queue. One kind so far, ``[source.table]``: a site's
own table, read by the site's query (see docs/databases.md).

Part of :class:`adaptsend.Config`; kept apart because the rest of the
configuration does not need to know what a source is.
"""

from __future__ import annotations

from typing import Any

import attrs

from adaptsend.config._validators import positive


def _short_name(_inst: object, attribute: attrs.Attribute[Any], value: str) -> None:
    # The name is stored with every row queued from the source.
    if not 0 < len(value) <= 64:
        raise ValueError(f"{attribute.name} must have 1 to 64 characters, not {len(value)}")


@attrs.frozen(kw_only=True)
class TableColumns:
    """``[source.table.columns]``: which column of the query's result holds
    which part of a message. Names are matched without regard to case; an
    optional part left unset is not read."""

    #: Identifies the row: the site's primary key. Each key is queued once.
    key: str = "id"
    sender: str = "sender"
    #: Addresses separated by commas or semicolons.
    to: str = "recipients"
    cc: str | None = None
    bcc: str | None = None
    subject: str = "subject"
    text: str | None = "body"
    html: str | None = None
    #: A Message-ID the site already gave the message; made up when unset.
    message_id: str | None = None


@attrs.frozen(kw_only=True)
class TableSourceConfig:
    """``[source.table]``: rows of a site's table to send, and where their
    outcome goes back. Statements take named parameters (``:key``)."""

    #: Selects the rows to send, e.g. ``SELECT ... FROM email_log WHERE status = 'F'``.
    query: str = ""
    #: The site's database; the store's own (``[store] url``) when unset.
    url: str | None = None
    #: Recorded with every row queued from here: a key is queued once per name.
    name: str = attrs.field(default="table", validator=_short_name)
    columns: TableColumns = attrs.field(factory=TableColumns)
    #: The sender when the row has none.
    default_sender: str | None = None
    #: Run for each row once it is queued (``:key``, ``:message_id``), so that
    #: the query stops returning it.
    on_queued: str | None = None
    #: Run for each row sent, and each row failed or dead (``:key``,
    #: ``:status``, ``:reply``, ``:code``, ``:attempts``, ``:message_id``,
    #: ``:finished_at``). Make them safe to run twice for a row: after a crash
    #: between the site's commit and the store's, they are.
    on_sent: str | None = None
    on_failed: str | None = None
    #: With ``--follow``, how often to read new rows and write back outcomes.
    interval_s: float = attrs.field(default=30.0, validator=positive)


@attrs.frozen(kw_only=True)
class SourceConfig:
    table: TableSourceConfig = attrs.field(factory=TableSourceConfig)
