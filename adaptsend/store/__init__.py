"""The SQL log store: where messages wait, and where every attempt is written down."""

from adaptsend._errors import StoreError
from adaptsend._store_api import SchemaOutOfDate
from adaptsend.store._sqlstore import SQLStore, open_store

__all__ = ["SQLStore", "SchemaOutOfDate", "StoreError", "open_store"]
