"""The ``[source.table]`` settings: strict keys, the environment, and the
reference that documents every key."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from adaptsend import ConfigError, config_from_dict, load_config
from adaptsend.config._source import TableColumns, TableSourceConfig

DOCS = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_settings_come_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "adaptsend.toml"
    path.write_text('[source.table]\nquery = "SELECT 1"\n[source.table.columns]\nto = "addr"\n')
    config = load_config(
        path,
        environ={
            "ADAPTSEND_SOURCE_TABLE_URL": "postgresql+psycopg://app:pw@db/app",
            "ADAPTSEND_SOURCE_TABLE_INTERVAL_S": "5",
        },
    )
    table = config.source.table
    assert (table.query, table.columns.to, table.interval_s) == ("SELECT 1", "addr", 5.0)
    assert table.url == "postgresql+psycopg://app:pw@db/app"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"columns": {"from": "x"}}, "unknown key 'from' in [source.table.columns]"),
        ({"interval_s": 0}, "interval_s must be greater than 0"),
        ({"name": ""}, "name must have 1 to 64 characters"),
    ],
)
def test_a_wrong_setting_is_named(table: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"source": {"table": table}})
    assert expected in str(info.value)


def test_the_reference_documents_every_key() -> None:
    text = DOCS.read_text()
    section = text[text.index("## `[source.table]`") :]
    section = section[: section.index("\n## ", 1)]
    for field in attrs.fields(TableSourceConfig):
        if field.name != "columns":
            assert re.search(rf"^\| `{field.name}` \|", section, re.M), field.name
    for field in attrs.fields(TableColumns):
        assert f"`{field.name}`" in section, field.name
