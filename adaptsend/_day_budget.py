"""``[limiter] max_recipients_per_day``: a daily recipient budget per sending
key, counted in the store for every agent on it (Exchange Online allows
10,000 recipients a day per mailbox).

What counts: every recipient the server accepted, over the last 24 hours. A
message to three recipients counts three; one sent in several transactions
(``[smtp] max_recipients``) counts each recipient once; a recipient the
server refused counts nothing, and is counted when a later attempt gets it
accepted. A send that ended with no final reply after its content went out
(outcome ``unknown``) counts all its recipients: it may have been delivered.

How: a message's recipients are *charged* to the day before its send
starts, and given back when the server does not accept them, so agents
sending at once never go past the limit together. Charges are taken from
the store in grants (:func:`grant_size`, a hundredth of the limit), and what
a grant brings is used by this agent's messages within :data:`GRANT_LIFE_S`
and then given back; the store counts a charge for a day and two minutes
(``_day_api.COUNTED_S``), which covers the sends of a grant's minute.

A message that does not fit waits, and the messages behind it wait too (in
turn: a large message is not passed by small ones for ever). The budget
tells ``on_full`` how long until the oldest charges free enough room; the
run decides whether to wait or to end, deferred (see ``_key_pauses``). A
message with more recipients than the whole day allows never fits: it fails
at once, unsent, with one sentence that says so.

A run that stops gives back what it holds, but for the messages whose send
started and was never judged (it may have been delivered); an agent that
dies leaves its last grant charged for the day.
"""

from __future__ import annotations

import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence

import attrs
import trio

from adaptsend._config import Config
from adaptsend._day_api import RecipientStore
from adaptsend._errors import ConfigError
from adaptsend._models import ClaimedMessage, Outcome, Reply, Stage
from adaptsend._store_thread import StoreThread
from adaptsend._transport import SendResult

log = logging.getLogger("adaptsend.run")

#: Seconds a grant's recipients may be used by this agent's messages; the
#: rest then goes back to the day.
GRANT_LIFE_S = 60.0
#: While the day is used up, how often to ask the store again: other agents
#: give recipients back, and the oldest charges stop counting.
RECHECK_S = 15.0


def grant_size(per_day: int) -> int:
    """Recipients a grant asks for at least: a hundredth of the day (an
    agent that dies loses no more), at least one, at most a thousand."""
    return max(1, min(1000, per_day // 100))


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
    #: The first time since room was last found.
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


@attrs.define
class _Pool:
    """What is left of the latest grant."""

    charge_id: int
    left: int
    at: float


class RecipientBudget:
    """The daily recipient budget of ``sending_key``; see the module docstring.

    Use inside :meth:`running`. Workers :meth:`admit` a batch before sending
    it, say :meth:`sending` when a send starts, and :meth:`settle` each
    message's judgement.
    """

    def __init__(
        self,
        *,
        store: StoreThread,
        sending_key: str,
        per_day: int,
        on_full: Callable[[DayFull], None],
        grant_life_s: float = GRANT_LIFE_S,
        recheck_s: float = RECHECK_S,
    ) -> None:
        if not isinstance(store.store, RecipientStore):
            raise TypeError("The store does not count recipients.")
        self._thread = store
        self._store: RecipientStore = store.store
        self.sending_key = sending_key
        self.per_day = per_day
        self._on_full = on_full
        self._life_s = grant_life_s
        self._recheck_s = recheck_s
        self._grant = grant_size(per_day)
        #: Recipients counted in the store at the latest charge.
        self.used = 0
        self._pool: _Pool | None = None
        self._tickets: dict[int, _Ticket] = {}
        self._give_back: collections.Counter[int] = collections.Counter()
        self._full = False
        self._turn = trio.Lock()
        self._waits: set[trio.CancelScope] = set()
        self._stopped = False

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

    async def admit(self, batch: Sequence[ClaimedMessage]) -> list[ClaimedMessage] | None:
        """The first messages of ``batch`` whose recipients are charged, at
        least one, waiting for room for the first; None, charging nothing
        more, once :meth:`stop` has been called, also during the wait. Every
        message must fit the day (see :meth:`never_fits`)."""
        if self._stopped:
            return None
        with trio.CancelScope() as waiting:
            self._waits.add(waiting)
            try:
                async with self._turn:
                    return await self._admit(batch)
            finally:
                self._waits.discard(waiting)
        return None

    def sending(self, batch: Sequence[ClaimedMessage]) -> None:
        """The sends of ``batch`` start: if never judged, they stay charged."""
        for message in batch:
            ticket = self._tickets.get(message.id)
            if ticket is not None:
                ticket.started = True

    def settle(self, message: ClaimedMessage, result: SendResult, signal: Outcome) -> None:
        """Keep the recipients the server accepted (all of them for an
        unknown outcome) charged, and give the others back."""
        ticket = self._tickets.pop(message.id, None)
        if ticket is None:
            return
        if signal is Outcome.SENT:
            kept = ticket.count - len(set(result.refused) & set(message.envelope.recipients))
        else:
            kept = ticket.count if signal is Outcome.UNKNOWN else 0
        self._return(ticket.charge_id, ticket.count - kept)

    def stop(self) -> None:
        """End every wait for room; later calls of :meth:`admit` return None."""
        self._stopped = True
        for waiting in list(self._waits):
            waiting.cancel()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Give unused recipients back as grants age; at the end, give back
        all this run holds but for the sends that started and were never
        judged."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._keep_tidy)
                try:
                    yield
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await self._give_back_all()

    async def _admit(self, batch: Sequence[ClaimedMessage]) -> list[ClaimedMessage]:
        admitted: list[ClaimedMessage] = []
        for at, message in enumerate(batch):
            if message.id not in self._tickets and not self._charge(message):
                if admitted:
                    break
                rest = batch[at:]
                wanted = sum(len(m.envelope.recipients) for m in rest if m.id not in self._tickets)
                await self._wait_for_grant(len(message.envelope.recipients), wanted)
                self._charge(message)
            admitted.append(message)
        return admitted

    def _charge(self, message: ClaimedMessage) -> bool:
        """Charge ``message`` to the latest grant if it has room left."""
        count = len(message.envelope.recipients)
        pool = self._live_pool()
        if pool is None or pool.left < count:
            return False
        pool.left -= count
        self._tickets[message.id] = _Ticket(charge_id=pool.charge_id, count=count)
        return True

    async def _wait_for_grant(self, least: int, wanted: int) -> None:
        """Get a grant of ``least`` recipients at least, waiting for room."""
        while True:
            if self._pool is not None:
                # Too little left for this message: back to the day.
                self._return_pool()
            give_back, self._give_back = self._give_back, collections.Counter()
            try:
                grant = await self._thread.call(
                    self._store.charge_recipients,
                    sending_key=self.sending_key,
                    day_limit=self.per_day,
                    least=least,
                    most=max(wanted, self._grant),
                    give_back=give_back,
                )
            except BaseException:
                self._give_back.update(give_back)
                raise
            self.used = grant.used
            if grant.charge_id is not None:
                self._pool = _Pool(grant.charge_id, grant.granted, trio.current_time())
                self._full = False
                return
            full = DayFull(
                sending_key=self.sending_key,
                used=grant.used,
                per_day=self.per_day,
                needed=least,
                wait_s=grant.wait_s,
                first=not self._full,
            )
            self._full = True
            self._on_full(full)
            await trio.sleep(min(grant.wait_s, self._recheck_s))

    def _live_pool(self) -> _Pool | None:
        pool = self._pool
        if pool is not None and trio.current_time() - pool.at > self._life_s:
            self._return_pool()
            return None
        return pool

    def _return_pool(self) -> None:
        if self._pool is not None:
            self._give_back[self._pool.charge_id] += self._pool.left
            self._pool = None

    def _return(self, charge_id: int, count: int) -> None:
        """Give ``count`` recipients of charge ``charge_id`` back: to the
        latest grant while it lasts, else to the day."""
        if count <= 0:
            return
        pool = self._live_pool()
        if pool is not None and pool.charge_id == charge_id:
            pool.left += count
        else:
            self._give_back[charge_id] += count

    async def _keep_tidy(self) -> None:
        while True:
            await trio.sleep(self._life_s / 4)
            self._live_pool()
            await self._flush()

    async def _give_back_all(self) -> None:
        self._return_pool()
        for ticket in self._tickets.values():
            if not ticket.started:
                self._give_back[ticket.charge_id] += ticket.count
        self._tickets = {pk: t for pk, t in self._tickets.items() if t.started}
        await self._flush()

    async def _flush(self) -> None:
        give_back, self._give_back = self._give_back, collections.Counter()
        if not give_back:
            return
        try:
            await self._thread.call(self._store.give_back_recipients, give_back=give_back)
        except Exception as exc:
            # Recipients not given back only count longer than they need to:
            # the safe side, not worth ending the run for.
            log.warning(
                "%s: could not give %d recipient(s) back to the daily budget (%s); "
                "they count for a day",
                self.sending_key,
                sum(give_back.values()),
                exc,
            )


def make_day_budget(
    config: Config, store: StoreThread, sending_key: str, *, on_full: Callable[[DayFull], None]
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
    return RecipientBudget(store=store, sending_key=sending_key, per_day=per_day, on_full=on_full)


def day_running(budget: RecipientBudget | None) -> contextlib.AbstractAsyncContextManager[None]:
    """What must run around the workers that use ``budget``: its
    :meth:`~RecipientBudget.running`, or nothing when there is no budget."""
    return contextlib.nullcontext() if budget is None else budget.running()
