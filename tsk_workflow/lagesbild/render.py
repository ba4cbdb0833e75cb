"""Rendering a lägesbild as Markdown or HTML with the Jinja2 templates in ``templates/``.

The HTML template is autoescaped (reporters' texts cannot inject markup); its chart is the SVG
``chart.svg`` makes. The Markdown template escapes what Markdown would read as markup.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from tsk_workflow.lagesbild.chart import svg
from tsk_workflow.lagesbild.model import Lagesbild, Row
from tsk_workflow.templating import sandboxed

FORMATS = ("md", "html")
MEDIA_TYPES = {"md": "text/markdown", "html": "text/html"}

TEXTS: dict[str, dict[str, Any]] = {
    "sv": {
        "title": "Lägesbild",
        "generated": "sammanställd",
        "summary": "Sammanfattning",
        "answered": "Inrapportörer som svarat",
        "with_incidents": "Rapporter om händelser",
        "nothing": "Inget att rapportera",
        "incidents": "Händelser (rapporternas antal gånger)",
        "compared": "Jämförs med",
        "no_earlier": "inga tidigare månader med rapporter",
        "by_category": "Händelser per kategori",
        "by_town": "Händelser per ort",
        "category": "Kategori",
        "town": "Ort",
        "reports": "Rapporter",
        "count": "Händelser",
        "previous": "Förra",
        "average": "Snitt 3 mån",
        "change": "Förändring",
        "trend": "Trend",
        "places": "Platser",
        "trends": {
            "up": "↑ ökar",
            "down": "↓ minskar",
            "same": "→ oförändrat",
            "new": "–",
        },
        "explain": (
            "Förändring mot förra månaden med rapporter; trend mot snittet av de tre senaste "
            "månaderna med rapporter."
        ),
        "none": "Inga händelser rapporterades.",
        "chart": "De senaste tolv månaderna",
        "month": "Månad",
        "reported": "Rapporterade händelser",
        "crimes": "Anmälda brott",
        "statistics": "Brottsstatistik",
        "source": "Källa",
        "no_period": "Statistiken har inga uppgifter för {period}.",
        "crime_category": "Brottskategori",
        "number": "Antal",
        "area": "Område",
        "total": "Totalt",
        "descriptions": "Beskrivningar och förslag per kategori",
        "action": "Förslag",
        "times": "ggr",
        "who": "Vem som rapporterat",
        "department": "Förvaltning",
        "asked": "Tillfrågade",
        "not_answered": "Ej svarat",
        "names": "Namn",
        "names_hidden": (
            "Inrapportörernas namn visas inte (organisationens privacy.show_reporter_names)."
        ),
        "unknown": "–",
    },
    "en": {
        "title": "Situation report",
        "generated": "compiled",
        "summary": "Summary",
        "answered": "Reporters who answered",
        "with_incidents": "Reports of incidents",
        "nothing": "Nothing to report",
        "incidents": "Incidents (the reports' number of times)",
        "compared": "Compared with",
        "no_earlier": "no earlier months with reports",
        "by_category": "Incidents by category",
        "by_town": "Incidents by town",
        "category": "Category",
        "town": "Town",
        "reports": "Reports",
        "count": "Incidents",
        "previous": "Previous",
        "average": "Avg 3 mo",
        "change": "Change",
        "trend": "Trend",
        "places": "Places",
        "trends": {"up": "↑ rising", "down": "↓ falling", "same": "→ unchanged", "new": "–"},
        "explain": (
            "Change against the previous month with reports; trend against the average of the "
            "last three months with reports."
        ),
        "none": "No incidents were reported.",
        "chart": "The last twelve months",
        "month": "Month",
        "reported": "Reported incidents",
        "crimes": "Reported crimes",
        "statistics": "Crime statistics",
        "source": "Source",
        "no_period": "The statistics have no figures for {period}.",
        "crime_category": "Crime category",
        "number": "Count",
        "area": "Area",
        "total": "Total",
        "descriptions": "Descriptions and suggestions by category",
        "action": "Suggestion",
        "times": "times",
        "who": "Who reported",
        "department": "Department",
        "asked": "Asked",
        "not_answered": "Not answered",
        "names": "Names",
        "names_hidden": (
            "The reporters' names are not shown (the organisation's privacy.show_reporter_names)."
        ),
        "unknown": "–",
    },
}

_MARKDOWN = re.compile(r"([\\`*_\[\]<>|#])")


def render(lagesbild: Lagesbild, fmt: str = "md") -> str:
    """The lägesbild as Markdown (``md``) or HTML (``html``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    lang = lagesbild.lang
    template = _environment(lang).get_template(f"lagesbild.{fmt}.j2")
    chart = svg(lagesbild.months, lagesbild.categories, lang) if fmt == "html" else None
    return template.render(lb=lagesbild, t=TEXTS[lang], chart=chart)


@lru_cache(maxsize=4)
def _environment(lang: str) -> Environment:
    """The shipped templates, in the sandbox: what they show are answers people typed."""
    env = sandboxed(
        loader=PackageLoader("tsk_workflow.lagesbild", "templates"),
        autoescape=lambda name: bool(name) and str(name).endswith(".html.j2"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["n"] = lambda value: number(value, lang)
    env.filters["change"] = lambda row: change(row, lang)
    env.filters["md"] = markdown_text
    return env


def number(value: float | None, lang: str) -> str:
    """A count for people: whole numbers without decimals, else one (a decimal comma in sv)."""
    if value is None:
        return "–"
    text = str(int(value)) if value == int(value) else f"{value:.1f}"
    return text.replace(".", ",") if lang == "sv" else text


def change(row: Row, lang: str) -> str:
    """``+4 (+100 %)`` against the previous month; ``–`` without one."""
    if row.change is None or row.previous is None:
        return "–"
    sign = "+" if row.change > 0 else ("−" if row.change < 0 else "±")
    text = f"{sign}{number(abs(row.change), lang)}"
    if row.previous:
        percent = round(100 * row.change / row.previous)
        text += f" ({'+' if percent > 0 else ('−' if percent < 0 else '±')}{abs(percent)} %)"
    return text


def markdown_text(value: object) -> str:
    """A value as one line of Markdown text: markup characters escaped, line breaks joined."""
    if value is None:
        return ""
    return _MARKDOWN.sub(r"\\\1", " ".join(str(value).split()))
