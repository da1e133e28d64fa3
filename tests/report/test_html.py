"""``adaptsend report --html`` opened in headless Chromium: the page is one
self-contained file, and its charts are drawn from the report's own numbers."""

from __future__ import annotations

import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image

from adaptsend._models import Outcome
from adaptsend.cli._main import cli
from adaptsend.report._text import CAP_COLOUR, OUTCOME_COLOURS, THROTTLE_COLOUR
from tests.helpers.chromium import dump_dom, screenshot
from tests.helpers.recorded_run import RecordedRun


class _Elements(HTMLParser):
    """Every element of a document: (tag, attributes, the chart it is in)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str], str | None]] = []
        self._chart: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "svg":
            self._chart = attributes.get("data-chart")
        self.found.append((tag, attributes, self._chart))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None


def elements(dom: str) -> list[tuple[str, dict[str, str], str | None]]:
    parser = _Elements()
    parser.feed(dom)
    return parser.found


@pytest.fixture(scope="module")
def page(recorded_run: RecordedRun, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The HTML report of the recorded run, and the JSON report made with it."""
    path = tmp_path_factory.mktemp("html") / "report.html"
    result = CliRunner().invoke(
        cli, ["--config", str(recorded_run.config), "report", "--json", "--html", str(path)]
    )
    assert result.exit_code == 0, result.output
    return path, json.loads(result.stdout)


def test_the_page_needs_nothing_from_outside(page: tuple[Path, Any], tmp_path: Path) -> None:
    path, _ = page
    found = elements(dump_dom(path, profile=tmp_path / "profile"))
    tags = Counter(tag for tag, _, _ in found)
    assert tags["script"] == tags["link"] == tags["img"] == tags["iframe"] == 0
    assert [a for _, a, _ in found if "src" in a or "href" in a] == []
    assert tags["svg"] == 2  # the attempts, and one cap chart for the one key


def test_the_charts_hold_the_reports_numbers(page: tuple[Path, Any], tmp_path: Path) -> None:
    path, doc = page
    found = elements(dump_dom(path, profile=tmp_path / "profile"))
    slices = doc["timeline"]["slices"]

    bars = [a for tag, a, chart in found if chart == "attempts" and a.get("class") == "bar"]
    drawn = Counter(a["fill"] for a in bars)
    for outcome in Outcome:
        slices_with_it = sum(1 for s in slices if s[outcome.value])
        assert drawn[OUTCOME_COLOURS[outcome]] == slices_with_it, outcome

    [cap_svg] = [a for tag, a, _ in found if tag == "svg" and a.get("data-chart") == "cap"]
    [series] = doc["cap"]
    assert cap_svg["data-sending-key"] == series["sending_key"]
    [line] = [a for tag, a, chart in found if chart == "cap" and tag == "polyline"]
    # A step line: two vertices per step, the first and the end one single.
    assert len(line["points"].split()) == 2 * len(series["points"])
    assert line["stroke"] == CAP_COLOUR
    # The line is the limiter's record: a dot for each change, saying why.
    assert series["source"] == "changes"
    dots = [a for tag, a, chart in found if chart == "cap" and a.get("class") == "cap-change"]
    assert len(dots) == len(series["points"]) - 1
    tips = re.findall(r'<circle class="cap-change"[^>]*><title>([^<]*)</title>', path.read_text())
    assert [tip.rsplit("(", 1)[1] for tip in tips] == [
        f"{point['reason']})" for point in series["points"][1:]
    ]
    throttled = sum(1 for s in slices if s["throttled"] or s["rate"])
    marks = [a for tag, a, chart in found if chart == "cap" and a.get("class") == "throttle-mark"]
    assert len(marks) == throttled > 0


def _pixels(png: Path) -> Counter[str]:
    with Image.open(png) as image:
        rgb = image.convert("RGB")
        counts = rgb.getcolors(maxcolors=rgb.width * rgb.height) or []
    return Counter({"#{:02x}{:02x}{:02x}".format(*colour): n for n, colour in counts})


def test_the_page_is_painted(page: tuple[Path, Any], tmp_path: Path) -> None:
    path, _ = page
    png = tmp_path / "report.png"
    screenshot(path, png, width=1040, height=1400, profile=tmp_path / "profile")
    painted = _pixels(png)
    assert len(painted) > 50, "the page looks blank"
    # The bars of sent attempts fill areas far larger than their legend's square.
    assert painted[OUTCOME_COLOURS[Outcome.SENT]] > 5000


def test_the_cap_chart_is_painted_with_its_line_and_marks(
    page: tuple[Path, Any], tmp_path: Path
) -> None:
    path, doc = page
    # The cap chart alone, as the SVG file it is, so that every pixel is its own.
    [svg] = re.findall(r'<svg class="chart" data-chart="cap".*?</svg>', path.read_text())
    chart = tmp_path / "cap.svg"
    chart.write_text(svg)
    png = tmp_path / "cap.png"
    screenshot(chart, png, width=1000, height=220, profile=tmp_path / "profile")
    painted = _pixels(png)
    # A line 2 pixels wide across most of the 900 pixels of the plot.
    assert painted[CAP_COLOUR] > 900
    # Under each slice with refusals, a strip 5 pixels high across the slice.
    slices = doc["timeline"]["slices"]
    marked = sum(1 for s in slices if s["throttled"] or s["rate"])
    slice_px = 900 / len(slices)
    assert painted[THROTTLE_COLOUR] >= 4 * slice_px * marked > 0


def test_each_group_of_failures_names_its_rule(page: tuple[Path, Any]) -> None:
    path, document = page
    html = path.read_text()
    rules = [group["rule"] for group in document["failures"]]
    assert "permanent" in rules and "concurrency-status" in rules
    for rule in rules:
        assert f"(rule {rule})" in html
