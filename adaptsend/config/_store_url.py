"""Reading a database URL, such as ``[store] url``, one way everywhere.

Its *scheme* picks the store plugin and tells a SQLite file from a server
database; it is read from the text alone, so that a plugin's store may take
URLs SQLAlchemy would not parse. Its parts (driver, path, password) come from
SQLAlchemy's parser.
"""

from __future__ import annotations

from sqlalchemy import exc, make_url
from sqlalchemy.engine import URL

from adaptsend._errors import StoreError


def scheme(url: str) -> str:
    """The part of ``url`` before ``:``, without any ``+driver``, in lower
    case: ``postgresql`` for ``postgresql+psycopg://...``. For a URL SQLAlchemy
    parses, the name of its backend."""
    return url.partition(":")[0].partition("+")[0].lower()


def parse_url(url: str) -> URL:
    """The parts of ``url``, or StoreError saying why it is not a database URL."""
    try:
        return make_url(url)
    except (exc.ArgumentError, ValueError):
        # The text may hold a password, so it is not repeated back.
        raise StoreError(
            "The store URL is not a valid database URL "
            "(expected something like sqlite:///path/to/adaptsend.db)."
        ) from None
