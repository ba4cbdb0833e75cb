"""What a report says, before it is a file: sections of paragraphs, tables and charts. Pure.

The builders write every value as text in the report's language (dates as ``2027-03-14``,
numbers with a space between thousands: :func:`number`), so the two renderers only lay out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from babel.numbers import format_decimal

from tsk_workflow import i18n

FORMATS = ("docx", "pdf")


@dataclass(frozen=True)
class Paragraph:
    text: str
    note: bool = False
    """A remark in smaller print (where a figure comes from, what is missing)."""


@dataclass(frozen=True)
class Table:
    """A table with a header row; ``numeric`` are the columns of figures (set right), ``short``
    those of dates, numbers and paragraphs that are not to be broken over two lines."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = frozenset()
    short: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Chart:
    """A chart as SVG, with the text that says what it shows to those who cannot see it."""

    svg: str
    caption: str
    alt: str


Block = Paragraph | Table | Chart


@dataclass(frozen=True)
class Section:
    heading: str
    blocks: tuple[Block, ...] = ()
    sections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class Report:
    """A whole report: its title page's lines and its sections (headings of level 1)."""

    lang: str
    title: str
    subtitle: str
    organisation: str
    made_on: str
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def headings(self) -> list[tuple[int, str]]:
        """Every heading with its level (1 for a section of the report), in order."""
        found: list[tuple[int, str]] = []

        def walk(sections: Sequence[Section], level: int) -> None:
            for section in sections:
                found.append((level, section.heading))
                walk(section.sections, level + 1)

        walk(self.sections, 1)
        return found


def number(value: float, lang: str) -> str:
    """``12 345`` in Swedish (a no-break space between thousands), ``12,345`` in English; one
    decimal at most."""
    return format_decimal(round(value, 1), format="#,##0.#", locale=i18n.LOCALES[lang])


def day(value: dt.date | None) -> str:
    """A date as it is read in Sweden: ``2027-03-14``; a dash when there is none."""
    return value.isoformat() if value is not None else "–"
