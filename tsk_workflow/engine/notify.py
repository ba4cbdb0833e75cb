"""Queueing mail: one outbox row per recipient, among the effects of the act that causes it.

The rows, their Message-IDs and who gets a digest instead are ``tsk_workflow.messages``' (below
both the engine and ``tsk_workflow.mail``); ``store.acts.apply`` writes them with the act's other
effects, each Message-ID once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tsk_workflow.engine import mailctx
from tsk_workflow.messages import Queued, rows
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store.acts import CycleState, Effects

if TYPE_CHECKING:
    from tsk_workflow.engine.context import StepContext

YEARLY_REPORT = "yearly_deadline"
"""The schedule kind of a yearly report: opening such a cycle queues ``yearly_report_due``."""


def queue(
    effects: Effects,
    org: Organisation,
    people: Iterable[str],
    template: str,
    key: str,
    context: dict[str, Any],
    now: dt.datetime,
    cycle_id: int | None = None,
    task_id: int | None = None,
) -> None:
    """Queue ``template`` for each person once; ``key`` names the event (``task:42:assigned``).
    A Message-ID queued already (the same mail queued again by a retried act, or by a step
    entered twice) is left out when the effects are written."""
    effects.queue(rows(Queued(org, list(people), template, key, context, cycle_id, task_id), now))


def queue_many(effects: Effects, mails: Sequence[Queued], now: dt.datetime) -> None:
    """``queue`` for each of ``mails``, in order."""
    effects.queue(row for mail in mails for row in rows(mail, now))


def yearly_report(ctx: StepContext, cycle: CycleState) -> None:
    """``yearly_report_due`` to the chair (and deputy) of a yearly-report cycle just opened.

    Nothing for other processes, or when the report's deadline cannot be found.
    """
    definition = ctx.process.definition
    if definition.schedule.kind != YEARLY_REPORT:
        return
    context = mailctx.yearly_report_mail(ctx.org, definition, cycle, ctx.cal, ctx.now)
    if context is None:
        return
    queue(
        ctx.act.effects,
        ctx.org,
        ctx.directory.chairs(ctx.group(cycle)),
        "yearly_report_due",
        f"cycle:{cycle.id}:report_due",
        context,
        ctx.now,
        cycle.id,
    )
