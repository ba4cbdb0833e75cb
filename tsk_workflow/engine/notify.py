"""Queueing mail: one outbox row per recipient, in the transaction of the act that causes it.

The rows, their Message-IDs and who gets a digest instead are ``tsk_workflow.messages``' (below
both the engine and ``tsk_workflow.mail``); this module writes them in the act's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from tsk_workflow.engine import mailctx
from tsk_workflow.messages import (
    DIGESTIBLE,
    Queued,
    mail_domain,
    message_id,
    personal,
    rows,
    wants_digest,
)
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store import writes
from tsk_workflow.store.models import Cycle

if TYPE_CHECKING:
    from tsk_workflow.engine.context import StepContext

__all__ = [  # messages' names are kept here while engine/ticker.py and notices.py use them
    "DIGESTIBLE",
    "YEARLY_REPORT",
    "Queued",
    "exists",
    "mail_domain",
    "message_id",
    "personal",
    "queue",
    "queue_many",
    "rows",
    "wants_digest",
    "yearly_report",
]

YEARLY_REPORT = "yearly_deadline"
"""The schedule kind of a yearly report: opening such a cycle queues ``yearly_report_due``."""


def queue(
    session: Session,
    org: Organisation,
    people: Iterable[str],
    template: str,
    key: str,
    context: dict[str, Any],
    now: dt.datetime,
    cycle_id: int | None = None,
    task_id: int | None = None,
) -> int:
    """Queue ``template`` for each person once; ``key`` names the event (``task:42:assigned``).

    Rows whose Message-ID is queued already are left out by the insert itself. Returns how
    many rows were queued now.
    """
    mail = Queued(org, list(people), template, key, context, cycle_id, task_id)
    return writes.queue_mail(session, list(rows(mail, now)))


def queue_many(session: Session, mails: Sequence[Queued], now: dt.datetime) -> int:
    """``queue`` for each of ``mails`` in order, the rows inserted with one statement per 500
    (rows keep the order they were queued in). Returns how many rows were queued."""
    queued = [row for mail in mails for row in rows(mail, now)]
    return sum(
        writes.queue_mail(session, queued[start : start + 500])
        for start in range(0, len(queued), 500)
    )


def exists(session: Session, message_id: str) -> bool:
    return writes.outbox_has(session, message_id)


def yearly_report(ctx: StepContext, cycle: Cycle) -> int:
    """``yearly_report_due`` to the chair (and deputy) of a yearly-report cycle just opened.

    Nothing for other processes, or when the report's deadline cannot be found.
    """
    definition = ctx.process.definition
    if definition.schedule.kind != YEARLY_REPORT:
        return 0
    context = mailctx.yearly_report_mail(ctx.org, definition, cycle, ctx.cal, ctx.now)
    if context is None:
        return 0
    return queue(
        ctx.session,
        ctx.org,
        ctx.directory.chairs(ctx.group(cycle)),
        "yearly_report_due",
        f"cycle:{cycle.id}:report_due",
        context,
        ctx.now,
        cycle.id,
    )
