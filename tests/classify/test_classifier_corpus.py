"""The replies table in docs/replies.md is the classifier's corpus: every row
is classified here, so the documented verdicts and the rules cannot drift.
The page's rule tables name every rule an attempt's record can keep, with
its outcome."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adaptsend._models import Outcome, Reply, Stage
from adaptsend.classify._classifier import DEFAULT_RULES, Classifier, hint_for, parse_reply
from adaptsend.engine._transport_calls import TRANSPORT_ERROR
from adaptsend.transports._contract import TRANSPORT_RULE
from adaptsend.transports.smtp import _verdicts

ROOT = Path(__file__).resolve().parents[2]
REPLIES = ROOT / "docs" / "replies.md"

_CELL = re.compile(r"^`(.*)`$")


def _section(heading: str) -> list[list[str]]:
    """The cells of the table rows under ``### heading`` (header and rule line left out)."""
    text = REPLIES.read_text().split(f"\n### {heading}\n", 1)[1]
    text = re.split(r"\n#{2,3} ", text, maxsplit=1)[0]
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]


def _unquote(cell: str) -> str:
    found = _CELL.match(cell)
    assert found is not None, f"{cell!r} is not in backticks"
    return found.group(1)


def _reply(written: str, stage: Stage) -> Reply:
    """A reply as the table writes it: ``432 4.3.2 text`` or ``no reply Error: text``."""
    if written.startswith("no reply "):
        # describe() names the error's class first; the rules read the message.
        return parse_reply(None, written.removeprefix("no reply ").split(": ", 1)[1], stage)
    code, _, text = written.partition(" ")
    return parse_reply(int(code), text, stage)


def corpus() -> list[tuple[Reply, Outcome, str]]:
    cases = []
    previous: Reply | None = None
    for written, step, outcome, rule in _section("Replies from providers"):
        stage = Stage(step)
        if written == "the same reply":
            assert previous is not None
            reply = parse_reply(previous.code, previous.describe().split(" ", 1)[1], stage)
        else:
            reply = _reply(_unquote(written), stage)
        cases.append((reply, Outcome(outcome), _unquote(rule)))
        previous = reply
    return cases


def hints() -> dict[str, str]:
    return {_unquote(rule): _unquote(hint) for rule, hint in _section("What to do")}


@pytest.mark.parametrize(
    ("reply", "outcome", "rule"),
    corpus(),
    ids=lambda v: v.describe()[:60] if isinstance(v, Reply) else "",
)
def test_every_documented_reply_gets_its_documented_verdict(
    reply: Reply, outcome: Outcome, rule: str
) -> None:
    verdict = Classifier().classify(reply)
    assert (verdict.outcome, verdict.rule) == (outcome, rule)


def test_the_corpus_reads_the_table_it_should() -> None:
    cases = corpus()
    assert len(cases) >= 50
    # The parse keeps codes and enhanced statuses apart, as a client library's reply would.
    first = cases[0][0]
    assert (first.code, first.enhanced, first.stage) == (432, "4.3.2", Stage.DATA)
    assert any(reply.code is None for reply, _, _ in cases)


def test_every_built_in_rule_has_a_documented_reply() -> None:
    documented = {rule for _, _, rule in corpus()}
    missing = [rule.name for rule in DEFAULT_RULES if rule.name not in documented]
    assert missing == []


def test_every_hint_is_documented_word_for_word() -> None:
    expected = {rule.name: rule.hint for rule in DEFAULT_RULES if rule.hint is not None}
    assert hints() == expected


def test_hints_belong_to_fatal_rules_and_are_one_sentence() -> None:
    for rule in DEFAULT_RULES:
        if rule.hint is None:
            continue
        assert rule.outcome is Outcome.FATAL, rule.name
        assert rule.hint.endswith(".") and rule.hint.count(". ") == 0, rule.name


def test_a_documented_fatal_reply_with_a_rule_hint_gets_that_hint() -> None:
    by_rule = hints()
    for reply, outcome, rule in corpus():
        assert hint_for(reply) == by_rule.get(rule), reply.describe()
        if rule in by_rule:
            assert outcome is Outcome.FATAL


def test_the_built_in_rules_table_names_every_rule_in_order_with_its_outcome() -> None:
    rows = _section("The built-in rules")
    assert [number for number, _, _, _ in rows] == [str(n) for n in range(1, len(rows) + 1)]
    documented = [(_unquote(rule), outcome) for _, rule, outcome, _ in rows]
    assert documented == [(rule.name, rule.outcome.value) for rule in DEFAULT_RULES]


def test_every_verdict_of_the_transport_is_documented_with_its_outcome() -> None:
    documented = {
        _unquote(rule): outcome for rule, outcome, _ in _section("Verdicts of the transport")
    }
    assert documented == {
        _verdicts.NO_FINAL_REPLY: Outcome.UNKNOWN.value,
        _verdicts.REFUSED_BEFORE_SENDING: Outcome.PERMANENT.value,
        _verdicts.CONFIGURATION: Outcome.FATAL.value,
        TRANSPORT_ERROR: Outcome.TRANSIENT.value,
        TRANSPORT_RULE: "(any)",
    }
    assert set(_verdicts.ALL) <= set(documented)


def test_site_patterns_are_named_as_documented() -> None:
    site = Classifier.from_patterns(throttle=[r"4\.7\.652"], fatal=["Relay access denied"])
    names = [rule.name for rule in site.rules[:2]]
    assert names == ["site-fatal: Relay access denied", r"site-throttle: 4\.7\.652"]
    for name in names:
        assert f"`{name}`" in REPLIES.read_text()
