"""The chart of the last twelve months as an inline SVG, made here (no plotting dependency).

Stacked bars: the reported incidents of each month by category; a month without a cycle shows
a dash (unknown, not zero). With crime statistics, their monthly total is a dashed line.
Every text is escaped; the SVG is ``Markup`` so that an autoescaping template keeps it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from tsk_workflow import i18n
from tsk_workflow.i18n import _
from tsk_workflow.lagesbild.model import Category, Month

WIDTH, HEIGHT = 720, 330
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 24, 250
"""The plot area: x from LEFT to WIDTH - RIGHT, y from TOP to BOTTOM; the legend is below."""


def nice_top(value: float) -> tuple[float, float]:
    """A round top for the y axis at or above ``value``, and the step between its ticks."""
    if value <= 4:
        return 4.0, 1.0
    raw = value / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(step, 1.0)
    return math.ceil(value / step) * step, step


def _n(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def svg(months: Sequence[Month], categories: Sequence[Category], lang: str) -> Markup:
    with i18n.speaking("en" if lang == "en" else "sv"):
        texts = {
            "title": _("Reported incidents per month"),
            "statistics": _("Reported crimes (statistics)"),
            "unknown": _("no reporting that month"),
        }
    colour = {c.key: c.colour for c in categories}
    has_statistics = any(m.statistics is not None for m in months)
    highest = max([m.total for m in months] + [m.statistics or 0 for m in months] + [0], default=0)
    top, step = nice_top(highest)
    plot_h = BOTTOM - TOP
    slot = (WIDTH - RIGHT - LEFT) / max(len(months), 1)
    bar = min(36.0, slot * 0.6)

    def y(value: float) -> float:
        return BOTTOM - value / top * plot_h

    parts = [f'<title id="chart-title">{escape(texts["title"])}</title>']
    tick = 0.0
    while tick <= top + 1e-9:
        parts.append(
            f'<line x1="{LEFT}" y1="{_f(y(tick))}" x2="{WIDTH - RIGHT}" y2="{_f(y(tick))}" '
            'stroke="#dddddd" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{_f(y(tick) + 4)}" text-anchor="end" fill="#555555">'
            f"{_n(tick)}</text>"
        )
        tick += step
    line: list[tuple[float, float]] = []
    for index, month in enumerate(months):
        centre = LEFT + slot * (index + 0.5)
        parts.append(
            f'<text x="{_f(centre)}" y="{BOTTOM + 16}" text-anchor="middle" fill="#333333">'
            f"{escape(month.label)}</text>"
        )
        if not month.reported:
            parts.append(
                f'<text x="{_f(centre)}" y="{BOTTOM - 4}" text-anchor="middle" '
                'fill="#999999">–</text>'
            )
        base = 0.0
        for key, count in month.by_category:
            label = next((c.label for c in categories if c.key == key), key)
            parts.append(
                f'<rect x="{_f(centre - bar / 2)}" y="{_f(y(base + count))}" width="{_f(bar)}" '
                f'height="{_f(y(base) - y(base + count))}" fill="{colour.get(key, "#999999")}">'
                f"<title>{escape(month.label)}: {escape(label)} {_n(count)}</title></rect>"
            )
            base += count
        if month.reported and month.total:
            parts.append(
                f'<text x="{_f(centre)}" y="{_f(y(month.total) - 4)}" text-anchor="middle" '
                f'font-weight="bold">{_n(month.total)}</text>'
            )
        if month.statistics is not None:
            line.append((centre, y(month.statistics)))
    parts.append(
        f'<line x1="{LEFT}" y1="{BOTTOM}" x2="{WIDTH - RIGHT}" y2="{BOTTOM}" stroke="#333333"/>'
    )
    if line:
        points = " ".join(f"{_f(x)},{_f(v)}" for x, v in line)
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="#222222" stroke-width="2" '
            'stroke-dasharray="6 4"/>'
        )
        parts += [f'<circle cx="{_f(x)}" cy="{_f(v)}" r="3" fill="#222222"/>' for x, v in line]
    legend, bottom = _legend(categories, has_statistics, texts)
    height = max(HEIGHT, math.ceil(bottom) + 12)
    opening = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-labelledby="chart-title" '
        'font-family="sans-serif" font-size="11">'
    )
    return Markup("\n".join([opening, *parts, *legend, "</svg>"]))


def _legend(
    categories: Sequence[Category], statistics: bool, texts: dict[str, str]
) -> tuple[list[str], float]:
    """The legend's elements, and the y of its last line. The mark of a month without
    reporting is explained on a line of its own, apart from the categories' swatches, so that
    it does not read as part of the last category's name."""
    parts = []
    x, y = float(LEFT), float(BOTTOM + 40)
    entries: list[tuple[str, str | None]] = [(c.label, c.colour) for c in categories]
    if statistics:
        entries.append((texts["statistics"], None))
    for label, fill in entries:
        width = 22 + 6.5 * len(label)
        if x + width > WIDTH - RIGHT:
            x, y = float(LEFT), y + 18
        if fill is None:
            parts.append(
                f'<line x1="{_f(x)}" y1="{_f(y - 4)}" x2="{_f(x + 14)}" y2="{_f(y - 4)}" '
                'stroke="#222222" stroke-width="2" stroke-dasharray="4 2"/>'
            )
        else:
            parts.append(
                f'<rect x="{_f(x)}" y="{_f(y - 10)}" width="12" height="12" fill="{fill}"/>'
            )
        parts.append(f'<text x="{_f(x + 18)}" y="{_f(y)}" fill="#333333">{escape(label)}</text>')
        x += width
    y += 22
    parts.append(
        f'<text x="{_f(LEFT + 6)}" y="{_f(y)}" text-anchor="middle" fill="#999999">–</text>'
    )
    parts.append(
        f'<text x="{_f(LEFT + 18)}" y="{_f(y)}" fill="#333333">{escape(texts["unknown"])}</text>'
    )
    return parts, y
