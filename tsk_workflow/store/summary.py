"""One municipality's rows as the demo tells its year (``tsk_workflow.demo``): cycles, tasks,
decisions and mail to count, the meetings planned, and what is due, for its summary and its
calendar; and the single rows its players look at between acts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsk_workflow.store.models import AuditEvent, AuditPayload, Cycle, Decision, OutboxMessage, Task


def cycle(session: Session, cycle_id: int) -> Cycle | None:
    """Cycle ``cycle_id``; None when there is no such cycle."""
    return session.get(Cycle, cycle_id)


def cycles(session: Session, municipality: str) -> list[Cycle]:
    """The cycles of ``municipality``."""
    return list(session.scalars(select(Cycle).where(Cycle.municipality == municipality)))


def cycle_statuses(session: Session, municipality: str) -> list[tuple[str, str]]:
    """``(process, status)`` of each cycle of ``municipality``."""
    query = select(Cycle.process, Cycle.status).where(Cycle.municipality == municipality)
    return list(session.execute(query))


def cycle_titles(session: Session, municipality: str) -> dict[int, str]:
    """The title of each cycle of ``municipality``, by id."""
    query = select(Cycle.id, Cycle.title).where(Cycle.municipality == municipality)
    return dict(session.execute(query).all())


def task_times(
    session: Session, municipality: str
) -> list[tuple[str, dt.datetime | None, dt.datetime | None]]:
    """``(status, done_at, due_at)`` of each task of ``municipality``."""
    query = select(Task.status, Task.done_at, Task.due_at).where(Task.municipality == municipality)
    return list(session.execute(query))


def tasks_due(session: Session, municipality: str) -> list[Task]:
    """The tasks of ``municipality`` with a due time that are not cancelled."""
    query = select(Task).where(
        Task.municipality == municipality, Task.due_at.is_not(None), Task.status != "cancelled"
    )
    return list(session.scalars(query))


def decisions_waiting(session: Session, municipality: str) -> list[Decision]:
    """The decisions of ``municipality`` proposed or postponed, waiting for a meeting."""
    query = select(Decision).where(
        Decision.municipality == municipality,
        Decision.status.in_(["proposed", "postponed"]),
    )
    return list(session.scalars(query))


def decision_statuses(session: Session, municipality: str) -> list[tuple[str, str]]:
    """``(routed_to, status)`` of each decision of ``municipality``."""
    query = select(Decision.routed_to, Decision.status).where(Decision.municipality == municipality)
    return list(session.execute(query))


def sent_recipients(session: Session, municipality: str) -> list[str]:
    """The recipient of each mail of ``municipality`` sent."""
    query = select(OutboxMessage.recipient).where(
        OutboxMessage.municipality == municipality, OutboxMessage.status == "sent"
    )
    return list(session.scalars(query))


def mail_templates(session: Session, municipality: str) -> list[str]:
    """The template of each mail of ``municipality`` queued, whatever became of it."""
    query = select(OutboxMessage.template).where(OutboxMessage.municipality == municipality)
    return list(session.scalars(query))


def events_with_payload(
    session: Session, municipality: str, action: str
) -> list[tuple[int, int | None, Any]]:
    """``(seq, cycle_id, payload)`` of each event of ``action`` in ``municipality``."""
    query = (
        select(AuditEvent.seq, AuditEvent.cycle_id, AuditPayload.payload)
        .join(AuditPayload, AuditPayload.seq == AuditEvent.seq)
        .where(AuditEvent.municipality == municipality, AuditEvent.action == action)
    )
    return list(session.execute(query))
