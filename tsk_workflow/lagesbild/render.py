"""Rendering a lägesbild as Markdown or HTML with the Jinja2 templates in ``templates/``.

The HTML template is autoescaped (reporters' texts cannot inject markup); its chart is the SVG
``chart.svg`` makes. The Markdown template escapes what Markdown would read as markup.
"""

from __future__ import annotations

import re
from functools import lru_cache

from babel.numbers import format_decimal
from jinja2 import Environment, PackageLoader, StrictUndefined

from tsk_workflow import i18n
from tsk_workflow.i18n import _
from tsk_workflow.lagesbild.chart import svg
from tsk_workflow.lagesbild.model import TRENDS, Lagesbild, Row
from tsk_workflow.templating import sandboxed

FORMATS = ("md", "html")
MEDIA_TYPES = {"md": "text/markdown", "html": "text/html"}

_MARKDOWN = re.compile(r"([\\`*_\[\]<>|#])")


def render(lagesbild: Lagesbild, fmt: str = "md") -> str:
    """The lägesbild as Markdown (``md``) or HTML (``html``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    lang = lagesbild.lang
    template = _environment(lang).get_template(f"lagesbild.{fmt}.j2")
    chart = svg(lagesbild.months, lagesbild.categories, lang) if fmt == "html" else None
    with i18n.speaking(lang):  # the templates' _() and the trends in the lägesbild's language
        trends = {key: _(text) if text != "–" else text for key, text in TRENDS.items()}
        return template.render(lb=lagesbild, trends=trends, chart=chart)


@lru_cache(maxsize=4)
def _environment(lang: str) -> Environment:
    """The shipped templates, in the sandbox: what they show are answers people typed. Their
    texts are marked ``_("...")`` (Jinja2's i18n extension) and come from the catalogue."""
    env = sandboxed(
        extensions=["jinja2.ext.i18n"],
        loader=PackageLoader("tsk_workflow.lagesbild", "templates"),
        autoescape=lambda name: bool(name) and str(name).endswith(".html.j2"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n._, i18n.ngettext, newstyle=True
    )
    env.filters["n"] = lambda value: number(value, lang)
    env.filters["change"] = lambda row: change(row, lang)
    env.filters["md"] = markdown_text
    return env


def number(value: float | None, lang: str) -> str:
    """A count for people: whole numbers without decimals, else one."""
    if value is None:
        return "–"
    # One decimal at most, with the decimal sign of the language (a comma in Swedish).
    return format_decimal(round(value, 1), format="0.#", locale=i18n.LOCALES[lang])


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
