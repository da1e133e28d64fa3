"""Every statement the SQL store issues, compiled for Oracle.

No Oracle server can run where these tests run, so the store's SQL is checked
the way Oracle would receive it: a workload calls every method of the Store
protocol and of the table source's ledger on a SQLite store that claims and
writes rows the way an Oracle store does, and each statement SQLAlchemy
executes is compiled for the Oracle dialect. The DDL is what
``adaptsend db upgrade --sql`` writes for Oracle.

The expected texts live in ``tests/store/oracle/``, read and checked by hand.
After a deliberate change, regenerate them with ``python -m tests.store.oracle_sql``
and review the difference before committing it.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from adaptsend._models import Status, utcnow
from adaptsend.config._settings import LimiterConfig
from adaptsend.store import SQLStore, open_store, upgrade_sql
from adaptsend.store._api import Store
from adaptsend.store._budget_api import BudgetStore
from adaptsend.store._cap_change_api import CapChangeRecord, CapChangeStore, LimitKind
from adaptsend.store._day_api import RecipientStore, Settlement
from adaptsend.store._rate_api import RateStore
from adaptsend.store._source_api import SourceLedger
from tests.helpers.store_builders import KEY, LATER, NO_USER, OK, attempt, decision, envelope, later

EXPECTED = Path(__file__).parent / "oracle"
DML_FILE = EXPECTED / "statements.sql"
DDL_FILE = EXPECTED / "upgrade.sql"


def oracle_dialect() -> Dialect:
    """The dialect an ``oracle+oracledb://`` URL gets (thin mode needs no client)."""
    dialect: Dialect = sa.make_url("oracle+oracledb://").get_dialect()()
    return dialect


def protocol_methods() -> set[str]:
    """The methods a store must have for sending, for the table source, for
    budgets shared by agents, the shared rate and daily budget, and for the
    history of limits."""
    names = {
        name
        for proto in (Store, SourceLedger, BudgetStore, CapChangeStore, RateStore, RecipientStore)
        for name, _ in inspect.getmembers(proto, inspect.isfunction)
        if not name.startswith("_")
    }
    return names - {"close"}


class _Recorder:
    """Wraps a store: notes each method called, and each statement it runs."""

    def __init__(self, store: SQLStore) -> None:
        self.store = store
        self.called: set[str] = set()
        self.statements: dict[str, str] = {}
        self._method = "open"
        self._dialect = oracle_dialect()
        sa.event.listen(store.engine, "before_execute", self._executed)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.store, name)

        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            self.called.add(name)
            self._method = name
            return method(*args, **kwargs)

        return call

    def _executed(
        self, _conn: Any, element: Any, multiparams: Any, params: Any, _options: Any
    ) -> None:
        # Compiled as execute() compiles it: for the columns the parameters
        # give, and in its executemany form for a list of them.
        batch = list(multiparams) if multiparams else [params] if params else []
        keys = sorted(batch[0]) if batch else None
        compiled = element.compile(
            dialect=self._dialect, column_keys=keys, for_executemany=len(batch) > 1
        )
        self.statements.setdefault(str(compiled).strip(), self._method)


def _workload(store: Any) -> None:
    """Every way the core and the table source use a store, once."""
    ids = store.enqueue([envelope(i) for i in range(8)], sending_key=KEY)
    now = utcnow()
    claimed = [c.id for c in store.claim(owner="a", sending_key=KEY, limit=8, lease_s=60)]
    alike = claimed[:4]
    sent_one, retried, narrowed, failed = claimed[4:]
    store.record(
        [attempt(pk) for pk in alike] + [attempt(failed, NO_USER)],
        [decision(pk, last_reply=OK) for pk in alike]
        + [
            decision(sent_one),
            decision(retried, Status.RETRY, next_attempt_at=later(60), last_reply=LATER),
            decision(narrowed, Status.RETRY, recipients=("b@x.org",), next_attempt_at=now),
            decision(failed, Status.FAILED, recipients=("c@x.org",), last_reply=NO_USER),
        ],
        owner="a",
    )
    store.claim(owner="b", sending_key=KEY, limit=2, lease_s=60)
    store.renew(owner="b", lease_s=60)
    store.release(owner="b", message_pks=[narrowed])
    store.release(owner="b")
    store.next_due(sending_key=KEY)
    store.counts()
    store.unknown_attempts()
    store.recent_failures(since=later(-60), limit=5)
    store.states(ids)
    store.oldest_unsent(sending_key=KEY)
    store.unsent_by_key()
    store.adopt(from_key="old@relay.example.org:25", to_key=KEY)
    store.requeue(statuses=[Status.FAILED], since=None)
    store.requeue(statuses=[Status.DEAD], since=later(-60))
    store.pause_key(sending_key=KEY, pause_s=3600)
    _ledger_workload(store)
    _budget_workload(store)
    _cap_change_workload(store)
    _limits_workload(store)
    _purge_workload(store)


def _ledger_workload(store: Any) -> None:
    rows = [("1", envelope(100)), ("2", envelope(101))]
    store.source_states("table", ["1", "2"])
    [first, _, _] = store.enqueue_from_source(
        "table", rows, sending_key=KEY, rejected=[("3", "not sent: x")]
    )
    [claimed] = store.claim(owner="c", sending_key=KEY, limit=1, lease_s=60)
    store.record([], [decision(claimed.id)], owner="c")
    store.unreported("table", limit=100)
    store.mark_reported("table", [first])


def _budget_workload(store: Any) -> None:
    settings = LimiterConfig(initial_cap=2, min_cap=1, max_cap=3)
    store.budget_view(sending_key=KEY, settings=settings)
    for holder in ("a", "b", "c"):  # the last finds none free
        store.take_slot(sending_key=KEY, holder=holder, held=0, below=3, lease_s=10)
    store.mark_slot(sending_key=KEY, holder="a", slot_no=0, proven=True)
    store.mark_slot(sending_key=KEY, holder="b", slot_no=1, proven=True)
    store.renew_slots(sending_key=KEY, holder="a", lease_s=10)
    store.grow_budget(sending_key=KEY, seen_cap=2, seen_epoch=0, settings=settings)
    store.cut_budget(sending_key=KEY, seen_epoch=0, settings=settings)
    store.pause_budget(sending_key=KEY, pause_s=5)
    store.hold_probes(sending_key=KEY, pause_s=5)
    store.release_slots(sending_key=KEY, holder="a", slot_no=0)
    store.release_slots(sending_key=KEY, holder="b")


def _cap_change_workload(store: Any) -> None:
    # Written before the purge, which then deletes them.
    changes = [
        CapChangeRecord(
            sending_key=KEY,
            agent="a",
            changed_at=later(-60),
            kind=kind,
            old_value=None,
            new_value=2,
            reason="cut",
            ceiling=None,
        )
        for kind in LimitKind
    ]
    store.record_cap_changes(changes)
    store.cap_changes(since=later(-3600))
    store.cap_changes(since=later(-3600), until=later(0), sending_key=KEY)


def _limits_workload(store: Any) -> None:
    # The first take and charge make the key's row, the second finds it.
    for _ in range(2):
        store.take_tokens(sending_key=KEY, per_minute=120, least=1, most=1)
    first = store.charge_recipients(
        sending_key=KEY, day_limit=5, sizes=[3], settlement=Settlement()
    )
    # Too many for what is left: the wait is read from the charges.
    given_back = Settlement(given_back={first.charge_id: 1}, renewed=frozenset({first.charge_id}))
    store.charge_recipients(sending_key=KEY, day_limit=5, sizes=[4], settlement=given_back)
    store.settle_recipients(settlement=Settlement(given_back={first.charge_id: 2}))
    store.recipient_usage()


def _purge_workload(store: Any) -> None:
    # A final message from a site's table whose outcome went back, so that the
    # purge also locks and deletes a source row.
    key = "purge@relay.example.org:25"
    pk = store.enqueue_from_source("purged", [("9", envelope(200))], sending_key=key)["9"]
    store.claim(owner="d", sending_key=key, limit=1, lease_s=60)
    store.record([attempt(pk)], [decision(pk)], owner="d")
    store.mark_reported("purged", [pk])
    store.purge(before=later(3600), dry_run=True)
    store.purge(before=later(3600))


def captured_statements(tmp_path: Path) -> tuple[str, set[str]]:
    """The Oracle SQL of every statement the workload ran, in first-run order,
    each headed by the store method that ran it; and the methods called."""
    store = open_store(f"sqlite:///{tmp_path / 'oracle-shaped.db'}")
    store.claim_style = "cursor"
    store.sqlite_fast = False
    recorder = _Recorder(store)
    try:
        _workload(recorder)
    finally:
        store.close()
    text = "".join(f"-- {method}\n{sql};\n\n" for sql, method in recorder.statements.items())
    return text, recorder.called


def oracle_ddl() -> str:
    """What ``adaptsend db upgrade --sql`` prints for an Oracle URL."""
    return upgrade_sql("oracle+oracledb://user@db.example.com:1521/?service_name=MAIL")


def _write_expected() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        statements, _ = captured_statements(Path(tmp))
    DML_FILE.write_text(statements)
    DDL_FILE.write_text(oracle_ddl())
    print(f"wrote {DML_FILE} and {DDL_FILE}; review the difference", file=sys.stderr)


if __name__ == "__main__":
    _write_expected()
