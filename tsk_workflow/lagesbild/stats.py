"""Crime statistics for the lägesbild: a CSV of counts per month, area and category.

The columns (a header line first, in any order; other columns are ignored):

``month``     the month, ``YYYY-MM``
``area``      where: a town or area of the municipality (key or name), or any other name
``category``  the kind of crime, as the source names it (``Skadegörelse``, ``Misshandel``, ...)
``count``     how many, a whole number of at least 0

Separated by commas, or by semicolons (as Swedish spreadsheets save CSV); UTF-8, a byte-order
mark is fine. Rows for the same month, area and category are added together.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from tsk_workflow.errors import Refused
from tsk_workflow.i18n import _, ngettext

COLUMNS = ("month", "area", "category", "count")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MAX_BYTES = 20 * 1024 * 1024
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class StatRow:
    month: str
    area: str
    category: str
    count: int


class StatsError(Refused):
    """The CSV cannot be used; ``problems`` has one ``file:line: message`` per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def read_stats(path: Path) -> list[StatRow]:
    """The rows of the CSV at ``path``, or ``StatsError`` listing what is wrong (with lines)."""
    name = str(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            limit = MAX_BYTES // 1024 // 1024
            raise StatsError(
                [_("{file}: the file is larger than {size} MB").format(file=name, size=limit)]
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise StatsError(
            [_("{file}: cannot read the file: {error}").format(file=name, error=exc.strerror)]
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise StatsError(
            [_("{file}: the file is not UTF-8 text: save it as UTF-8").format(file=name)]
        ) from None
    return parse_stats(text, name)


def parse_stats(text: str, name: str = "statistics") -> list[StatRow]:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise StatsError(
            [
                _("{file}:1: the file is empty: give a header {columns}").format(
                    file=name, columns=",".join(COLUMNS)
                )
            ]
        )
    first = lines[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [cell.strip().lower() for cell in next(reader)]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise StatsError(
            [
                ngettext(
                    "{file}:1: missing column {missing} (the header must name {columns})",
                    "{file}:1: missing columns {missing} (the header must name {columns})",
                    len(missing),
                ).format(file=name, missing=", ".join(missing), columns=", ".join(COLUMNS))
            ]
        )
    where = {column: header.index(column) for column in COLUMNS}
    rows: list[StatRow] = []
    problems: list[str] = []
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        row, problem = _row(cells, where)
        if problem is not None:
            problems.append(f"{name}:{line}: {problem}")
        elif row is not None:
            rows.append(row)
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            more = len(problems) - MAX_PROBLEMS
            shown.append(
                ngettext(
                    "{file}: ... and {n} more problem", "{file}: ... and {n} more problems", more
                ).format(file=name, n=more)
            )
        raise StatsError(shown)
    return rows


def _row(cells: list[str], where: dict[str, int]) -> tuple[StatRow | None, str | None]:
    if len(cells) <= max(where.values()):
        return None, _("expected {n} columns ({columns}), found {found}").format(
            n=len(COLUMNS), columns=", ".join(COLUMNS), found=len(cells)
        )
    month, area, category, count = (cells[where[c]].strip() for c in COLUMNS)
    if not MONTH.match(month):
        return None, _("month {month} is not a month (YYYY-MM)").format(month=repr(month))
    if not area:
        return None, _("area is empty")
    if not category:
        return None, _("category is empty")
    try:
        number = int(count.replace(" ", "").replace("\u00a0", ""))
    except ValueError:
        return None, _("count {count} is not a whole number").format(count=repr(count))
    if number < 0:
        return None, _("count {count} is negative").format(count=number)
    return StatRow(month, area, category, number), None
