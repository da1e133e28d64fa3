"""Small charts as inline SVG text: stacked bars, a step line, marked spans, axes.

A report's HTML file must open anywhere, offline, years later: no script,
no web font, no library fetched from a network. SVG written as text does
that, and what the report draws (bars per slice of time, the steps of the
cap and the rate, a dot per change, a mark per throttle) needs little more
than rectangles, polylines and circles.
Colours are attributes on each element, so a chart copied out of the page
keeps them.

Data coordinates: x from 0 to ``x_max`` (seconds, or slices), y from 0 to
``y_max``. Every element that stands for data carries a ``class``, so that
tests and style sheets can find it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import attrs

#: Axis, grid and label colours.
_AXIS = "#888888"
_GRID = "#e4e4e4"
_LABEL = "#444444"


@attrs.frozen(kw_only=True)
class Plot:
    """The drawing area of one chart and how data maps onto it."""

    x_max: float
    y_max: float
    width: int = 960
    height: int = 200
    left: int = 48
    right: int = 16
    top: int = 12
    bottom: int = 26

    def x(self, value: float) -> float:
        inner = self.width - self.left - self.right
        return self.left + (value / self.x_max if self.x_max else 0.0) * inner

    def y(self, value: float) -> float:
        inner = self.height - self.top - self.bottom
        return self.top + (1.0 - (value / self.y_max if self.y_max else 0.0)) * inner

    @property
    def floor(self) -> float:
        """The y of the x axis, in pixels."""
        return self.y(0.0)


def _n(value: float) -> str:
    """A coordinate, short: one decimal, none when whole."""
    text = f"{value:.1f}"
    return text.removesuffix(".0")


def nice_ticks(top: float, wanted: int = 4) -> list[float]:
    """Round values from 0 up to at least ``top`` for a y axis (1, 2 or 5 times
    a power of ten apart), about ``wanted`` of them besides 0."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / wanted
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    count = math.ceil(top / step - 1e-9)
    return [i * step for i in range(count + 1)]


def chart(
    plot: Plot,
    body: Sequence[str],
    *,
    name: str,
    label: str,
    x_ticks: Sequence[tuple[float, str]],
    y_ticks: Sequence[float],
    attributes: dict[str, str] | None = None,
) -> str:
    """An ``<svg>`` element: grid lines at ``y_ticks``, labels at ``x_ticks``
    (x, text), the axes, then ``body``. ``label`` is read by screen readers."""
    extra = "".join(f' {k}="{escape(v)}"' for k, v in (attributes or {}).items())
    parts = [
        f'<svg class="chart" data-chart="{escape(name)}" role="img" aria-label="{escape(label)}"'
        f' viewBox="0 0 {plot.width} {plot.height}" width="{plot.width}" height="{plot.height}"'
        f' xmlns="http://www.w3.org/2000/svg"{extra}>',
        f"<title>{escape(label)}</title>",
    ]
    for value in y_ticks:
        y = _n(plot.y(value))
        parts.append(
            f'<line x1="{plot.left}" x2="{plot.width - plot.right}" y1="{y}" y2="{y}"'
            f' stroke="{_GRID}" stroke-width="1"/>'
            f'<text x="{plot.left - 6}" y="{y}" text-anchor="end" dominant-baseline="middle"'
            f' font-size="11" fill="{_LABEL}">{_n(value)}</text>'
        )
    floor = _n(plot.floor)
    for x, text in x_ticks:
        px = _n(plot.x(x))
        parts.append(
            f'<line x1="{px}" x2="{px}" y1="{floor}" y2="{_n(plot.floor + 4)}" stroke="{_AXIS}"/>'
            f'<text x="{px}" y="{_n(plot.floor + 16)}" text-anchor="middle" font-size="11"'
            f' fill="{_LABEL}">{escape(text)}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{plot.left}" x2="{plot.width - plot.right}" y1="{floor}"'
        f' y2="{floor}" stroke="{_AXIS}"/>'
    )
    parts.extend(body)
    parts.append("</svg>")
    return "".join(parts)


def stacked_bars(
    plot: Plot, stacks: Sequence[Sequence[tuple[float, str, str]]], *, gap: float = 0.15
) -> list[str]:
    """One bar per slot (slot ``i`` spans x from ``i`` to ``i + 1``), made of
    (value, colour, tooltip) parts stacked from the bottom; parts of zero
    are left out."""
    drawn = []
    width = plot.x(1.0 - gap) - plot.x(0.0)
    for slot, parts in enumerate(stacks):
        base = 0.0
        x = _n(plot.x(slot + gap / 2))
        for value, colour, tip in parts:
            if value <= 0:
                continue
            top, bottom = plot.y(base + value), plot.y(base)
            drawn.append(
                f'<rect class="bar" x="{x}" y="{_n(top)}" width="{_n(width)}"'
                f' height="{_n(bottom - top)}" fill="{colour}"><title>{escape(tip)}</title></rect>'
            )
            base += value
    return drawn


def step_line(
    plot: Plot,
    steps: Sequence[tuple[float, float]],
    *,
    x_end: float,
    colour: str,
    name: str,
    tip: str | None = None,
    dashed: bool = False,
) -> str:
    """A line that holds each (x, y) step's value until the next step's x,
    and the last one until ``x_end``: two vertices per step. ``tip`` is a
    tooltip for the whole line."""
    vertices: list[tuple[float, float]] = []
    for i, (x, y) in enumerate(steps):
        if i:
            vertices.append((x, steps[i - 1][1]))
        vertices.append((x, y))
    if steps:
        vertices.append((max(x_end, steps[-1][0]), steps[-1][1]))
    points = " ".join(f"{_n(plot.x(x))},{_n(plot.y(y))}" for x, y in vertices)
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    inside = "" if tip is None else f"<title>{escape(tip)}</title>"
    return (
        f'<polyline class="{escape(name)}" points="{points}" fill="none" stroke="{colour}"'
        f' stroke-width="2" stroke-linejoin="round"{dash}>{inside}</polyline>'
    )


def dots(
    plot: Plot, placed: Sequence[tuple[float, float, str]], *, colour: str, name: str
) -> list[str]:
    """A small dot at each (x, y), with its tooltip."""
    return [
        f'<circle class="{escape(name)}" cx="{_n(plot.x(x))}" cy="{_n(plot.y(y))}" r="3"'
        f' fill="{colour}"><title>{escape(tip)}</title></circle>'
        for x, y, tip in placed
    ]


def spans(
    plot: Plot, placed: Sequence[tuple[float, float, str]], *, colour: str, name: str
) -> list[str]:
    """Each (x from, x to, tooltip) marked as a solid strip along the x axis."""
    floor = plot.floor
    return [
        f'<rect class="{escape(name)}" x="{_n(plot.x(start))}" y="{_n(floor - 5)}"'
        f' width="{_n(plot.x(end) - plot.x(start))}" height="5" fill="{colour}">'
        f"<title>{escape(tip)}</title></rect>"
        for start, end, tip in placed
    ]
