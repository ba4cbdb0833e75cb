"""Naming cycles: the period and subject of a cycle, its reference and title. Pure.

A period must be one its process's schedule has (``Periods.check``): ``2027-04`` for a monthly
process (not ``2027-4`` or ``april``), ``2027-t2`` for the second of a few times a year, ``2027``
for a yearly one, a running number for a restarting one; a process opened on demand (schedule
``manual``) takes a free label.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from tsk_workflow.calendar import WorkCalendar
from tsk_workflow.definitions.model import ProcessDefinition, Schedule
from tsk_workflow.errors import Refused
from tsk_workflow.i18n import N_, _
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.organisation.validate import effective_schedule
from tsk_workflow.recurrence import occurrences

PERIOD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


FORMS: dict[str, tuple[str, re.Pattern[str]]] = {
    "monthly": (N_("YYYY-MM"), re.compile(r"^\d{4}-\d{2}$")),
    "times_a_year": (N_("YYYY-tN"), re.compile(r"^\d{4}-t\d{1,2}$")),
    "rotation": (N_("YYYY-tN"), re.compile(r"^\d{4}-t\d{1,2}$")),
    "yearly": (N_("YYYY"), re.compile(r"^\d{4}$")),
    "every_other_year": (N_("YYYY"), re.compile(r"^\d{4}$")),
    "per_area": (N_("YYYY"), re.compile(r"^\d{4}$")),
    "yearly_deadline": (N_("YYYY"), re.compile(r"^\d{4}$")),
    "restart": (N_("a running number"), re.compile(r"^[1-9]\d{0,5}$")),
}
"""How the period of each kind of schedule is written (translated when shown) and its pattern: the
periods ``recurrence.occurrences`` gives, and the running number of a restarting cycle. A
manual schedule has none: its cycles are opened on demand (a decision's case ``d12``, the
meeting after a walk) and take any label ``PERIOD`` allows."""


@dataclass(frozen=True)
class Periods:
    """The periods a process's schedule has, as the engine checks a cycle's period against them.

    ``schedule`` is the effective one (the definition's with the municipality's keys laid over
    it); ``towns`` and ``areas`` are the organisation's keys (rotations and per-area schedules
    need them to have occurrences at all).
    """

    key: str
    schedule: Schedule
    cal: WorkCalendar
    towns: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()

    def of_year(self, year: int) -> list[str]:
        """The periods of ``year``, in date order (none for manual and restarting schedules)."""
        return list(dict.fromkeys(period for _, period in self._dated(year)))

    def default(self, local_today: dt.date, count: int) -> str:
        """The period a cycle opened by hand gets when none is given.

        The period of this year's occurrence in the current month (``2027-03`` monthly,
        ``2027-t2`` when the second of four meetings is in this month); else the latest of this
        year before today, else this year's first; else (every other year) the next one. A
        restarting or manual process: a running number.
        """
        if self.schedule.kind in {"manual", "restart"}:
            return str(count + 1)
        this_year = self._dated(local_today.year)
        if this_year:
            in_month = [p for d, p in this_year if d.month == local_today.month]
            before = [p for d, p in this_year if d <= local_today]
            return in_month[0] if in_month else before[-1] if before else this_year[0][1]
        for year in range(local_today.year + 1, local_today.year + 3):
            later = self._dated(year)
            if later:
                return later[0][1]
        return str(local_today.year)

    def _dated(self, year: int) -> list[tuple[dt.date, str]]:
        try:
            found = occurrences(self.schedule, self.cal, year, towns=self.towns, areas=self.areas)
        except ValueError:  # a rotation without towns: the organisation's check reports it
            return []
        return [(o.date, o.period) for o in found]

    def check(self, period: str, example: str) -> None:
        """Refuses a ``period`` the schedule does not have, with the form it is written in and
        ``example`` (the default period); a manual schedule's free label is checked by
        ``check_label`` only."""
        check_label(period)
        kind = self.schedule.kind
        if kind == "manual":
            return
        form, pattern = FORMS[kind]
        if not pattern.match(period):
            raise Refused(
                _(
                    "the period of {key} is written {form}, for example {example} (not {period})"
                ).format(key=self.key, form=_(form), example=example, period=repr(period))
            )
        if kind == "restart":
            return
        year = int(period[:4])
        known = self.of_year(year)
        if period not in known:
            listed = ", ".join(known)
            why = (
                _("its periods in {year} are {periods}").format(year=year, periods=listed)
                if known
                else _("none in {year}").format(year=year)
            )
            raise Refused(
                _("{key} has no period {period}: {why}").format(
                    key=self.key, period=period, why=why
                )
            )


def periods_of(definition: ProcessDefinition, org: Organisation, cal: WorkCalendar) -> Periods:
    """The periods of ``definition``'s schedule as ``org`` runs it."""
    settings = org.processes.get(definition.key)
    schedule = effective_schedule(definition, settings.schedule if settings else None)
    return Periods(
        definition.key,
        schedule,
        cal,
        tuple(t.key for t in org.towns),
        tuple(a.key for a in org.areas),
    )


def next_round(period: str) -> str:
    """The period of the next turn of a restarting cycle: ``3`` after ``2``."""
    return str(int(period) + 1) if period.isdigit() else f"{period}-2"


DATE_LIKE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
"""A period that looks like a month (``2027-03``) or a day must be one that exists."""


def check_label(period: str) -> None:
    """Refuses a period no cycle can have, whatever its schedule: more than 32 characters,
    other characters than letters, digits, '-', '_' and '.', or a month or day that does not
    exist."""
    if not PERIOD.match(period):
        raise Refused(
            _("bad period {period}: use letters, digits, '-', '_' or '.', at most 32").format(
                period=repr(period)
            )
        )
    date_like = DATE_LIKE.match(period)
    if date_like:
        year, month, day = (int(part) if part else 1 for part in date_like.groups())
        try:
            dt.date(year, month, day)
        except ValueError:
            raise Refused(
                _("bad period {period}: there is no such month or day").format(period=repr(period))
            ) from None


def check_subject(definition: ProcessDefinition, org: Organisation, subject: str | None) -> str:
    """The subject of a cycle about a town or an area, which must be one of the organisation's."""
    if definition.subject in {"period", "case"}:
        if subject:
            raise Refused(
                _("process '{process}' takes no --subject").format(process=definition.key)
            )
        return ""
    known = (
        [t.key for t in org.towns] if definition.subject == "town" else [a.key for a in org.areas]
    )
    if subject is None and definition.subject == "town" and org.main_town is not None:
        return org.main_town.key
    if subject not in known:
        message = (
            N_("process '{process}' needs --subject, one town of: {known}")
            if definition.subject == "town"
            else N_("process '{process}' needs --subject, one area of: {known}")
        )
        raise Refused(_(message).format(process=definition.key, known=", ".join(known)))
    return subject


def cycle_ref(process: str, period: str, subject: str) -> str:
    return f"{process}-{period}" + (f"-{subject}" if subject else "")


def cycle_title(definition: ProcessDefinition, org: Organisation, period: str, subject: str) -> str:
    names = {t.key: t.name for t in org.towns} | {a.key: a.name for a in org.areas}
    where = f", {names.get(subject, subject)}" if subject else ""
    settings = org.processes.get(definition.key)
    title = (
        settings.title if settings is not None and settings.title is not None else definition.title
    )
    return f"{title.sv} {period}{where}"


def linked_subject(definition: ProcessDefinition, org: Organisation, subject: str) -> str | None:
    """The subject of a cycle another cycle opens: the same town or area when it is one the new
    process is about, otherwise none (the main town for processes about a town)."""
    towns = {t.key for t in org.towns}
    areas = {a.key for a in org.areas}
    if definition.subject == "town" and subject in towns:
        return subject
    if definition.subject == "area" and subject in areas:
        return subject
    return None
