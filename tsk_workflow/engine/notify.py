"""Queueing mail: one outbox row per recipient, in the transaction of the act that causes it.

The Message-ID is derived from what the message is about (``key``), so a row written twice by a
retried act, or sent twice after a crash, carries the same Message-ID.

A person who chose the daily digest (``Person.digest``, default the organisation's
``mail.digest``) gets the events in :data:`DIGESTIBLE` as rows with status ``digest``:
``tsk_workflow.mail.digest`` gathers them into one mail a day. Meeting invitations (they carry
the calendar invitation), escalations to a chair and decisions to be recorded are always sent
at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsk_workflow.engine import mailctx
from tsk_workflow.mail.message import make_message_id
from tsk_workflow.organisation.model import Organisation, Person
from tsk_workflow.store import writes
from tsk_workflow.store.models import Cycle, OutboxMessage

if TYPE_CHECKING:
    from tsk_workflow.engine.steps import StepContext

DIGESTIBLE = frozenset(
    {
        "task_assigned",
        "task_reminder",
        "task_overdue",
        "cycle_opened",
        "cycle_closed",
        "decision_recorded",
        "yearly_report_due",
    }
)
"""Events a person who chose a daily digest gets in it instead of one mail each."""

YEARLY_REPORT = "yearly_deadline"
"""The schedule kind of a yearly report: opening such a cycle queues ``yearly_report_due``."""


def wants_digest(person: Person, org: Organisation) -> bool:
    return person.digest if person.digest is not None else org.mail.digest


def mail_domain(org: Organisation) -> str:
    return org.mail.sender.rsplit("@", 1)[1]


def message_id(org: Organisation, key: str, person_id: str, domain: str | None = None) -> str:
    """The Message-ID of the mail about ``key`` to ``person_id``: the same every time.

    ``domain`` is ``mail_domain(org)``, for a caller that makes many and has it already."""
    return make_message_id(f"{org.municipality}/{key}/{person_id}", domain or mail_domain(org))


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
    return writes.queue_mail(session, list(outbox_rows(mail, now)))


@dataclass(frozen=True)
class Queued:
    """One event's mail to queue with :func:`queue_many`: ``queue``'s arguments but the time."""

    org: Organisation
    people: Sequence[str]
    template: str
    key: str
    context: dict[str, Any]
    cycle_id: int | None = None
    task_id: int | None = None


def queue_many(session: Session, mails: Sequence[Queued], now: dt.datetime) -> int:
    """``queue`` for each of ``mails`` in order, the rows inserted with one statement per 500
    (rows keep the order they were queued in). Returns how many rows were queued."""
    rows = [row for mail in mails for row in outbox_rows(mail, now)]
    return sum(
        writes.queue_mail(session, rows[start : start + 500]) for start in range(0, len(rows), 500)
    )


def outbox_rows(mail: Queued, now: dt.datetime) -> list[dict[str, Any]]:
    """The outbox rows of ``mail`` queued at ``now``: one per person of the organisation, each
    person once. The one place outbox rows are made (acts and the scheduler's notices)."""
    org = mail.org
    people = _people_by_id(org)
    domain = mail_domain(org)
    rows = []
    for person_id in dict.fromkeys(mail.people):
        person = people.get(person_id)
        if person is None:
            continue
        digest = mail.template in DIGESTIBLE and wants_digest(person, org)
        rows.append(
            writes.outbox_row(
                now,
                mail.cycle_id,
                mail.task_id,
                message_id=message_id(org, mail.key, person.id, domain),
                municipality=org.municipality,
                recipient=person.id,
                email=person.email,
                language=person.language,
                template=mail.template,
                context=personal(mail.context, person, org),
                status="digest" if digest else "pending",
            )
        )
    return rows


_PEOPLE_BY_ID: dict[int, tuple[tuple[Person, ...], dict[str, Person]]] = {}
"""``org.person`` as a dict, for the organisations met last: keyed by the id of their ``people``,
which is kept with it (so the id is not reused while the entry lives)."""


def _people_by_id(org: Organisation) -> dict[str, Person]:
    """``org.person`` as a dict (the first person of each id): the scheduler queues thousands
    of mails in a pass, and ``org.person`` reads the people one by one."""
    people = org.people
    found = _PEOPLE_BY_ID.get(id(people))
    if found is None or found[0] is not people:
        if len(_PEOPLE_BY_ID) >= 64:
            _PEOPLE_BY_ID.clear()
        index: dict[str, Person] = {}
        for person in people:
            index.setdefault(person.id, person)
        found = _PEOPLE_BY_ID[id(people)] = (people, index)
    return found[1]


def exists(session: Session, message_id: str) -> bool:
    found = session.execute(select(OutboxMessage.id).where(OutboxMessage.message_id == message_id))
    return found.first() is not None


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


def personal(context: dict[str, Any], person: Person, org: Organisation) -> dict[str, Any]:
    """The context as this recipient gets it: their name, and commands to run as them."""
    personal = {
        **context,
        "person": {"id": person.id, "name": person.name},
        "municipality": {"key": org.municipality, "name": org.name},
    }
    if isinstance(context.get("command"), str):
        personal["command"] = context["command"].replace("{person}", person.id)
    return personal
