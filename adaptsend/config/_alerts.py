"""The ``[alerts]`` section: rules over recorded outcomes, and where alerts go.

Part of :class:`adaptsend.Config`; kept apart because the rest of the
configuration does not need to know what a rule is.
"""

from __future__ import annotations

import collections
from typing import Literal

import attrs

from adaptsend.config._validators import not_negative, positive

#: What a rule can watch. Events: ``throttled``, ``transient`` and ``unknown``
#: attempts (``unknown``: the content went out and no final reply came, so the
#: message may have been delivered), ``quota`` replies (a daily limit reached:
#: the key pauses), ``fatal`` replies, messages that ended
#: ``failed`` or ``dead``. Measures, in seconds: ``queue_age``, how long the
#: oldest unsent message has waited; ``unreachable``, how long the server has
#: not answered; ``day_budget``, how long the daily recipient budget
#: (``[limiter] max_recipients_per_day``) has been used up.
Trigger = Literal[
    "throttled",
    "transient",
    "unknown",
    "quota",
    "failed",
    "dead",
    "fatal",
    "queue_age",
    "unreachable",
    "day_budget",
]
#: The triggers that measure seconds rather than count events.
MEASURES = frozenset({"queue_age", "unreachable", "day_budget"})
#: The measures of a spell that begins and ends (rather than of a level read
#: now and then): the alert says how long it lasted when it resolves.
SPELLS = frozenset({"unreachable", "day_budget"})
RuleSeverity = Literal["warning", "critical"]
#: The triggers whose rules are critical unless they say otherwise: mail lost
#: for good, or none at all going out.
_CRITICAL_TRIGGERS = frozenset({"dead", "fatal", "unreachable", "quota"})


@attrs.frozen(kw_only=True)
class AlertRuleConfig:
    """One ``[[alerts.rules]]`` table."""

    name: str
    when: Trigger
    #: Events in the window that raise the alert (seconds for the measures).
    threshold: float = attrs.field(validator=positive)
    window_s: float = attrs.field(default=300.0, validator=positive)
    #: While the rule stays over its threshold, it alerts again at most this often.
    cooldown_s: float = attrs.field(default=900.0, validator=positive)
    #: Sinks to deliver to; ``[alerts] sinks`` when not given.
    sinks: tuple[str, ...] | None = None
    #: ``critical`` by default for dead, fatal, unreachable and quota, ``warning`` for the rest.
    severity: RuleSeverity | None = None

    def severity_in_force(self) -> RuleSeverity:
        """The severity given, or the one its trigger has by default."""
        if self.severity is not None:
            return self.severity
        return "critical" if self.when in _CRITICAL_TRIGGERS else "warning"


@attrs.frozen(kw_only=True)
class EmailAlertConfig:
    """``[alerts.email]``: the built-in email sink."""

    to: tuple[str, ...] = ()
    #: The From address; ``[smtp] username`` when not given.
    sender: str | None = None
    subject_prefix: str = "[adaptsend]"
    #: Tries per alert: the provider may refuse one more connection while the
    #: queue is being throttled, so a refused try waits and tries again.
    attempts: int = attrs.field(default=3, validator=positive)
    retry_delay_s: float = attrs.field(default=5.0, validator=not_negative)


#: The rules a default install runs, so that no loss is ever silent. A rule in
#: the configuration with the same name replaces one of these.
DEFAULT_RULES = (
    AlertRuleConfig(name="dead", when="dead", threshold=1),
    AlertRuleConfig(name="fatal", when="fatal", threshold=1),
    AlertRuleConfig(name="failures", when="failed", threshold=10),
    # The limiter costs a refusal now and then by design (one per probe);
    # twenty in five minutes means the limit fell or someone else is sending.
    AlertRuleConfig(name="throttling", when="throttled", threshold=20),
    # A minute covers a server's restart; longer, and a person should look.
    AlertRuleConfig(name="unreachable", when="unreachable", threshold=60, severity="critical"),
    # A quota pauses the key for an hour (quota_pause_s): once per pause.
    AlertRuleConfig(name="quota", when="quota", threshold=1, cooldown_s=3600, severity="critical"),
    # A run without --follow ends deferred at once and says why; one that
    # follows the queue waits for room, perhaps for hours: a person should know.
    AlertRuleConfig(name="day_budget", when="day_budget", threshold=60, cooldown_s=3600),
)


@attrs.frozen(kw_only=True)
class AlertsConfig:
    """``[alerts]``: rules, default sinks, and how long a run waits for them."""

    #: Run the built-in rules (dead, fatal, failures, throttling, unreachable,
    #: quota, day_budget) as well.
    defaults: bool = True
    #: Sinks for the rules that do not name their own.
    sinks: tuple[str, ...] = ("log",)
    rules: tuple[AlertRuleConfig, ...] = ()
    #: At the end of a run, how long to wait for alerts still being delivered.
    drain_s: float = attrs.field(default=10.0, validator=not_negative)
    email: EmailAlertConfig = EmailAlertConfig()

    def __attrs_post_init__(self) -> None:
        repeated = [n for n, c in collections.Counter(r.name for r in self.rules).items() if c > 1]
        if repeated:
            raise ValueError(f"rule names must be unique, and {repeated[0]!r} is used twice")

    def active_rules(self) -> tuple[AlertRuleConfig, ...]:
        """The rules in force: the defaults (unless turned off), replaced by
        name by the configured ones, then the other configured ones."""
        mine = {rule.name: rule for rule in self.rules}
        defaults = DEFAULT_RULES if self.defaults else ()
        kept = tuple(mine.pop(rule.name, rule) for rule in defaults)
        return kept + tuple(mine.values())

    def sinks_of(self, rule: AlertRuleConfig) -> tuple[str, ...]:
        return rule.sinks if rule.sinks is not None else self.sinks

    def sink_names(self) -> tuple[str, ...]:
        """Every sink some rule in force delivers to, in first-use order."""
        names = dict.fromkeys(self.sinks)
        for rule in self.active_rules():
            names.update(dict.fromkeys(self.sinks_of(rule)))
        return tuple(names)
