"""A mail that failed for good is not a private matter of the outbox: it goes into the audit
trail (``mail.failed``: which mail, to whom, about which task or cycle, and the server's reply),
and the chair of the group whose cycle it was about, with the deputy, hears of it in their next
daily digest, whatever they chose for their own mail, so that someone can reach the person
another way. A failure of a chair's own mail is not told to that chair (it would not arrive
either); a mail about no cycle goes to the audit trail only.

Written in the transaction that marks the row failed (``tsk_workflow.mail.outbox``), so that a
failure and its record go together or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tsk_workflow import audit, messages
from tsk_workflow.engine.directory import SYSTEM
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store import outbox as stored
from tsk_workflow.store.models import OutboxMessage

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session

ACTION = "mail.failed"
NOTICE = "mail_failed"
"""The template of the digest item a chair gets (never sent alone)."""


def record(
    session: Session,
    org: Organisation,
    failed: Sequence[tuple[OutboxMessage, str]],
    now: dt.datetime,
) -> None:
    """Audit each of ``failed`` (a row and the reply that failed it) and tell the chairs."""
    if not failed:
        return
    audit.write(session, [(_event(row, reply), now) for row, reply in failed])
    notices = [
        notice for row, reply in failed for notice in _notices(session, org, row, reply, now)
    ]
    stored.insert_mail(session, notices)


def _event(row: OutboxMessage, reply: str) -> audit.Act:
    if row.task_id is not None:
        subject = f"task:{row.task_id}"
    elif row.cycle_id is not None:
        subject = f"cycle:{row.cycle_id}"
    else:
        subject = f"mail:{row.id}"
    payload = {
        "mail": row.id,
        "message_id": row.message_id,
        "template": row.template,
        "to": row.recipient,
        "attempts": row.attempts + 1,
        "reply": reply[:500],
    }
    return audit.Act(row.municipality, SYSTEM, "system", ACTION, subject, payload, row.cycle_id)


def _notices(
    session: Session, org: Organisation, row: OutboxMessage, reply: str, now: dt.datetime
) -> list[dict[str, Any]]:
    cycle = None if row.cycle_id is None else stored.cycle_group_and_ref(session, row.cycle_id)
    if row.template == NOTICE or cycle is None:
        return []
    group_key, ref = cycle
    group = org.group(group_key)
    if group is None:
        return []
    chairs = [p for p in (group.chair, group.deputy) if p and p != row.recipient]
    person = org.person(row.recipient)
    context = {
        "failed": {
            "to": person.name if person else row.recipient,
            "template": row.template,
            "reply": reply[:300],
            "task": row.task_id,
        },
        "cycle": {"id": row.cycle_id, "ref": ref},
    }
    mail = messages.Queued(
        org, chairs, NOTICE, f"mail:{row.id}:failed", context, row.cycle_id, row.task_id
    )
    return [{**made, "status": "digest"} for made in messages.rows(mail, now)]
