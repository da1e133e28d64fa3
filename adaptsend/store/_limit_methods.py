"""The SQL store's half that keeps budgets besides the connection cap: the
shared message rate (``adaptsend.store._rate_api.RateStore``) and the daily
recipient budget (``adaptsend.store._day_api.RecipientStore``). The SQL is in
``_rates`` and ``_recipients``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from adaptsend.store import _rates, _recipients
from adaptsend.store._day_api import DayUsage, RecipientGrant, Settlement
from adaptsend.store._rate_api import TokenGrant


class LimitMethods:
    """Mixed into SQLStore, which gives the engine."""

    engine: Engine

    def take_tokens(
        self, *, sending_key: str, per_minute: float, least: int, most: int
    ) -> TokenGrant:
        """Take ``least`` to ``most`` tokens of the key's shared message rate, or none."""
        return _rates.take(
            self.engine, sending_key=sending_key, per_minute=per_minute, least=least, most=most
        )

    def charge_recipients(
        self,
        *,
        sending_key: str,
        day_limit: int,
        sizes: Sequence[int],
        settlement: Settlement,
    ) -> RecipientGrant:
        """Apply ``settlement``, then charge the first messages that fit the key's day."""
        return _recipients.charge(
            self.engine,
            sending_key=sending_key,
            day_limit=day_limit,
            sizes=sizes,
            settlement=settlement,
        )

    def settle_recipients(self, *, settlement: Settlement) -> None:
        """Give recipients back to their charges, and finish charges."""
        _recipients.settle(self.engine, settlement=settlement)

    def recipient_usage(self) -> list[DayUsage]:
        """The daily recipient budget of every key that has one."""
        return _recipients.usage(self.engine)
