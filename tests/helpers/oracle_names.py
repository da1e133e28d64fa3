"""What Oracle allows as a name: the schema and the SQL compiled for Oracle
are checked against these."""

from __future__ import annotations

# Oracle's reserved words, from its SQL Language Reference.
_ORACLE_WORDS = """
    access add all alter and any as asc audit between by char check cluster column
    column_value comment compress connect create current date decimal default delete desc
    distinct drop else exclusive exists file float for from grant group having identified
    immediate in increment index initial insert integer intersect into is level like lock
    long maxextents minus mlslabel mode modify nested_table_id noaudit nocompress not nowait
    null number of offline on online option or order pctfree prior public raw rename resource
    revoke row rowid rownum rows select session set share size smallint start successful
    synonym sysdate table then to trigger uid union unique update user validate values
    varchar varchar2 view whenever where with
"""
ORACLE_RESERVED = frozenset(_ORACLE_WORDS.split())
#: Oracle before 12.2 allows at most 30 bytes in an identifier.
MAX_IDENTIFIER = 30
