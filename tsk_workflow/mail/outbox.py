"""Delivering the outbox: render each pending row in its recipient's language and send it.

At-least-once: a batch is claimed with a lease (``next_attempt_at`` moved ``LEASE`` ahead, on
PostgreSQL with ``FOR UPDATE SKIP LOCKED``), sent outside any transaction, and marked as it goes:
every ``MARK_EVERY`` results, or sooner when ``MARK_SECONDS`` have passed since the last mark. A
crash leaves what was sent but not yet marked (at most ``MARK_EVERY`` plus the messages in
flight, not the whole batch) to be sent again when the lease runs out, with the same Message-ID.
Temporary failures are retried with exponential backoff (``MAX_ATTEMPTS`` in all); permanent
ones (5xx) are marked failed with the server's reply kept. A row that cannot be rendered is
marked failed with the reason, and the others go on. A row whose template tried something the
sandbox does not allow, or whose municipality names its own templates where they cannot be used
(``mail.templates`` without ``TSK_TEMPLATE_ROOT``, say), is *held*: status ``held``, the reason in
``last_reply``, nothing sent, until someone fixes it and runs ``tsk mail retry``. The SMTP settings
are read before anything is claimed, so a bad setting leaves every row as it was.

Task links. With link settings in the environment (``tsk_workflow.links.link_settings``:
``TSK_BASE_URL`` and the key), each task mail (:data:`TASK_MAILS`) is rendered with ``link``
{url, expires}: its recipient's signed link to its task (``{TSK_BASE_URL}/t/{token}``), made
from the row (recipient, task, and ``created_at`` as the time it was issued), and each task
in a digest with its own. Nothing of it is stored: the same row renders the same link each
time it is sent. Without settings the mails carry no link.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from tsk_workflow import i18n
from tsk_workflow.i18n import _
from tsk_workflow.links import LinkSettings, expires_at, link_settings, task_link
from tsk_workflow.mail.ics import meeting_invitation
from tsk_workflow.mail.message import SENDER_NAME, OutgoingMail, named_sender
from tsk_workflow.mail.render import Held, Rendered, render
from tsk_workflow.mail.smtp import SendResult, SmtpSettings, backoff, send_batch_sync
from tsk_workflow.mail.templates import template_folder
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.resources import municipalities_dir
from tsk_workflow.store import outbox as stored
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import OutboxMessage

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session

LEASE = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 12
BATCH = 200
MARK_EVERY = 20
MARK_SECONDS = 1.0
TASK_MAILS = frozenset({"task_assigned", "task_reminder", "task_overdue", "task_escalated"})
"""The mails about one task, which carry their recipient's link to it (with link settings)."""


def localise(value: Any, lang: str) -> Any:
    """Pick ``lang`` from every text a stored context has in each language (``{"sv": ...,
    "en": ...}``); a language without one reads Swedish."""
    if isinstance(value, dict):
        if set(value) == set(i18n.LANGUAGES):
            return value.get(lang, value[i18n.DEFAULT])
        return {key: localise(item, lang) for key, item in value.items()}
    if isinstance(value, list):
        return [localise(item, lang) for item in value]
    return value


def override_dir(org: Organisation, env: Mapping[str, str] | None = None) -> Path | None:
    """A municipality's own templates: the folder ``mail.templates`` names under
    ``TSK_TEMPLATE_ROOT`` (from ``env``, default ``os.environ``), else
    ``municipalities/<key>/notifications`` when present.

    Raises ``Held`` when the organisation names a folder that cannot be used
    (``tsk_workflow.mail.templates.template_folder``).
    """
    if org.mail.templates:
        return template_folder(org.mail.templates, os.environ if env is None else env)
    folder = municipalities_dir() / org.municipality / "notifications"
    return folder if folder.is_dir() else None


def compose(
    row: OutboxMessage, org: Organisation, sender: str, env: Mapping[str, str] | None = None
) -> OutgoingMail:
    """The mail a row stands for, with its task link when ``env`` (default ``os.environ``) has
    link settings; raises ``Held`` (the templates must not be used), ``RenderError`` or
    ``ValueError`` when it cannot be made (``LinkConfigError`` for wrong link settings)."""
    environ = os.environ if env is None else env
    return _make(row, sender, override_dir(org, environ), link_settings(environ), _zone(org))


def _zone(org: Organisation) -> ZoneInfo:
    return ZoneInfo(org.calendar.timezone)


def with_links(
    row: OutboxMessage, context: dict[str, Any], links: LinkSettings | None, zone: dt.tzinfo
) -> dict[str, Any]:
    """``context`` with the recipient's task links: ``link`` {url, expires} for a mail about a
    task (:data:`TASK_MAILS`), ``link`` in each item of a digest that is about a task; as it
    was without ``links``. ``expires`` is in ``zone`` (the municipality's)."""
    if links is None:
        return context
    expires = expires_at(links, row.created_at).astimezone(zone).isoformat()

    def link(task_id: int) -> dict[str, str]:
        url = task_link(links, row.municipality, row.recipient, task_id, row.created_at)
        return {"url": url, "expires": expires}

    if row.template in TASK_MAILS and row.task_id is not None:
        return {**context, "link": link(row.task_id)}
    items = context.get("items")
    if row.template == "digest" and isinstance(items, list):
        linked = [
            {**item, "link": link(item["task"])}
            if isinstance(item, dict) and isinstance(item.get("task"), int)
            else item
            for item in items
        ]
        return {**context, "items": linked, "link_expires": expires}
    return context


def _make(
    row: OutboxMessage,
    sender: str,
    templates: Path | None,
    links: LinkSettings | None = None,
    zone: dt.tzinfo = dt.UTC,
) -> OutgoingMail:
    context = with_links(row, localise(row.context, row.language), links, zone)
    rendered = render(row.template, row.language, context, templates)
    return OutgoingMail(
        message_id=row.message_id,
        sender=sender,
        recipient=row.email,
        recipient_name=str(context.get("person", {}).get("name", "")),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        ics=_invitation(row, context),
    )


def _compose_or_fail(
    row: OutboxMessage,
    sender: str,
    templates: Path | None,
    links: LinkSettings | None,
    zone: dt.tzinfo,
) -> OutgoingMail | SendResult:
    """The mail, or why it cannot be made: held (the sandbox refused something a template
    tried), or a permanent failure.

    Anything a template, a stored context or an override can get wrong ends here, not in the
    caller: one broken message must not stop (or, leased again and again, block) the others.
    """
    try:
        return _make(row, sender, templates, links, zone)
    except Held as exc:
        return SendResult(row.message_id, "held", held_reply(exc))
    except Exception as exc:  # any error at all: see the docstring
        return SendResult(
            row.message_id, "permanent", _("cannot render: {reason}").format(reason=exc)
        )


def held_reply(exc: Held) -> str:
    """What a held row keeps as its reply: why it was held, in the language spoken."""
    return _("held: {reason}").format(reason=exc)


def _invitation(row: OutboxMessage, context: Mapping[str, Any]) -> str | None:
    meeting = context.get("meeting")
    if row.template != "meeting_invitation" or not isinstance(meeting, dict):
        return None
    agenda = "\n".join(f"- {item}" for item in meeting.get("agenda", []))
    chair = context.get("chair")
    return meeting_invitation(
        uid=str(meeting["uid"]),
        title=str(meeting["title"]),
        start=dt.datetime.fromisoformat(meeting["start"]),
        end=dt.datetime.fromisoformat(meeting["end"]),
        location=str(meeting.get("location", "")),
        organizer_email=str(meeting.get("organizer", "")),
        attendees=[row.email],
        description=agenda,
        organizer_name=str(chair.get("name", "")) if isinstance(chair, dict) else None,
        stamp=row.created_at,  # a re-sent invitation is the same invitation
    )


def smtp_settings(org: Organisation, env: Mapping[str, str]) -> SmtpSettings:
    """The organisation file's mail settings, with the environment's ``TSK_SMTP_*`` over them."""
    mail = org.mail
    defaults = {
        "host": mail.smtp_host,
        "port": mail.smtp_port,
        "starttls": mail.smtp_starttls,
        "tls": mail.smtp_tls,
        "user": mail.smtp_user,
        "sender": mail.sender,
    }
    settings = SmtpSettings.from_env(env, defaults)
    named = named_sender(settings.sender, SENDER_NAME.format(organisation=org.name))
    return dataclasses.replace(settings, sender=named)


@dataclass
class Delivery:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    held: int = 0
    replies: list[str] = field(default_factory=list)
    """Why each failed or held message was not sent: ``address: reply`` (``address: held: ...``)."""


def deliver(
    store: Store,
    orgs: Mapping[str, Organisation],
    env: Mapping[str, str],
    now: dt.datetime,
    batch: int = BATCH,
    max_in_flight: int = 4,
) -> Delivery:
    """Send every pending message that is due, in batches, until none is left.

    The settings are read first, so that a bad setting (``SmtpConfigError``, ``LinkConfigError``)
    leaves every message where it was instead of leased.
    """
    settings = {key: smtp_settings(org, env) for key, org in orgs.items()}
    links = link_settings(env)
    result = Delivery()
    while True:
        claimed = _claim(store, list(orgs), now, batch)
        for municipality, rows in _by_municipality(claimed).items():
            org = orgs[municipality]
            _send(store, org, settings[municipality], rows, now, result, max_in_flight, env, links)
        if len(claimed) < batch:
            return result


def _claim(
    store: Store, municipalities: list[str], now: dt.datetime, batch: int
) -> list[OutboxMessage]:
    with store.transaction() as session:
        return stored.claim_due(session, municipalities, now, batch, now + LEASE)


def _by_municipality(rows: Sequence[OutboxMessage]) -> dict[str, list[OutboxMessage]]:
    grouped: dict[str, list[OutboxMessage]] = {}
    for row in rows:
        grouped.setdefault(row.municipality, []).append(row)
    return grouped


def _send(
    store: Store,
    org: Organisation,
    settings: SmtpSettings,
    rows: list[OutboxMessage],
    now: dt.datetime,
    result: Delivery,
    max_in_flight: int,
    env: Mapping[str, str],
    links: LinkSettings | None = None,
) -> None:
    marks = _Marks(store, rows, now, result)
    zone = _zone(org)
    mails: list[OutgoingMail] = []
    try:
        templates, held = override_dir(org, env), None
    except Held as exc:  # the municipality's own templates cannot be used: hold all its mail
        templates, held = None, held_reply(exc)
    for row in rows:
        if held is not None:
            made: OutgoingMail | SendResult = SendResult(row.message_id, "held", held)
        else:
            made = _compose_or_fail(row, settings.sender, templates, links, zone)
        if isinstance(made, SendResult):
            marks.add(made)
        else:
            mails.append(made)
    if mails:
        send_batch_sync(settings, mails, max_in_flight, on_result=marks.add)
    marks.flush()


class _Marks:
    """Results of a batch not yet written, written a few at a time while the batch is sent.

    ``add`` is called from the event loop that sends (``send_batch``'s ``on_result``): a write
    holds up the other connections for a moment, which is the price of re-sending at most a few
    messages after a crash instead of the whole batch.
    """

    def __init__(
        self, store: Store, rows: list[OutboxMessage], now: dt.datetime, result: Delivery
    ) -> None:
        self.store, self.now, self.result = store, now, result
        self.rows = {row.message_id: row for row in rows}
        self.waiting: list[SendResult] = []
        self.marked_at = time.monotonic()

    def add(self, outcome: SendResult) -> None:
        self.waiting.append(outcome)
        if len(self.waiting) >= MARK_EVERY or time.monotonic() - self.marked_at >= MARK_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.waiting:
            done = [(self.rows[outcome.message_id], outcome) for outcome in self.waiting]
            _mark(self.store, done, self.now, self.result)
            self.waiting = []
        self.marked_at = time.monotonic()


def _mark(
    store: Store,
    done: list[tuple[OutboxMessage, SendResult]],
    now: dt.datetime,
    result: Delivery,
) -> None:
    """Write what became of each row, in one transaction (an UPDATE by primary key per row)."""
    values = [{"id": row.id, **_after(row, outcome, now, result)} for row, outcome in done]
    with store.transaction() as session:
        stored.mark(session, values)


def _after(
    row: OutboxMessage, outcome: SendResult, now: dt.datetime, result: Delivery
) -> dict[str, Any]:
    if outcome.status == "held":  # not sent, so not an attempt
        result.held += 1
        result.replies.append(f"{row.email}: {outcome.reply}")
        return {"status": "held", "last_reply": outcome.reply[:2000]}
    attempts = row.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_reply": outcome.reply[:2000]}
    if outcome.status == "sent":
        result.sent += 1
        return values | {"status": "sent", "sent_at": now}
    if outcome.status == "temporary" and attempts < MAX_ATTEMPTS:
        result.retried += 1
        return values | {"next_attempt_at": now + backoff(attempts)}
    result.failed += 1
    result.replies.append(f"{row.email}: {outcome.reply}")
    return values | {"status": "failed"}


# ---------------------------------------------------------------- status and retry


def status_counts(session: Session, municipality: str | None = None) -> dict[str, int]:
    counts = {"pending": 0, "sent": 0, "failed": 0, "held": 0, "digest": 0}
    counts.update(stored.status_counts(session, municipality))
    return counts


def failures(
    session: Session, municipality: str | None = None, status: str = "failed"
) -> list[OutboxMessage]:
    """The rows with ``status`` (``failed``, or ``held``), oldest first."""
    return stored.with_status(session, status, municipality)


def latest(
    session: Session,
    municipality: str | None,
    recipient: str,
    task_id: int | None = None,
    template: str | None = None,
) -> OutboxMessage | None:
    """The newest row to ``recipient`` (about task ``task_id``, of ``template``), whatever its
    status: what ``tsk mail show`` renders."""
    return stored.newest_to(session, recipient, municipality, task_id, template)


def rendered(
    row: OutboxMessage, org: Organisation, env: Mapping[str, str] | None = None
) -> Rendered:
    """The subject, text and HTML of a row, as it is (or was) sent: in its recipient's language,
    with the templates in use now, and its task link when ``env`` (default ``os.environ``) has
    link settings."""
    environ = os.environ if env is None else env
    context = with_links(
        row, localise(row.context, row.language), link_settings(environ), _zone(org)
    )
    return render(row.template, row.language, context, override_dir(org, environ))


def retry(
    session: Session, now: dt.datetime, message: int | None = None, municipality: str | None = None
) -> int:
    """Requeue failed and held mail (one message, or all); returns how many.

    Held mail is sent only if its cause is gone by then: otherwise it is held again.
    """
    return stored.requeue(session, ("failed", "held"), now, message, municipality)
