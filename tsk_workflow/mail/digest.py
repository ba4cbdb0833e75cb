"""The daily digest: one mail a day with everything due, for the people who chose it.

``tsk_workflow.engine.notify.queue`` stores the events a digest person would get one by one
(tasks assigned, reminders, overdue notices, cycles opened and closed, decisions recorded,
yearly reports due) as outbox rows with status ``digest``. :func:`compose_digests` gathers each
person's rows into one ``digest`` row (status ``pending``, sent by the outbox like any other)
and marks the gathered rows ``digested``, in one transaction.

Once a day: the digest's Message-ID is keyed by person and local day, so a second run on the
same day finds it and leaves rows that came later for the next day's digest. The scheduler pass
(``tsk_workflow.schedpass``: ``tsk tick``, ``tsk run``, the demo) runs it once the local time is
past ``mail.digest_time`` (07:00 by default, see :func:`compose_due_digests`); ``tsk mail
digest`` runs it by hand.

Items are what is still due: a task that is done or cancelled by the time the digest is made is
left out, and a task appears once (as overdue if any of its rows says so).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from tsk_workflow import messages
from tsk_workflow.engine.mailctx import in_each_language
from tsk_workflow.i18n import _, pgettext
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store import outbox as stored
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import OutboxMessage

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session

DIGEST_TIME = dt.time(7, 0)
"""The default local time after which the day's digest is made (``mail.digest_time``)."""

_RANK = {"task_overdue": 2, "task_due": 1}


def digest_time(org: Organisation) -> dt.time:
    """The organisation's ``mail.digest_time`` (HH:MM)."""
    text = org.mail.digest_time or DIGEST_TIME.strftime("%H:%M")
    return dt.time.fromisoformat(text)


def digest_due(org: Organisation, now: dt.datetime) -> bool:
    """Whether it is past the digest time of the day in the organisation's time zone."""
    local = now.astimezone(ZoneInfo(org.calendar.timezone))
    return local.time() >= digest_time(org)


def compose_due_digests(store: Store, orgs: Mapping[str, Organisation], now: dt.datetime) -> int:
    """:func:`compose_digests` for the organisations whose digest time has passed today."""
    due = {key: org for key, org in orgs.items() if digest_due(org, now)}
    return compose_digests(store, due, now) if due else 0


def compose_digests(store: Store, orgs: Mapping[str, Organisation], now: dt.datetime) -> int:
    """Queue today's digest for every person with rows waiting; returns how many were queued.

    One transaction per organisation. Idempotent for a day: a person whose digest for the
    local day of ``now`` exists already gets none, and their waiting rows stay for tomorrow.
    """
    made = 0
    for key, org in orgs.items():
        with store.transaction() as session:
            made += _compose(session, key, org, now)
    return made


def _compose(session: Session, key: str, org: Organisation, now: dt.datetime) -> int:
    day = now.astimezone(ZoneInfo(org.calendar.timezone)).date()
    waiting: dict[str, list[OutboxMessage]] = {}
    for row in stored.waiting_for_digest(session, key, now):
        waiting.setdefault(row.recipient, []).append(row)
    made = 0
    for person_id, rows in waiting.items():
        made += _compose_one(session, org, person_id, rows, day, now)
    return made


def _compose_one(
    session: Session,
    org: Organisation,
    person_id: str,
    rows: list[OutboxMessage],
    day: dt.date,
    now: dt.datetime,
) -> int:
    """One person's digest (if there is anything still due), and their rows marked gathered."""
    key = f"digest:{day.isoformat()}"
    if stored.outbox_has(session, messages.message_id(org, key, person_id)):
        return 0  # today's digest is made: what came since waits for tomorrow's
    items = _items(session, rows)
    queued = 0
    if items:
        context = {
            "day": day.isoformat(),
            "items": items,
            "command": " ".join(
                ["tsk", "--org", org.municipality, "--as", "{person}", "task", "list", "--mine"]
            ),
        }
        mail = messages.Queued(org, [person_id], "digest", key, context)
        queued = stored.queue_mail(session, list(messages.rows(mail, now)))
        if not queued:
            return 0  # another process made the same digest meanwhile: it wins
    stored.mark_digested(session, [row.id for row in rows])
    return queued


def _items(session: Session, rows: Iterable[OutboxMessage]) -> list[dict[str, Any]]:
    """The digest's items: one per task still open, one per other event; soonest first."""
    tasks: dict[int, dict[str, Any]] = {}
    others: list[dict[str, Any]] = []
    for row in rows:
        item = _item(row.template, row.context)
        if row.task_id is None or not item["kind"].startswith("task_"):
            others.append(item)
            continue
        if stored.task_status(session, row.task_id) != "open":
            continue
        known = tasks.get(row.task_id)
        if known is None or _RANK[item["kind"]] > _RANK[known["kind"]]:
            tasks[row.task_id] = {**item, "task": row.task_id}
    items = [*tasks.values(), *others]
    return sorted(items, key=lambda item: (item["when"] is None, str(item["when"] or "")[:16]))


def _item(template: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """What one queued event says in a digest: {kind, title, when, cycle, task}.

    Texts stay as stored (``{"sv": ..., "en": ...}`` where the event had both), and what the
    digest says of its own is said in each language; the outbox picks the recipient's language
    when it renders the digest.
    """
    cycle = context.get("cycle") or {}
    ref = str(cycle.get("ref") or cycle.get("id") or "") if isinstance(cycle, dict) else ""
    task = context.get("task") or {}
    if template in ("task_assigned", "task_reminder"):
        return _entry("task_due", task.get("title", ""), task.get("due"), ref, task.get("id"))
    if template in ("task_overdue", "task_escalated"):
        return _entry("task_overdue", task.get("title", ""), task.get("due"), ref, task.get("id"))
    if template in ("cycle_opened", "cycle_closed"):
        title = str(cycle.get("title", "")) if isinstance(cycle, dict) else ""
        opened = template == "cycle_opened"
        said = in_each_language(
            lambda: (
                _("{cycle} has started") if opened else pgettext("digest", "{cycle} is closed")
            ).format(cycle=title)
        )
        return _entry("cycle", said, None, ref)
    if template in ("decision_recorded", "decision_routed"):
        decision = context.get("decision") or {}
        outcome = str(decision.get("outcome") or "")
        title = str(decision.get("title", ""))
        text: Any = (
            in_each_language(
                lambda: _("{title}: {outcome}").format(title=title, outcome=_outcome(outcome))
            )
            if _outcome(outcome)
            else title
        )
        return _entry("decision", text, decision.get("meeting_date"), ref)
    if template == "yearly_report_due":
        report = context.get("report") or {}
        return _entry("report", report.get("title", ""), report.get("due"), ref)
    if template in ("action_due_soon", "action_overdue"):
        action = context.get("action") or {}
        kind = "action_overdue" if template == "action_overdue" else "action_due"
        title = f"#{action.get('id', '')} {action.get('title', '')}"
        return _entry(kind, title, action.get("due"), ref)
    if template == "mail_failed":  # tsk_workflow.mail.failed
        failed = context.get("failed") or {}
        said = in_each_language(
            lambda: _(
                "a mail to {person} could not be delivered ({reply}); reach them another way"
            ).format(person=failed.get("to", ""), reply=failed.get("reply", ""))
        )
        return _entry("mail_failed", said, None, ref)
    if template == "meeting_invitation":
        meeting = context.get("meeting") or {}
        return _entry("meeting", meeting.get("title", ""), meeting.get("start"), ref)
    return _entry(template, template, None, ref)


def _outcome(outcome: str) -> str | None:
    """A decision's outcome as its mail says it, in the language spoken; None before one."""
    return {
        "approved": pgettext("decision outcome", "approved"),
        "rejected": pgettext("decision outcome", "rejected"),
        "postponed": pgettext("decision outcome", "postponed"),
    }.get(outcome)


def _entry(kind: str, title: Any, when: Any, cycle: str, task: Any = None) -> dict[str, Any]:
    """An item; ``task`` is the task's id for an item about a task (its link is made when the
    digest is rendered: ``tsk_workflow.mail.outbox.with_links``), else None."""
    return {"kind": kind, "title": title, "when": when, "cycle": cycle, "task": task}
