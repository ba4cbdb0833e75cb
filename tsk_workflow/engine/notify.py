"""Queueing mail: one outbox row per recipient, in the transaction of the act that causes it.

The Message-ID is derived from what the message is about (``key``), so a row written twice by a
retried act, or sent twice after a crash, carries the same Message-ID.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsk_workflow.mail.message import make_message_id
from tsk_workflow.organisation.model import Organisation, Person
from tsk_workflow.store.models import OutboxMessage

DIGESTIBLE = frozenset({"task_assigned", "task_reminder", "task_overdue"})
"""Events a person who chose a daily digest gets in it instead of one mail each."""


def wants_digest(person: Person, org: Organisation) -> bool:
    return person.digest if person.digest is not None else org.mail.digest


def mail_domain(org: Organisation) -> str:
    return org.mail.sender.rsplit("@", 1)[1]


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
) -> list[OutboxMessage]:
    """Queue ``template`` for each person once; ``key`` names the event (``task:42:assigned``)."""
    rows = []
    for person_id in dict.fromkeys(people):
        person = org.person(person_id)
        if person is None:
            continue
        message_id = make_message_id(f"{org.municipality}/{key}/{person.id}", mail_domain(org))
        if _exists(session, message_id):
            continue
        status = "digest" if template in DIGESTIBLE and wants_digest(person, org) else "pending"
        row = OutboxMessage(
            message_id=message_id,
            municipality=org.municipality,
            recipient=person.id,
            email=person.email,
            language=person.language,
            template=template,
            context=_personal(context, person, org),
            status=status,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            cycle_id=cycle_id,
            task_id=task_id,
        )
        session.add(row)
        rows.append(row)
    return rows


def _exists(session: Session, message_id: str) -> bool:
    found = session.execute(select(OutboxMessage.id).where(OutboxMessage.message_id == message_id))
    return found.first() is not None


def _personal(context: dict[str, Any], person: Person, org: Organisation) -> dict[str, Any]:
    """The context as this recipient gets it: their name, and commands to run as them."""
    personal = {
        **context,
        "person": {"id": person.id, "name": person.name},
        "municipality": {"key": org.municipality, "name": org.name},
    }
    if isinstance(context.get("command"), str):
        personal["command"] = context["command"].replace("{person}", person.id)
    return personal
