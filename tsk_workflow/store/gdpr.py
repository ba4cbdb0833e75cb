"""The rows a purge of personal data looks at (``tsk_workflow.gdpr``): what was done, closed,
queued or recorded before the cut-off. The rules of what is personal, and the blanking, are
``gdpr``'s: it changes the objects given here, and the session writes them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsk_workflow.store.models import (
    AuditEvent,
    AuditPayload,
    Cycle,
    Document,
    OutboxMessage,
    Task,
)


def cycle_process(session: Session, cycle_id: int) -> tuple[str, str | None] | None:
    """The process of cycle ``cycle_id`` and the digest of the version it follows; None when
    there is no such cycle."""
    query = select(Cycle.process, Cycle.process_digest).where(Cycle.id == cycle_id)
    row = session.execute(query).first()
    return None if row is None else (row[0], row[1])


def tasks_done_before(
    session: Session, municipality: str, cutoff: dt.datetime
) -> list[tuple[Task, str, str | None]]:
    """The tasks of ``municipality`` done before ``cutoff``, each with its cycle's process and
    process digest, in id order."""
    query = (
        select(Task, Cycle.process, Cycle.process_digest)
        .join(Cycle, Cycle.id == Task.cycle_id)
        .where(Task.municipality == municipality, Task.done_at < cutoff)
        .order_by(Task.id)
    )
    return list(session.execute(query))


def cycles_closed_with_note(
    session: Session, municipality: str, cutoff: dt.datetime
) -> list[Cycle]:
    """The cycles of ``municipality`` closed before ``cutoff`` with a closing note."""
    query = select(Cycle).where(
        Cycle.municipality == municipality, Cycle.closed_at < cutoff, Cycle.close_note.is_not(None)
    )
    return list(session.scalars(query))


def mail_queued_before(
    session: Session, municipality: str, cutoff: dt.datetime
) -> list[OutboxMessage]:
    """The outbox rows of ``municipality`` queued before ``cutoff``, sent or not."""
    query = select(OutboxMessage).where(
        OutboxMessage.municipality == municipality, OutboxMessage.created_at < cutoff
    )
    return list(session.scalars(query))


def unpurged_payloads(
    session: Session, municipality: str, cutoff: dt.datetime, actions: Collection[str]
) -> list[tuple[int, str, int | None, Any]]:
    """``(seq, actor, cycle_id, payload)`` of the events of ``municipality`` of ``actions``
    before ``cutoff`` whose payload is not purged, in seq order."""
    query = (
        select(AuditEvent.seq, AuditEvent.actor, AuditEvent.cycle_id, AuditPayload.payload)
        .join(AuditPayload, AuditPayload.seq == AuditEvent.seq)
        .where(
            AuditEvent.municipality == municipality,
            AuditEvent.at < cutoff,
            AuditEvent.action.in_(sorted(actions)),
            AuditPayload.purged_at.is_(None),
        )
        .order_by(AuditEvent.seq)
    )
    return list(session.execute(query))


def generated_documents(
    session: Session, municipality: str, kind: str, attached_by: str
) -> list[tuple[Document, Cycle]]:
    """The documents of ``kind`` that ``attached_by`` (the system) attached to the cycles of
    ``municipality``, each with its cycle, in id order."""
    query = (
        select(Document, Cycle)
        .join(Cycle, Cycle.id == Document.cycle_id)
        .where(
            Cycle.municipality == municipality,
            Document.kind == kind,
            Document.attached_by == attached_by,
        )
        .order_by(Document.id)
    )
    return [(document, cycle) for document, cycle in session.execute(query)]
