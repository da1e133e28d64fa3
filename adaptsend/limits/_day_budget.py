"""``[limiter] max_recipients_per_day``: a daily recipient budget per sending
key, counted in the store for every agent on it (Exchange Online allows
10,000 recipients a day per mailbox).

What counts: every recipient the server accepted, over the last 24 hours. A
message to three recipients counts three; one sent in several transactions
(``[smtp] max_recipients``) counts each recipient once; a recipient the
server refused counts nothing, and is counted when a later attempt gets it
accepted. A send that ended with no final reply after its content went out
(outcome ``unknown``) counts all its recipients: it may have been delivered.

How: each page of messages the run claims is *charged* to the day before
any of them is sent, in one store call, so agents sending at once never go
past the limit together. The first messages that fit are charged; the
others go back to the queue at once. When a message has been judged, the
recipients the server did not accept go back to its charge. Every few
seconds the run renews the charges whose messages it is still sending, and
once more those whose last message was just judged: a charge counts for a
day after its last message went out (see ``_day_api``).

A message that does not fit waits, and those queued after it wait too (a
large message is not passed by small ones for ever). While this run's own
sends may still give recipients back, it waits for them; then the budget
tells ``on_full`` how long until the oldest charges free enough room, and
the run decides whether to wait or to end, deferred (see ``_pauses``); once
a message fits again, ``on_room`` hears of it.
A message with more recipients than the whole day allows never fits: it
passes uncharged, and fails unsent with one sentence that says why.

A run that stops gives back what it charged for messages it never started
to send; a send that started and was never judged keeps its recipients
counted (it may have been delivered).
"""

from __future__ import annotations

import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence

import attrs
import trio

from adaptsend._errors import ConfigError
from adaptsend._models import ClaimedMessage, Outcome, Reply, Stage
from adaptsend.config._settings import Config
from adaptsend.limits._stoppable import StoppableWaits
from adaptsend.store._api import Store
from adaptsend.store._day_api import DayUsage, RecipientGrant, RecipientStore, Settlement
from adaptsend.store._thread import StoreThread
from adaptsend.transports._contract import SendResult

log = logging.getLogger("adaptsend.run")

#: How often recipients given back and charges renewed go to the store
#: (also with every charge): a charge counts this much longer than it must.
SETTLE_S = 5.0
#: While the day is used up, how often to ask the store again: the oldest
#: charges stop counting, and other agents give recipients back.
RECHECK_S = 15.0


@attrs.frozen(kw_only=True)
class DayFull:
    """The day's budget has no room for the next message."""

    sending_key: str
    used: int
    per_day: int
    #: Recipients the next message needs.
    needed: int
    #: Seconds until the oldest charges free enough room.
    wait_s: float
    #: The first time since a message last fitted.
    first: bool

    def describe(self) -> str:
        return (
            f"the daily recipient budget of {self.sending_key} is used up "
            f"({self.used} of {self.per_day} recipients in the last 24 hours)"
        )


@attrs.define
class _Ticket:
    """The recipients charged for one message."""

    charge_id: int
    count: int
    started: bool = False


class RecipientBudget:
    """The daily recipient budget of ``sending_key``; see the module docstring.

    Use inside :meth:`running`. The run :meth:`admit` each page it claims
    (as ``owner``, whose leases go back for the messages that do not fit);
    workers say when sends start (:meth:`sending`) and :meth:`settle` each
    message's judgement.
    """

    def __init__(
        self,
        *,
        store: StoreThread,
        sending_key: str,
        owner: str,
        per_day: int,
        on_full: Callable[[DayFull], None],
        on_room: Callable[[], None] = lambda: None,
        settle_s: float = SETTLE_S,
        recheck_s: float = RECHECK_S,
    ) -> None:
        if not isinstance(store.store, RecipientStore):
            raise TypeError("The store does not count recipients.")
        self._thread = store
        self._store: RecipientStore = store.store
        self.sending_key = sending_key
        self._owner = owner
        self.per_day = per_day
        self._on_full = on_full
        self._on_room = on_room
        self._settle_s = settle_s
        self._recheck_s = recheck_s
        #: Recipients counted in the store at the latest charge.
        self.used = 0
        self._tickets: dict[int, _Ticket] = {}
        # Tickets not yet settled, per charge.
        self._open: collections.Counter[int] = collections.Counter()
        self._given_back: collections.Counter[int] = collections.Counter()
        # Charges whose last ticket was settled since the last report.
        self._done: set[int] = set()
        self._settled = trio.Event()
        #: The day as it was found used up, until a message fits again.
        self.full: DayFull | None = None
        self._waits = StoppableWaits()

    def never_fits(self, message: ClaimedMessage) -> bool:
        """Whether ``message`` has more recipients than the whole day allows."""
        return len(message.envelope.recipients) > self.per_day

    def refusal(self, message: ClaimedMessage) -> SendResult:
        """The permanent failure of a message that never fits."""
        text = (
            f"The message has {len(message.envelope.recipients)} recipients, more than the "
            f"{self.per_day} a day that [limiter] max_recipients_per_day allows this account; "
            "it was not sent."
        )
        reply = Reply(code=None, text=text, stage=Stage.RCPT)
        return SendResult(reply=reply, outcome=Outcome.PERMANENT)

    async def admit(self, claimed: Sequence[ClaimedMessage]) -> list[ClaimedMessage]:
        """The messages of ``claimed`` to send: the first ones that fit the
        day, charged, and those that never fit (to fail unsent). The others
        go back to the queue. While none fits, waits for this run's sends to
        give recipients back; then, once the day has no room, tells
        ``on_full`` and waits for a while (or until :meth:`stop`) before it
        returns, empty-handed, so that the run claims again."""
        never = [m for m in claimed if self.never_fits(m)]
        page = [m for m in claimed if not self.never_fits(m)]
        with self._waits.waiting():
            while page and not self._waits.stopped:
                grant = await self._charge(page)
                if grant.messages:
                    page, rest = page[: grant.messages], page[grant.messages :]
                    await self._hand_back(rest)
                    return never + page
                if self._given_back:
                    # Given back while the store was asked: ask again.
                    continue
                if self._tickets:
                    # This run's sends may give some back: ask again when one is judged.
                    with trio.move_on_after(self._recheck_s):
                        await self._settled.wait()
                    continue
                self._report_full(grant, needed=len(page[0].envelope.recipients))
                await self._hand_back(page)
                page = []
                await trio.sleep(self._recheck_s)
        await self._hand_back(page)
        return never

    def sending(self, batch: Sequence[ClaimedMessage]) -> None:
        """The sends of ``batch`` start: if never judged, they stay counted."""
        for message in batch:
            ticket = self._tickets.get(message.id)
            if ticket is not None:
                ticket.started = True

    def settle(self, message: ClaimedMessage, result: SendResult, signal: Outcome) -> None:
        """Keep the recipients the server accepted (all of them for an
        unknown outcome) counted, and give the others back."""
        ticket = self._tickets.pop(message.id, None)
        if ticket is None:
            return
        if signal is Outcome.SENT:
            kept = ticket.count - len(set(result.refused) & set(message.envelope.recipients))
        else:
            kept = ticket.count if signal is Outcome.UNKNOWN else 0
        self._close(ticket, given_back=ticket.count - kept)

    def stop(self) -> None:
        """End every wait for room; later pages are handed back whole."""
        self._waits.stop()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Report what was given back, and renew the charges, every few
        seconds; at the end, give back what was charged for messages never
        sent, and renew every charge once more."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._keep_settling)
                try:
                    yield
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await self._settle_all()

    async def _charge(self, page: list[ClaimedMessage]) -> RecipientGrant:
        """Charge the first messages of ``page`` that fit, if any."""
        settlement = self._take_settlement()
        try:
            # Shielded: a charge made must be known, to be given back.
            with trio.CancelScope(shield=True):
                grant = await self._thread.call(
                    self._store.charge_recipients,
                    sending_key=self.sending_key,
                    day_limit=self.per_day,
                    sizes=[len(m.envelope.recipients) for m in page],
                    settlement=settlement,
                )
        except BaseException:
            self._put_back(settlement)
            raise
        self.used = grant.used
        if grant.charge_id is None:
            return grant
        if self.full is not None:
            self.full = None
            self._on_room()
        for message in page[: grant.messages]:
            count = len(message.envelope.recipients)
            self._tickets[message.id] = _Ticket(charge_id=grant.charge_id, count=count)
        self._open[grant.charge_id] += grant.messages
        return grant

    def _report_full(self, grant: RecipientGrant, *, needed: int) -> None:
        full = DayFull(
            sending_key=self.sending_key,
            used=grant.used,
            per_day=self.per_day,
            needed=needed,
            wait_s=grant.wait_s,
            first=self.full is None,
        )
        self.full = full
        self._on_full(full)

    async def _hand_back(self, messages: Sequence[ClaimedMessage]) -> None:
        if messages:
            store = self._thread.store
            pks = [m.id for m in messages]
            with trio.CancelScope(shield=True):
                await self._thread.call(store.release, owner=self._owner, message_pks=pks)

    def _close(self, ticket: _Ticket, *, given_back: int) -> None:
        if given_back > 0:
            self._given_back[ticket.charge_id] += given_back
        self._open[ticket.charge_id] -= 1
        if self._open[ticket.charge_id] <= 0:
            del self._open[ticket.charge_id]
            self._done.add(ticket.charge_id)
        self._settled.set()
        self._settled = trio.Event()

    def _take_settlement(self) -> Settlement:
        renewed = frozenset(self._done | set(self._open))
        settlement = Settlement(given_back=dict(self._given_back), renewed=renewed)
        self._given_back, self._done = collections.Counter(), set()
        return settlement

    def _put_back(self, settlement: Settlement) -> None:
        self._given_back.update(settlement.given_back)
        self._done |= settlement.renewed

    async def _keep_settling(self) -> None:
        while True:
            await trio.sleep(self._settle_s)
            await self._report_settlement()

    async def _settle_all(self) -> None:
        for ticket in list(self._tickets.values()):
            self._close(ticket, given_back=0 if ticket.started else ticket.count)
        self._tickets.clear()
        await self._report_settlement()

    async def _report_settlement(self) -> None:
        settlement = self._take_settlement()
        if not settlement:
            return
        try:
            await self._thread.call(self._store.settle_recipients, settlement=settlement)
        except Exception as exc:
            # Recipients not given back only count longer than they must:
            # the safe side, not worth ending the run for.
            log.warning(
                "%s: could not report %d recipient(s) given back to the daily budget (%s); "
                "they count for a day",
                self.sending_key,
                sum(settlement.given_back.values()),
                exc,
            )


def make_day_budget(
    config: Config,
    store: StoreThread,
    sending_key: str,
    owner: str,
    *,
    on_full: Callable[[DayFull], None],
    on_room: Callable[[], None],
) -> RecipientBudget | None:
    """The daily recipient budget ``[limiter] max_recipients_per_day`` asks
    for; None when it is unset. Raises ConfigError when the store cannot
    count recipients."""
    per_day = config.limiter.max_recipients_per_day
    if per_day is None:
        return None
    if not isinstance(store.store, RecipientStore):
        raise ConfigError(
            "[limiter] max_recipients_per_day needs a store that counts recipients, "
            "and the configured store does not"
        )
    return RecipientBudget(
        store=store,
        sending_key=sending_key,
        owner=owner,
        per_day=per_day,
        on_full=on_full,
        on_room=on_room,
    )


def day_running(budget: RecipientBudget | None) -> contextlib.AbstractAsyncContextManager[None]:
    """What must run around the workers that use ``budget``: its
    :meth:`~RecipientBudget.running`, or nothing when there is no budget."""
    return contextlib.nullcontext() if budget is None else budget.running()


def day_usage(store: Store, config: Config, sending_key: str) -> list[DayUsage]:
    """The daily budgets ``adaptsend status`` shows: every key's that the
    store counts, this agent's own with its configured limit (also before
    its first charge), by key."""
    found = store.recipient_usage() if isinstance(store, RecipientStore) else []
    per_day = config.limiter.max_recipients_per_day
    if per_day is None:
        return found
    own = next((u for u in found if u.sending_key == sending_key), None)
    mine = DayUsage(sending_key=sending_key, used=own.used if own else 0, day_limit=per_day)
    others = [u for u in found if u.sending_key != sending_key]
    return sorted([*others, mine], key=lambda usage: usage.sending_key)
