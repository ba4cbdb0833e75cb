"""The admins' act on the mail: failed and held mail queued again, with who did it in the trail.

``tsk mail retry`` is the service's own (the OS user running the service); in the web app an
admin of the organisation retries, and the act is recorded as theirs (``mail.retried``, with
the messages it requeued), in the same transaction as the rows it changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tsk_workflow import audit
from tsk_workflow.engine import access
from tsk_workflow.errors import NotFound
from tsk_workflow.i18n import _
from tsk_workflow.store import outbox

if TYPE_CHECKING:
    from tsk_workflow.engine.service import Engine

RETRY_ACTION = "mail.retried"
RETRIED = ("failed", "held")


@dataclass(frozen=True)
class Retried:
    """The messages queued again (their ids); none when there was nothing to requeue."""

    messages: tuple[int, ...]


def retry_mail(engine: Engine, person: str, message: int | None = None) -> Retried:
    """Queue failed and held mail of the municipality again (``message``, or all), due now, as
    an act of ``person``, one of the admins (anyone else is refused, and the refusal recorded).
    A message that is not failed or held (sent meanwhile, or queued again already) is
    ``NotFound``; all, when none is, requeues nothing and records nothing."""
    municipality = engine.org.municipality
    subject = f"mail:{message}" if message is not None else f"municipality:{municipality}"
    who = engine.actor(person, RETRY_ACTION, subject)
    with engine.act() as act:
        access.require_admin(engine.org, who, RETRY_ACTION, subject)
        ids = outbox.ids_with_status(act.session, RETRIED, municipality, message)
        if not ids:
            if message is not None:
                raise NotFound(
                    _("mail {id} is not failed or held (sent, or queued again already)").format(
                        id=message
                    )
                )
            return Retried(())
        outbox.requeue(act.session, RETRIED, act.now, message, municipality)
        payload = {"messages": list(ids), "count": len(ids)}
        act.record(audit.Act(municipality, who, "admin", RETRY_ACTION, subject, payload))
        return Retried(tuple(ids))
