"""The figures of a lägesbild: plain frozen data, ready for a template or for JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from tsk_workflow.i18n import N_

Trend = Literal["up", "down", "same", "new"]
"""Against the average of the months before: more, fewer, as many; ``new``: no months before."""

TRENDS: dict[str, str] = {
    "up": N_("↑ rising"),
    "down": N_("↓ falling"),
    "same": N_("→ unchanged"),
    "new": "–",
}
"""The trends as people read them (translate with ``_`` when shown; ``new`` is a dash)."""


@dataclass(frozen=True)
class Report:
    """One reporter task of a cycle, or one event reported at any time, as the lägesbild sees it.

    ``answered`` is False for a task still open (or cancelled); a task done without answers is
    answered with nothing to report (``categories`` empty). An event reported at any time
    (``tsk event report``, the page ``/report``) has no task (``task_id`` None) but its
    ``event_id``: it counts as one incident, and not among the reporters asked.
    """

    period: str
    task_id: int | None
    reporter: str
    department: str | None
    answered: bool
    categories: tuple[str, ...] = ()
    town: str | None = None
    place: str | None = None
    when: str | None = None
    count: float = 1
    description: str | None = None
    action: str | None = None
    point: tuple[float, float] | None = None
    """Where on a map, if the reporter marked it: (latitude, longitude), WGS 84."""
    event_id: int | None = None
    """The event reported at any time this is (``engine.events``), None for a task."""

    @property
    def has_incident(self) -> bool:
        return bool(self.categories)


@dataclass(frozen=True)
class Row:
    """One line of a table: this month against the months before."""

    key: str
    label: str
    reports: int
    count: float
    previous: float | None
    previous_period: str | None
    average: float | None
    change: float | None
    trend: Trend
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Month:
    """One month of the chart: incidents per category, and the statistics' total, if known."""

    period: str
    label: str
    reported: bool
    by_category: tuple[tuple[str, float], ...]
    total: float
    statistics: float | None = None


@dataclass(frozen=True)
class Entry:
    """A reporter's description and suggested action (the reporter's name only if allowed)."""

    town: str | None
    place: str | None
    when: str | None
    count: float
    description: str | None
    action: str | None
    reporter: str | None = None


@dataclass(frozen=True)
class Group:
    """The entries of one category."""

    key: str
    label: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Department:
    """Who reported, counted per department; ``names`` only if the organisation allows it."""

    name: str
    asked: int
    with_incidents: int
    nothing_to_report: int
    not_answered: int
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Statistics:
    """The crime statistics of the CSV for the lägesbild's month."""

    source: str
    period_found: bool
    by_category: tuple[Row, ...]
    by_area: tuple[Row, ...]
    total: float


@dataclass(frozen=True)
class Category:
    """A category of the chart, with its colour."""

    key: str
    label: str
    colour: str


@dataclass(frozen=True)
class Lagesbild:
    """Everything the templates show."""

    lang: str
    municipality: str
    process: str
    cycle_ref: str
    cycle_title: str
    period: str
    period_label: str
    generated_at: str
    asked: int
    answered: int
    with_incidents: int
    incidents: float
    by_category: tuple[Row, ...]
    by_town: tuple[Row, ...]
    months: tuple[Month, ...]
    categories: tuple[Category, ...]
    groups: tuple[Group, ...]
    departments: tuple[Department, ...]
    show_names: bool
    statistics: Statistics | None = None
    earlier_months: tuple[str, ...] = field(default_factory=tuple)
    events: int = 0
    """How many of the incidents were events reported at any time (not asked by a task)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
