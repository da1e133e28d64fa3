"""The ways the store tests open a store: each database, and on some of
them also another database's way of claiming or of writing rows (see
tests/store/conftest.py for why)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pytest

from adaptsend.store import SQLStore
from adaptsend.store._claim import ClaimStyle, style_for
from tests.helpers import databases


class Variant(NamedTuple):
    """A database, and how a store on it claims and writes rows."""

    url: str
    #: Claim this way rather than the database's own.
    claim_style: ClaimStyle | None = None
    #: Write rows as every database does, not in the database's own way.
    portable_writes: bool = False


VARIANTS = [Variant(databases.SQLITE), Variant(databases.SQLITE, portable_writes=True)]
for _url in databases.SERVER_URLS:
    VARIANTS.append(Variant(_url))
    if style_for(databases.name(_url)) != "cursor":
        VARIANTS.append(Variant(_url, "cursor", portable_writes=True))

OpenStore = Callable[[str], SQLStore]


def variant_id(variant: Variant) -> str:
    extra = ("-cursor-claim" if variant.claim_style else "") + (
        "-portable-writes" if variant.portable_writes else ""
    )
    return databases.name(variant.url) + extra


#: For a test of row locks: each server database, with its own way of claiming.
on_servers = pytest.mark.parametrize(
    "variant",
    [v for v in VARIANTS if v.url != databases.SQLITE and v.claim_style is None],
    ids=variant_id,
    indirect=True,
)
#: For a test that needs SQLite itself.
on_sqlite = pytest.mark.parametrize(
    "variant", [Variant(databases.SQLITE)], ids=variant_id, indirect=True
)
