"""One rule's sliding window: when it fires, repeats, and resolves."""

from __future__ import annotations

from adaptsend import AlertRuleConfig, AlertsConfig, Reply, Severity
from adaptsend.alerts._engine import summary
from adaptsend.alerts._rules import Change, Event, RuleState

THROTTLE = Reply(code=432, enhanced="4.3.2", text="Concurrent connections limit exceeded")
BUSY = Reply(code=421, enhanced="4.7.0", text="Server busy")


def rule(**overrides: object) -> AlertRuleConfig:
    values: dict[str, object] = {
        "name": "throttling",
        "when": "throttled",
        "threshold": 3,
        "window_s": 10.0,
        "cooldown_s": 60.0,
    }
    values.update(overrides)
    return AlertRuleConfig(**values)  # type: ignore[arg-type]


def feed(state: RuleState, times: list[float], reply: Reply = THROTTLE) -> list[Change]:
    changes = []
    for n, at in enumerate(times):
        state.add(Event(at=at, message_pk=n, reply=reply))
        draft = state.evaluate(at)
        if draft is not None:
            changes.append(draft.change)
    return changes


def test_crossing_the_threshold_fires_once_while_the_burst_lasts() -> None:
    state = RuleState(rule())
    assert feed(state, [1.0, 1.1, 1.2, 1.3, 2.0, 5.0, 9.0]) == [Change.FIRED]
    assert state.firing


def test_a_rule_still_over_its_threshold_repeats_once_per_cooldown() -> None:
    state = RuleState(rule(cooldown_s=30.0))
    times = [float(t) for t in range(0, 95)]  # one event a second, for 95 s
    changes = feed(state, times)
    assert changes == [Change.FIRED, Change.REPEATED, Change.REPEATED, Change.REPEATED]


def test_falling_below_the_threshold_resolves_once() -> None:
    state = RuleState(rule())
    feed(state, [0.0, 0.5, 1.0])
    assert state.evaluate(5.0) is None
    resolved = state.evaluate(10.6)
    assert resolved is not None
    assert resolved.change is Change.RESOLVED
    assert resolved.severity is Severity.RESOLVED
    assert resolved.count < 3
    assert state.evaluate(20.0) is None
    assert not state.firing


def test_events_older_than_the_window_do_not_count() -> None:
    state = RuleState(rule())
    assert feed(state, [0.0, 4.0, 10.5, 14.5]) == []
    assert state.level(14.5) == 2  # 0.0 and 4.0 have left the 10 s window


def test_a_draft_names_the_top_replies_and_the_latest_messages() -> None:
    state = RuleState(rule(threshold=4))
    for n, reply in enumerate([BUSY, THROTTLE, THROTTLE, THROTTLE]):
        state.add(Event(at=1.0 + n / 10, message_pk=100 + n, reply=reply))
    draft = state.evaluate(1.5)
    assert draft is not None
    assert [(r.code, r.count) for r in draft.top_replies] == [(432, 3), (421, 1)]
    assert draft.top_replies[0].describe() == (
        "432 4.3.2 Concurrent connections limit exceeded (x3)"
    )
    assert draft.sample_pks == (103, 102, 101, 100)


def test_dead_and_fatal_are_critical_by_default_and_severity_can_be_set() -> None:
    dead = RuleState(rule(name="dead", when="dead", threshold=1))
    dead.add(Event(at=0.0, message_pk=1, reply=None))
    draft = dead.evaluate(0.0)
    assert draft is not None and draft.severity is Severity.CRITICAL
    quiet = RuleState(rule(threshold=1, severity="critical"))
    quiet.add(Event(at=0.0, message_pk=1, reply=THROTTLE))
    draft = quiet.evaluate(0.0)
    assert draft is not None and draft.severity is Severity.CRITICAL


def test_queue_age_compares_the_measured_age_with_the_threshold() -> None:
    state = RuleState(rule(name="stuck", when="queue_age", threshold=600))
    state.measure_age(120.0, "<a@example.com>")
    assert state.evaluate(0.0) is None
    state.measure_age(700.0, "<a@example.com>")
    draft = state.evaluate(1.0)
    assert draft is not None
    assert (draft.change, draft.count, draft.sample_message_ids) == (
        Change.FIRED,
        700,
        ("<a@example.com>",),
    )
    state.measure_age(0.0, None)
    resolved = state.evaluate(2.0)
    assert resolved is not None and resolved.change is Change.RESOLVED


def test_the_defaults_cover_dead_fatal_failures_throttling_outages_quotas_and_the_day() -> None:
    rules = {r.name: r for r in AlertsConfig().active_rules()}
    assert {(r.when, r.threshold) for r in rules.values()} == {
        ("dead", 1),
        ("fatal", 1),
        ("failed", 10),
        ("throttled", 20),
        ("unreachable", 60),
        ("quota", 1),
        ("day_budget", 60),
    }
    assert rules["unreachable"].severity == "critical"
    # Once per pause: a quota pauses the key for quota_pause_s (an hour).
    assert (rules["quota"].severity, rules["quota"].cooldown_s) == ("critical", 3600)
    # A used-up day may last hours: once an hour is enough to remind.
    assert (rules["day_budget"].severity, rules["day_budget"].cooldown_s) == (None, 3600)


def test_a_configured_rule_replaces_a_default_of_the_same_name() -> None:
    config = AlertsConfig(rules=(rule(threshold=5), rule(name="slow", when="queue_age")))
    rules = config.active_rules()
    assert [r.name for r in rules] == [
        "dead",
        "fatal",
        "failures",
        "throttling",
        "unreachable",
        "quota",
        "day_budget",
        "slow",
    ]
    assert rules[3].threshold == 5
    assert [r.name for r in AlertsConfig(defaults=False, rules=(rule(),)).active_rules()] == [
        "throttling"
    ]


def test_an_outage_is_measured_from_its_first_report_until_it_ends() -> None:
    state = RuleState(rule(name="unreachable", when="unreachable", threshold=60))
    state.measure_spell(10.0, 10.0, reply=BUSY)
    state.measure_spell(40.0, 40.0, reply=THROTTLE)  # told again: the start stays
    assert state.level(69.0) == 59.0
    fired = state.evaluate(70.0)
    assert fired is not None
    assert (fired.change, fired.count, fired.last_reply) == (Change.FIRED, 60, THROTTLE)
    state.measure_spell(None, 85.0)
    resolved = state.evaluate(85.0)
    assert resolved is not None
    assert (resolved.change, resolved.count) == (Change.RESOLVED, 75)


def test_a_used_up_day_is_measured_until_a_message_fits_and_says_how_far_it_is_used() -> None:
    state = RuleState(rule(name="day_budget", when="day_budget", threshold=60))
    used_up = (
        "the daily recipient budget of k is used up (10 of 10 recipients in the last 24 hours)"
    )
    state.measure_spell(100.0, 100.0, detail=used_up)
    assert state.evaluate(159.0) is None
    fired = state.evaluate(161.0)
    assert fired is not None
    assert (fired.change, fired.severity, fired.count) == (Change.FIRED, Severity.WARNING, 61)
    assert summary(fired) == f"{used_up}; messages have waited 61 s for room (threshold 60 s)"
    state.measure_spell(None, 400.0)
    resolved = state.evaluate(400.0)
    assert resolved is not None
    assert summary(resolved) == (
        "the daily recipient budget has room again after 300 s used up (threshold 60 s)"
    )
