"""Delivering the outbox: render each pending row in its recipient's language and send it.

At-least-once, and never by two deliveries at once:

- **Claims and leases.** A batch is claimed under a lease (``next_attempt_at`` moved ``LEASE``
  ahead, on PostgreSQL with ``FOR UPDATE SKIP LOCKED``) and a token naming the delivery
  (``claim_token``, a fencing token). While the batch is sent, the lease of every row not yet
  marked is renewed every ``RENEW_EVERY``, whatever the server does, so a slow batch keeps its
  rows however long it takes. Before each message the delivery reads whether it still holds the
  row, and it writes what became of a row only if it still does: a delivery whose lease another
  took over (it stalled longer than ``LEASE``) stops at the next message and leaves the row to
  the other.
- **Marks.** Results are written as they come: every ``MARK_EVERY`` results, or sooner when
  ``MARK_SECONDS`` have passed. A crash leaves what was sent but not yet marked (at most
  ``MARK_EVERY`` plus the messages in flight, not the whole batch) to be sent again when the
  lease runs out, with the same Message-ID. Rows a delivery claimed but did not try (a stop, its
  deadline, a server not answering) are released at its end: due again at once, no attempt
  counted, held by nobody.
- **Retries.** Temporary failures are retried with exponential backoff (``MAX_ATTEMPTS`` in
  all); permanent ones (5xx) are marked failed with the server's reply kept. A row that cannot be
  rendered is marked failed with the reason, and the others go on. A row whose template tried
  something the sandbox does not allow, or whose municipality names its own templates where they
  cannot be used (``mail.templates`` without ``TSK_TEMPLATE_ROOT``, say), is *held*: status
  ``held``, the reason in ``last_reply``, nothing sent, until someone fixes it and runs ``tsk
  mail retry``. The SMTP settings are read before anything is claimed, so a bad setting leaves
  every row as it was.
- **A server that does not answer** (no connection, time-outs, dropped connections:
  ``BREAKER_AFTER`` messages in a row) is not tried again in this delivery: its circuit breaker
  opens, the rest of its mail waits, and the server's state is kept (``mail_servers``; ``tsk mail
  status`` shows it). The next delivery tries one message first, and the rest only once that one
  is answered.
- **A stop** (``stop``, set on SIGTERM by ``tsk run``) starts no new message, gives the ones in
  flight ``STOP_GRACE`` seconds, drops their connections, and releases what was not sent; a
  ``deadline`` only stops new messages. Both leave the rest to the next delivery.

Leases are on the delivery's own clock: the ``now`` it was given plus the time it has run, so a
delivery at a virtual time (``tsk tick --now``) leases as one at the real time does.

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
import secrets
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from tsk_workflow import i18n
from tsk_workflow.i18n import _
from tsk_workflow.links import LinkSettings, expires_at, link_settings, task_link
from tsk_workflow.mail import failed
from tsk_workflow.mail.ics import meeting_invitation
from tsk_workflow.mail.message import SENDER_NAME, OutgoingMail, named_sender
from tsk_workflow.mail.render import Held, Rendered, render
from tsk_workflow.mail.smtp import Hooks, SendResult, SmtpSettings, backoff, send_batch_sync
from tsk_workflow.mail.templates import template_folder
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.resources import municipalities_dir
from tsk_workflow.store import outbox as stored
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import MailServer, OutboxMessage

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session

LEASE = dt.timedelta(minutes=2)
"""How long a claim holds a row without being renewed: what a killed delivery's rows wait."""
RENEW_EVERY = 30.0
"""Seconds between two renewals of the lease while a batch is sent (a quarter of ``LEASE``)."""
MAX_ATTEMPTS = 12
BATCH = 200
MARK_EVERY = 20
MARK_SECONDS = 1.0
BREAKER_AFTER = 3
"""Messages in a row without an answer from a server after which a delivery stops trying it."""
STOP_GRACE = 5.0
"""Seconds the messages in flight get to be answered once a delivery is told to stop."""
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
    deferred: int = 0
    """Claimed but not tried (a stop, the deadline, a server not answering): due again."""
    lost: int = 0
    """Rows another delivery took over while this one held them: left to that one."""
    paused: list[str] = field(default_factory=list)
    """The servers this delivery stopped trying: ``host:port: why``."""
    replies: list[str] = field(default_factory=list)
    """Why each failed or held message was not sent: ``address: reply`` (``address: held: ...``)."""

    def as_dict(self) -> dict[str, Any]:
        """The counts, as ``tsk tick --json`` and ``tsk mail send --json`` give them, with
        ``paused`` when a server was given up."""
        data: dict[str, Any] = {
            "sent": self.sent,
            "retried": self.retried,
            "failed": self.failed,
            "held": self.held,
            "deferred": self.deferred,
            "lost": self.lost,
        }
        if self.paused:
            data["paused"] = list(self.paused)
        return data

    @property
    def did_anything(self) -> bool:
        """Whether any message was tried, held, left or lost, or a server given up."""
        return bool(
            self.sent + self.retried + self.failed + self.held + self.deferred + self.lost
        ) or bool(self.paused)


@dataclass
class _Run:
    """One delivery: its fencing token, its clock, and whether it should stop."""

    now: dt.datetime
    stop: threading.Event | None = None
    deadline: float | None = None
    """``time.monotonic()`` after which no new message is started."""
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    started: float = field(default_factory=time.monotonic)

    def clock(self) -> dt.datetime:
        """The delivery's time: ``now`` and what it has run since."""
        return self.now + dt.timedelta(seconds=time.monotonic() - self.started)

    def lease_until(self) -> dt.datetime:
        return self.clock() + LEASE

    def stopping(self) -> bool:
        """Told to stop: in-flight messages get ``STOP_GRACE``, then are given up."""
        return self.stop is not None and self.stop.is_set()

    def over(self) -> bool:
        """No new message: told to stop, or past the deadline."""
        late = self.deadline is not None and time.monotonic() >= self.deadline
        return late or self.stopping()


def deliver(
    store: Store,
    orgs: Mapping[str, Organisation],
    env: Mapping[str, str],
    now: dt.datetime,
    batch: int = BATCH,
    max_in_flight: int = 4,
    *,
    stop: threading.Event | None = None,
    seconds: float | None = None,
) -> Delivery:
    """Send every pending message that is due, in batches, until none is left, ``stop`` is set,
    or ``seconds`` have passed (then the messages in flight finish, and the rest wait for the
    next delivery); see the module docstring.

    The settings are read first, so that a bad setting (``SmtpConfigError``, ``LinkConfigError``)
    leaves every message where it was instead of leased.
    """
    settings = {key: smtp_settings(org, env) for key, org in orgs.items()}
    links = link_settings(env)
    deadline = None if seconds is None else time.monotonic() + seconds
    run = _Run(now, stop, deadline)
    result = Delivery()
    for server, municipalities in _by_server(settings).items():
        breaker = _Breaker.load(store, server)
        while not run.over():
            size = 1 if breaker.probing else batch
            claimed = _claim(store, municipalities, run, size)
            for municipality, rows in _by_municipality(claimed).items():
                sending = _Sending(store, orgs[municipality], settings[municipality], run, result)
                sending.send(rows, breaker, max_in_flight, env, links)
            if breaker.open or len(claimed) < size:
                break
        breaker.save(store, run.clock())
        if breaker.open:
            result.paused.append(f"{server}: {breaker.last_error}")
    return result


def server_of(settings: SmtpSettings) -> str:
    """The name a server's state is kept under: ``host:port``."""
    return f"{settings.host}:{settings.port}"


def _by_server(settings: Mapping[str, SmtpSettings]) -> dict[str, list[str]]:
    """The municipalities sending through each server."""
    grouped: dict[str, list[str]] = {}
    for municipality, its in settings.items():
        grouped.setdefault(server_of(its), []).append(municipality)
    return grouped


@dataclass
class _Breaker:
    """A server's circuit breaker for one delivery: closed (send), open (stop trying it), or
    probing (it did not answer before: one message first, the rest once that one is answered).
    """

    server: str
    failures: int = 0
    paused_at: dt.datetime | None = None
    last_error: str | None = None
    open: bool = False
    changed: bool = False

    @classmethod
    def load(cls, store: Store, server: str) -> _Breaker:
        with store.reading() as session:
            row = stored.server_state(session, server)
        if row is None:
            return cls(server)
        return cls(server, row.failures, row.paused_at, row.last_error)

    @property
    def probing(self) -> bool:
        return self.paused_at is not None and not self.open

    def allows(self) -> bool:
        return not self.open

    def record(self, outcome: SendResult) -> None:
        if outcome.status in ("held", "deferred"):
            return
        self.changed = True
        if outcome.answered:
            self.failures, self.paused_at, self.open = 0, None, False
            return
        self.failures += 1
        self.last_error = outcome.reply
        if self.failures >= BREAKER_AFTER or self.paused_at is not None:
            self.open = True

    def save(self, store: Store, at: dt.datetime) -> None:
        if not self.changed:
            return
        if self.open and self.paused_at is None:
            self.paused_at = at
        with store.transaction() as session:
            stored.save_server(
                session,
                {
                    "server": self.server,
                    "failures": self.failures,
                    "paused_at": self.paused_at,
                    "last_error": (self.last_error or "")[:2000] or None,
                    "updated_at": at,
                },
            )


def _claim(store: Store, municipalities: list[str], run: _Run, batch: int) -> list[OutboxMessage]:
    with store.transaction() as session:
        return stored.claim_due(
            session, municipalities, run.now, batch, run.lease_until(), run.token
        )


def _by_municipality(rows: Sequence[OutboxMessage]) -> dict[str, list[OutboxMessage]]:
    grouped: dict[str, list[OutboxMessage]] = {}
    for row in rows:
        grouped.setdefault(row.municipality, []).append(row)
    return grouped


class _Sending:
    """One municipality's share of a claimed batch, while it is sent: renders it, sends it,
    renews its lease, marks each result, and releases what was not tried."""

    def __init__(
        self,
        store: Store,
        org: Organisation,
        settings: SmtpSettings,
        run: _Run,
        result: Delivery,
    ) -> None:
        self.store, self.org, self.settings = store, org, settings
        self.run, self.result = run, result

    def send(
        self,
        rows: list[OutboxMessage],
        breaker: _Breaker,
        max_in_flight: int,
        env: Mapping[str, str],
        links: LinkSettings | None,
    ) -> None:
        marks = _Marks(self.store, self.org, rows, self.run, self.result)
        try:
            mails = list(self._compose(rows, marks, env, links))
            if mails:

                def may_send(mail: OutgoingMail) -> bool:
                    return not self.run.over() and breaker.allows() and marks.holds(mail)

                def on_result(outcome: SendResult) -> None:
                    breaker.record(outcome)
                    marks.add(outcome)

                hooks = Hooks(may_send, on_result, marks.tick, self.run.stopping, STOP_GRACE)
                send_batch_sync(self.settings, mails, max_in_flight, hooks=hooks)
            marks.flush()
        finally:  # whatever happened (Ctrl-C too): what was not tried is due again at once
            marks.release()

    def _compose(
        self,
        rows: list[OutboxMessage],
        marks: _Marks,
        env: Mapping[str, str],
        links: LinkSettings | None,
    ) -> Iterator[OutgoingMail]:
        zone = _zone(self.org)
        try:
            templates, held = override_dir(self.org, env), None
        except Held as exc:  # the municipality's own templates cannot be used: hold all its mail
            templates, held = None, held_reply(exc)
        for row in rows:
            if held is not None:
                made: OutgoingMail | SendResult = SendResult(row.message_id, "held", held)
            else:
                made = _compose_or_fail(row, self.settings.sender, templates, links, zone)
            if isinstance(made, SendResult):
                marks.add(made)
            else:
                yield made


class _Marks:
    """The rows of a batch while it is sent: their results not yet written (written a few at a
    time), their lease (renewed), and which of them this delivery still holds.

    Called from the event loop that sends (``Hooks``): a write holds up the other connections for
    a moment, which is the price of re-sending at most a few messages after a crash instead of
    the whole batch.
    """

    def __init__(
        self,
        store: Store,
        org: Organisation,
        rows: list[OutboxMessage],
        run: _Run,
        result: Delivery,
    ) -> None:
        self.store, self.org, self.run, self.result = store, org, run, result
        self.rows = {row.message_id: row for row in rows}
        self.unmarked = {row.id for row in rows}
        self.lost: set[int] = set()
        self.waiting: list[SendResult] = []
        self.marked_at = self.renewed_at = time.monotonic()

    def holds(self, mail: OutgoingMail) -> bool:
        """Whether this delivery still holds the row of ``mail`` (read before sending it)."""
        row = self.rows[mail.message_id]
        if row.id not in self.lost:
            with self.store.reading() as session:
                if stored.holds(session, row.id, self.run.token):
                    return True
            self._lose({row.id})
        return False

    def add(self, outcome: SendResult) -> None:
        if outcome.status == "deferred":
            if self.rows[outcome.message_id].id not in self.lost:
                self.result.deferred += 1
            return
        self.waiting.append(outcome)
        if len(self.waiting) >= MARK_EVERY or time.monotonic() - self.marked_at >= MARK_SECONDS:
            self.flush()

    def tick(self) -> None:
        """Called as time goes while the batch is sent: write the results waiting, and renew the
        lease of the rows not yet marked once ``RENEW_EVERY`` has passed."""
        if time.monotonic() - self.marked_at >= MARK_SECONDS:
            self.flush()
        if time.monotonic() - self.renewed_at >= RENEW_EVERY:
            self.renew()

    def flush(self) -> None:
        if self.waiting:
            done = [(self.rows[outcome.message_id], outcome) for outcome in self.waiting]
            marked = _mark(self.store, self.org, done, self.run.token, self.run.now, self.result)
            ids = {row.id for row, _outcome in done}
            self.unmarked -= ids
            self._lose(ids - marked)
            self.waiting = []
        self.marked_at = time.monotonic()

    def renew(self) -> None:
        ids = self.unmarked - self.lost
        with self.store.transaction() as session:
            held = stored.renew(session, ids, self.run.token, self.run.lease_until())
        self._lose(ids - held)
        self.renewed_at = time.monotonic()

    def release(self) -> None:
        """Give back the rows not marked that this delivery still holds: due at its ``now``."""
        ids = self.unmarked - self.lost
        if ids:
            with self.store.transaction() as session:
                stored.release(session, ids, self.run.token, self.run.now)

    def _lose(self, ids: set[int]) -> None:
        new = ids - self.lost
        self.result.lost += len(new)
        self.lost |= new
        self.unmarked -= new


def _mark(
    store: Store,
    org: Organisation,
    done: list[tuple[OutboxMessage, SendResult]],
    token: str,
    now: dt.datetime,
    result: Delivery,
) -> set[int]:
    """Write what became of each row this delivery still holds, in one transaction (an UPDATE
    by primary key per row), with the record of each that failed for good
    (``tsk_workflow.mail.failed``); returns the ids written."""
    after = [(row, outcome, _after(row, outcome, now)) for row, outcome in done]
    with store.transaction() as session:
        marked = stored.mark(
            session, [{"id": row.id, **values} for row, _o, values in after], token
        )
        failed_now = [
            (row, outcome.reply)
            for row, outcome, values in after
            if row.id in marked and values.get("status") == "failed"
        ]
        failed.record(session, org, failed_now, now)
    for row, outcome, values in after:
        if row.id in marked:
            _count(row, outcome, values, result)
    return marked


def _after(row: OutboxMessage, outcome: SendResult, now: dt.datetime) -> dict[str, Any]:
    if outcome.status == "held":  # not sent, so not an attempt
        return {"status": "held", "last_reply": outcome.reply[:2000]}
    attempts = row.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_reply": outcome.reply[:2000]}
    if outcome.status == "sent":
        return values | {"status": "sent", "sent_at": now}
    if outcome.status == "temporary" and attempts < MAX_ATTEMPTS:
        return values | {"next_attempt_at": now + backoff(attempts)}
    return values | {"status": "failed"}


def _count(
    row: OutboxMessage, outcome: SendResult, values: Mapping[str, Any], result: Delivery
) -> None:
    status = values.get("status")
    if status == "sent":
        result.sent += 1
    elif status is None:
        result.retried += 1
    else:
        result.held += status == "held"
        result.failed += status == "failed"
        result.replies.append(f"{row.email}: {outcome.reply}")


# ---------------------------------------------------------------- status and retry


def status_counts(session: Session, municipality: str | None = None) -> dict[str, int]:
    counts = {"pending": 0, "sent": 0, "failed": 0, "held": 0, "digest": 0}
    counts.update(stored.status_counts(session, municipality))
    return counts


def paused_servers(session: Session) -> list[MailServer]:
    """The SMTP servers the deliveries have stopped trying (their circuit breaker is open)."""
    return [server for server in stored.server_states(session) if server.paused_at is not None]


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
