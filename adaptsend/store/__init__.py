"""The SQL log store: where messages wait, and where every attempt is written down."""

from adaptsend._errors import StoreError
from adaptsend.store._admin import drop_store, schema_state, upgrade_sql, upgrade_store
from adaptsend.store._api import SchemaOutOfDate
from adaptsend.store._migrate import SchemaState
from adaptsend.store._sqlstore import SQLStore, open_store

__all__ = [
    "SQLStore",
    "SchemaOutOfDate",
    "SchemaState",
    "StoreError",
    "drop_store",
    "open_store",
    "schema_state",
    "upgrade_sql",
    "upgrade_store",
]
