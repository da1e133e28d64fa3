"""Registers the built-in SQLAlchemy store for SQLite, PostgreSQL and Oracle URLs."""

from __future__ import annotations

from collections.abc import Callable

from adaptsend.hookspecs import StoreFactory, hookimpl
from adaptsend.store import open_store

#: URL schemes the SQLAlchemy store serves (see ``adaptsend.config._store_url.scheme``).
SCHEMES = ("sqlite", "postgresql", "oracle")


@hookimpl
def adaptsend_register_stores(register: Callable[[str, StoreFactory], None]) -> None:
    for scheme in SCHEMES:
        register(scheme, open_store)
