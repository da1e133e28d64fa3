"""Tables as Markdown, so that what the terminal shows can go into the docs as is."""

from __future__ import annotations

from collections.abc import Sequence


def render(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]], *, text_columns: int = 1
) -> str:
    """A titled Markdown table whose columns also line up in a terminal; the
    first ``text_columns`` are aligned left, the figures after them right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.ljust(width) if i < text_columns else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            ":" + "-" * (width + 1) if i < text_columns else "-" * (width + 1) + ":"
            for i, width in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([f"### {title}", "", line(header), rule, *(line(row) for row in rows)])


def ratio(value: float) -> str:
    return f"{value:.2f}x"


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"
