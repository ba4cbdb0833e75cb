"""The month's incidents on a map, as an SVG for print (no tiles, no script, no network).

The points the reporters marked (``dashboard.map_points``) are drawn where they lie relative to
each other, each numbered as the list beside it numbers it, coloured by its first category;
each town's name stands above its points (the towns have no coordinates of their own), with a
scale bar in kilometres and north up. The web's dashboard draws the same points over map tiles
(``static/lagesbild-map.js``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from babel.numbers import format_decimal
from markupsafe import Markup, escape

from tsk_workflow import i18n
from tsk_workflow.lagesbild.dashboard import Point

Place = Callable[[float, float], tuple[float, float]]

WIDTH, HEIGHT = 720, 420
MARGIN = 48
"""Around the points: room for the numbers, the scale bar and the north arrow."""
MIN_SPAN_KM = 2.0
"""The least the map shows across: a single point, or points in one street, are not drawn
as if they filled a municipality."""
KM_PER_DEGREE = 111.32
"""Kilometres per degree of latitude (and of longitude at the equator), WGS 84 mean."""
SCALES_KM = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50)
OTHER_COLOUR = "#555555"


def map_svg(points: Sequence[Point], colours: Mapping[str, str], title: str, lang: str) -> Markup:
    """The SVG of ``points`` (at least one), numbered from 1 in their order; ``colours`` by
    category label; ``title`` is the SVG's title (what a screen reader names it)."""
    xs, ys = _projected(points)
    span = max(max(xs) - min(xs), max(ys) - min(ys), MIN_SPAN_KM)
    scale = min((WIDTH - 2 * MARGIN) / span, (HEIGHT - 2 * MARGIN - 24) / span)
    mid_x, mid_y = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2

    def place(x: float, y: float) -> tuple[float, float]:
        return WIDTH / 2 + (x - mid_x) * scale, (HEIGHT - 24) / 2 - (y - mid_y) * scale

    parts = [
        f'<title id="map-title">{escape(title)}</title>',
        f'<rect x="0.5" y="0.5" width="{WIDTH - 1}" height="{HEIGHT - 1}" fill="#f6f6f2" '
        'stroke="#999999"/>',
    ]
    parts += _towns(points, xs, ys, place)
    for index, (point, x, y) in enumerate(zip(points, xs, ys, strict=True), start=1):
        cx, cy = place(x, y)
        fill = colours.get(point.categories[0], OTHER_COLOUR) if point.categories else OTHER_COLOUR
        parts.append(
            f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="9" fill="{fill}" stroke="#ffffff" '
            'stroke-width="1.5"/>'
        )
        parts.append(
            f'<text x="{_f(cx)}" y="{_f(cy + 4)}" text-anchor="middle" fill="#ffffff" '
            f'font-weight="bold" font-size="10">{index}</text>'
        )
    parts += _scale_bar(scale, lang)
    parts += _north()
    opening = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="map-title" '
        'font-family="sans-serif" font-size="11">'
    )
    return Markup("\n".join([opening, *parts, "</svg>"]))


def _projected(points: Sequence[Point]) -> tuple[list[float], list[float]]:
    """Kilometres east and north of the first point (equirectangular at the points' middle
    latitude: true enough within a municipality)."""
    middle = math.radians(sum(p.lat for p in points) / len(points))
    east = KM_PER_DEGREE * math.cos(middle)
    first = points[0]
    return (
        [(p.lon - first.lon) * east for p in points],
        [(p.lat - first.lat) * KM_PER_DEGREE for p in points],
    )


def _towns(
    points: Sequence[Point],
    xs: Sequence[float],
    ys: Sequence[float],
    place: Place,
) -> list[str]:
    """Each town's name above its points, in the middle of them across."""
    found: defaultdict[str, list[tuple[float, float]]] = defaultdict(list)
    for point, x, y in zip(points, xs, ys, strict=True):
        if point.town:
            found[point.town].append((x, y))
    parts = []
    for town, spots in sorted(found.items()):
        drawn = [place(x, y) for x, y in spots]
        cx = sum(x for x, _ in drawn) / len(drawn)
        top = min(y for _, y in drawn)
        parts.append(
            f'<text x="{_f(cx)}" y="{_f(top - 16)}" text-anchor="middle" fill="#444444" '
            f'font-size="13" font-style="italic">{escape(town)}</text>'
        )
    return parts


def _scale_bar(scale: float, lang: str) -> list[str]:
    """A bar of a round number of kilometres, about a fifth of the map's width at most."""
    length = max((s for s in SCALES_KM if s * scale <= WIDTH / 5), default=SCALES_KM[0])
    x, y, width = MARGIN, HEIGHT - 16, length * scale
    locale = i18n.LOCALES["en" if lang == "en" else "sv"]
    label = f"{format_decimal(length, format='0.#', locale=locale)} km"
    return [
        f'<line x1="{x}" y1="{y}" x2="{_f(x + width)}" y2="{y}" stroke="#222222" '
        'stroke-width="3"/>',
        f'<text x="{_f(x + width + 6)}" y="{y + 4}" fill="#222222">{escape(label)}</text>',
    ]


def _north() -> list[str]:
    x, y = WIDTH - MARGIN, MARGIN
    return [
        f'<path d="M {x} {y - 14} L {x - 7} {y + 6} L {x} {y + 1} L {x + 7} {y + 6} Z" '
        'fill="#222222"/>',
        f'<text x="{x}" y="{y + 20}" text-anchor="middle" font-weight="bold">N</text>',
    ]


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")
