"""Events reported at any time (``tsk_workflow.engine.events``): the reports and their events,
written in the act's transaction, and read by person, by month and by age (a purge)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsk_workflow.store.models import EventReport, ReportedEvent


def add_report(
    session: Session, report: dict[str, Any], events: Sequence[dict[str, Any]]
) -> EventReport:
    """A new report with its ``events`` (in their order), written now: its ids are known."""
    row = EventReport(**report)
    for position, event in enumerate(events):
        row.events.append(
            ReportedEvent(municipality=report["municipality"], position=position, **event)
        )
    session.add(row)
    session.flush()
    return row


def report_of_form(session: Session, municipality: str, form_id: str) -> EventReport | None:
    """The report made from the form ``form_id``, if there is one."""
    query = select(EventReport).where(
        EventReport.municipality == municipality, EventReport.form_id == form_id
    )
    return session.scalars(query).first()


def reports(
    session: Session,
    municipality: str,
    *,
    reporter: str | None = None,
    first: dt.date | None = None,
    last: dt.date | None = None,
    limit: int | None = None,
) -> list[EventReport]:
    """The reports of ``municipality`` (of ``reporter``; with an event from ``first`` to
    ``last``, both included), the newest first."""
    query = select(EventReport).where(EventReport.municipality == municipality)
    if reporter is not None:
        query = query.where(EventReport.reporter == reporter)
    if first is not None or last is not None:
        days = select(ReportedEvent.report_id).where(ReportedEvent.municipality == municipality)
        if first is not None:
            days = days.where(ReportedEvent.day >= first)
        if last is not None:
            days = days.where(ReportedEvent.day <= last)
        query = query.where(EventReport.id.in_(days))
    query = query.order_by(EventReport.reported_at.desc(), EventReport.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def events_between(
    session: Session, municipality: str, first: dt.date, last: dt.date
) -> list[tuple[ReportedEvent, EventReport]]:
    """The events of ``municipality`` from ``first`` to ``last`` (both included), each with its
    report, in the order they happened."""
    query = (
        select(ReportedEvent, EventReport)
        .join(EventReport, EventReport.id == ReportedEvent.report_id)
        .where(
            ReportedEvent.municipality == municipality,
            ReportedEvent.day >= first,
            ReportedEvent.day <= last,
        )
        .order_by(ReportedEvent.day, ReportedEvent.time, ReportedEvent.id)
    )
    return [(event, report) for event, report in session.execute(query)]


def events_reported_before(
    session: Session, municipality: str, cutoff: dt.datetime
) -> list[ReportedEvent]:
    """The events of ``municipality`` reported before ``cutoff``, not purged yet."""
    query = (
        select(ReportedEvent)
        .join(EventReport, EventReport.id == ReportedEvent.report_id)
        .where(
            ReportedEvent.municipality == municipality,
            EventReport.reported_at < cutoff,
            ReportedEvent.purged_at.is_(None),
        )
        .order_by(ReportedEvent.id)
    )
    return list(session.scalars(query))
