"""Outgoing mail as data: Message-IDs and the outbox rows of an event's mail.

Below both the engine (whose acts queue mail) and ``tsk_workflow.mail`` (which sends it, and
makes the daily digest), so that neither imports the other. Pure: the rows are plain dicts that
``store.acts.apply`` inserts in the act's transaction.

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
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tsk_workflow.i18n import _
from tsk_workflow.organisation.model import Organisation, Person

DIGESTIBLE = frozenset(
    {
        "task_assigned",
        "task_reminder",
        "task_overdue",
        "cycle_opened",
        "cycle_closed",
        "decision_recorded",
        "yearly_report_due",
        "action_due_soon",
        "action_overdue",
    }
)
"""Events a person who chose a daily digest gets in it instead of one mail each."""

_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def make_message_id(key: str, domain: str) -> str:
    """A Message-ID (with angle brackets) that depends only on ``key`` and ``domain``.

    The key names the message for good, e.g. ``"outbox:1234"`` or ``"herrljunga/task/42/assigned"``;
    it is hashed, so it may hold any text without leaking into the header.
    """
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(_("not a domain for a Message-ID: {domain}").format(domain=repr(domain)))
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain.lower()}>"


def mail_domain(org: Organisation) -> str:
    return org.mail.sender.rsplit("@", 1)[1]


def message_id(org: Organisation, key: str, person_id: str, domain: str | None = None) -> str:
    """The Message-ID of the mail about ``key`` to ``person_id``: the same every time.

    ``domain`` is ``mail_domain(org)``, for a caller that makes many and has it already."""
    return make_message_id(f"{org.municipality}/{key}/{person_id}", domain or mail_domain(org))


def wants_digest(person: Person, org: Organisation) -> bool:
    return person.digest if person.digest is not None else org.mail.digest


@dataclass(frozen=True)
class Queued:
    """One event's mail to queue: to whom, which template, about what (``key``:
    ``task:42:assigned``), with which context."""

    org: Organisation
    people: Sequence[str]
    template: str
    key: str
    context: dict[str, Any]
    cycle_id: int | None = None
    task_id: int | None = None


def rows(mail: Queued, now: dt.datetime) -> list[dict[str, Any]]:
    """The outbox rows of ``mail``: one per person of the organisation, each person once. The
    one place outbox rows are made (the acts' mail and the scheduler's notices)."""
    org = mail.org
    people = _people_by_id(org)
    domain = mail_domain(org)
    made = []
    for person_id in dict.fromkeys(mail.people):
        person = people.get(person_id)
        if person is None:
            continue
        digest = mail.template in DIGESTIBLE and wants_digest(person, org)
        made.append(
            outbox_row(
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
    return made


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


def outbox_row(
    now: dt.datetime, cycle_id: int | None, task_id: int | None, **values: Any
) -> dict[str, Any]:
    """An outbox row with the bookkeeping columns of a mail just queued."""
    return {
        **values,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "sent_at": None,
        "last_reply": None,
        "cycle_id": cycle_id,
        "task_id": task_id,
    }


def personal(context: dict[str, Any], person: Person, org: Organisation) -> dict[str, Any]:
    """The context as this recipient gets it: their name, and commands to run as them."""
    personal = {
        **context,
        "person": {"id": person.id, "name": person.name},
        "municipality": {"key": org.municipality, "name": org.name},
    }
    for key in ("command", "form"):  # a text, or texts in both languages (a form's commands)
        if key in context:
            personal[key] = _as_person(context[key], person.id)
    return personal


def _as_person(value: Any, person_id: str) -> Any:
    """``value`` with ``{person}`` in each of its texts replaced by ``person_id``."""
    if isinstance(value, str):
        return value.replace("{person}", person_id)
    if isinstance(value, dict):
        return {key: _as_person(item, person_id) for key, item in value.items()}
    return value
