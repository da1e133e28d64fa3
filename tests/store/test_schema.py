"""The schema must suit every database adaptsend supports, Oracle included."""

from __future__ import annotations

import pytest
from sqlalchemy import Index, String, make_url
from sqlalchemy.schema import CreateIndex, CreateTable

from adaptsend.store import open_store
from adaptsend.store._schema import metadata
from tests.helpers.oracle_names import MAX_IDENTIFIER, ORACLE_RESERVED


def _names() -> list[str]:
    names: list[str] = []
    for table in metadata.tables.values():
        names.append(table.name)
        names.extend(c.name for c in table.columns)
        names.extend(str(c.name) for c in table.constraints if c.name)
        names.extend(str(i.name) for i in table.indexes)
    return names


def test_no_name_is_an_oracle_reserved_word() -> None:
    store = open_store("sqlite://")  # applies the naming convention to constraints
    store.close()
    clashes = [n for n in _names() if n.lower() in ORACLE_RESERVED]
    assert clashes == []


def test_every_identifier_fits_oracle() -> None:
    too_long = [n for n in _names() if len(n) > MAX_IDENTIFIER]
    assert too_long == []


def test_every_string_has_a_length() -> None:
    unbounded = [
        f"{t.name}.{c.name}"
        for t in metadata.tables.values()
        for c in t.columns
        if isinstance(c.type, String)
        and type(c.type).__name__ in {"String", "Unicode"}
        and c.type.length is None
    ]
    assert unbounded == []


@pytest.mark.parametrize("name", ["sqlite", "postgresql", "oracle"])
def test_the_schema_compiles_for_each_target_database(name: str) -> None:
    dialect = make_url(f"{name}://").get_dialect()()
    for table in metadata.sorted_tables:
        assert str(CreateTable(table).compile(dialect=dialect))
        for index in table.indexes:
            assert isinstance(index, Index)
            assert str(CreateIndex(index).compile(dialect=dialect))
