"""Naming cycles: the period and subject of a cycle, its reference and title. Pure."""

from __future__ import annotations

import datetime as dt
import re

from tsk_workflow.definitions.model import ProcessDefinition
from tsk_workflow.errors import Refused
from tsk_workflow.organisation.model import Organisation

PERIOD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def default_period(definition: ProcessDefinition, local_now: dt.datetime, count: int) -> str:
    """The period a cycle opened by hand gets when none is given.

    Monthly: ``2027-03``; a few times a year or by rotation: the month; yearly kinds: the year;
    Tingsryd's restarting cycle and processes opened by hand: a running number.
    """
    kind = definition.schedule.kind
    if kind in {"monthly", "times_a_year", "rotation"}:
        return local_now.strftime("%Y-%m")
    if kind in {"yearly", "every_other_year", "per_area", "yearly_deadline"}:
        return local_now.strftime("%Y")
    return str(count + 1)


def next_round(period: str) -> str:
    """The period of the next turn of a restarting cycle: ``3`` after ``2``."""
    return str(int(period) + 1) if period.isdigit() else f"{period}-2"


DATE_LIKE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
"""A period that looks like a month (``2027-03``) or a day must be one that exists."""


def check_period(period: str) -> None:
    if not PERIOD.match(period):
        raise Refused(f"bad period {period!r}: use letters, digits, '-', '_' or '.', at most 32")
    date_like = DATE_LIKE.match(period)
    if date_like:
        year, month, day = (int(part) if part else 1 for part in date_like.groups())
        try:
            dt.date(year, month, day)
        except ValueError:
            raise Refused(f"bad period {period!r}: there is no such month or day") from None


def check_subject(definition: ProcessDefinition, org: Organisation, subject: str | None) -> str:
    """The subject of a cycle about a town or an area, which must be one of the organisation's."""
    if definition.subject in {"period", "case"}:
        if subject:
            raise Refused(f"process '{definition.key}' takes no --subject")
        return ""
    known = (
        [t.key for t in org.towns] if definition.subject == "town" else [a.key for a in org.areas]
    )
    if subject is None and definition.subject == "town" and org.main_town is not None:
        return org.main_town.key
    if subject not in known:
        what = "town" if definition.subject == "town" else "area"
        raise Refused(
            f"process '{definition.key}' needs --subject, one {what} of: {', '.join(known)}"
        )
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
