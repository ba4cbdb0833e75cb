"""The database schema, as SQLAlchemy 2.0 typed models.

Times are stored in UTC (timezone-aware on PostgreSQL, naive-UTC on SQLite, normalised by
``UtcDateTime``). Every table is created and upgraded by the Alembic migrations in
``store/migrations``; ``tests/test_migrations.py`` checks that the two agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware one")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Installation(Base):
    """Settings of the database itself, fixed when it is made (``tsk init``): ``virtual_time``
    ("true" for a demo or test database, which accepts a clock other than the server's)."""

    __tablename__ = "installation"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class Municipality(Base):
    """An organisation loaded into the database; rows of every other table carry its key.

    ``digest`` is the SHA-256 of the version in force (the newest ``OrganisationVersion``);
    ``source`` is only the name of the file it was loaded from, never read again.
    """

    __tablename__ = "municipalities"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(500))
    digest: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[dt.datetime]


class OrganisationVersion(Base):
    """Each version of an organisation file loaded into the database, as it was loaded: the
    acts, ``tick`` and ``run`` use the newest one, never a file named in the database."""

    __tablename__ = "organisation_versions"
    __table_args__ = (
        UniqueConstraint("municipality", "version", name="uq_organisation_versions_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(255))
    loaded_by: Mapped[str] = mapped_column(String(64))
    os_user: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[dt.datetime]
    audit_seq: Mapped[int | None] = mapped_column(Integer)


class StoredDefinition(Base):
    """Each version of a process definition that cycles of this database were opened with (and
    those ``tsk init`` found): its text, kept whole, known by its SHA-256. A cycle follows the
    version it was opened with (``Cycle.process_digest``) until it is moved on
    (``tsk process upgrade-cycles``). One text per process and version: a changed definition
    needs a new ``version``."""

    __tablename__ = "process_definitions"
    __table_args__ = (
        UniqueConstraint("process", "version", name="uq_process_definitions_version"),
    )

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    process: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(255))
    stored_at: Mapped[dt.datetime]


class Cycle(Base):
    """One run of a process for a period and subject (``est-2027-03``).

    ``process_version`` and ``process_digest`` name the version of the definition the cycle
    follows; the digest is None for a cycle whose text is not known (opened before versions
    were kept, on a version no longer shipped), which follows the current definition."""

    __tablename__ = "cycles"
    __table_args__ = (
        UniqueConstraint(
            "municipality", "process", "period", "subject", name="uq_cycles_occurrence"
        ),
        Index("ix_cycles_open", "municipality", "status", "process"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(200))
    municipality: Mapped[str] = mapped_column(String(64))
    process: Mapped[str] = mapped_column(String(64))
    process_version: Mapped[int]
    process_digest: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("process_definitions.digest")
    )
    period: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64), default="")
    title: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")
    group_key: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[dt.datetime]
    opened_by: Mapped[str] = mapped_column(String(64))
    step_entered_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))
    close_note: Mapped[str | None] = mapped_column(Text)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    tasks: Mapped[list[Task]] = relationship(
        back_populates="cycle", order_by="Task.id", cascade="all, delete-orphan"
    )


class Task(Base):
    """Work for a role inside a step; done by one of its assignees (or the chair)."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    municipality: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime | None]
    done_at: Mapped[dt.datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    answers: Mapped[dict[str, Any] | None]

    cycle: Mapped[Cycle] = relationship(back_populates="tasks")
    assignees: Mapped[list[TaskAssignee]] = relationship(
        back_populates="task", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def assignee_ids(self) -> list[str]:
        return [a.person for a in self.assignees]


class TaskAssignee(Base):
    __tablename__ = "task_assignees"

    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    person: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)

    task: Mapped[Task] = relationship(back_populates="assignees")


TIMERS_DUE_OTHER = "status = 'pending' AND kind <> 'reminder'"


class Timer(Base):
    """A durable timer: what fires, when, for which cycle or task. Claimed and fired once."""

    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timers_due", "status", "fire_at"),
        # The first due timer that is not a reminder, at once (``Ticker._claim_reminders``).
        Index(
            "ix_timers_due_other",
            "fire_at",
            "id",
            postgresql_where=text(TIMERS_DUE_OTHER),
            sqlite_where=text(TIMERS_DUE_OTHER),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    municipality: Mapped[str] = mapped_column(String(64))
    fire_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime]
    fired_at: Mapped[dt.datetime | None]
    fired_by: Mapped[str | None] = mapped_column(String(100))


class Decision(Base):
    """A proposal routed to KLG or KS, then recorded with body, date, paragraph and outcome,
    and the decision's wording as the minutes have it (``decision_text``, optional)."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality: Mapped[str] = mapped_column(String(64), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"))
    case_cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"))
    title: Mapped[str] = mapped_column(String(300))
    cost: Mapped[float | None] = mapped_column(Float)
    attrs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    routed_to: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    agenda_date: Mapped[dt.date | None] = mapped_column(Date)
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    body: Mapped[str | None] = mapped_column(String(16))
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    paragraph: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(16))
    override_reason: Mapped[str | None] = mapped_column(Text)
    decision_text: Mapped[str | None] = mapped_column(Text)
    extra_meeting: Mapped[bool] = mapped_column(Boolean, default=False)
    """Decided at a meeting the body's meeting calendar does not list (an extra meeting)."""
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime | None]


class Action(Base):
    """An action (åtgärd) of the register, in Brå's columns: cause (orsak), the action,
    operative goal, when (``start``, ``due``), who (``owner`` and ``owner_organisation``),
    follow-up plan, and status (``green``, ``yellow``, ``red``); with its cost, where it came
    from (``cycle_id``), where it acts (``town``, ``place``, a point), the lägesbild category
    its effect is measured on, the decision that took it (``decision_id``) and the
    medborgarlöfte it serves (``promise_cycle_id``). ``state``: ``active``, ``done`` or
    ``cancelled``. ``reminded_for`` and ``overdue_noticed_for`` hold the due date whose
    reminder and overdue notice were queued (each once per due date)."""

    __tablename__ = "actions"
    __table_args__ = (Index("ix_actions_due", "municipality", "state", "due"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    cause: Mapped[str] = mapped_column(Text)
    goal: Mapped[str | None] = mapped_column(Text)
    followup_plan: Mapped[str | None] = mapped_column(Text)
    start: Mapped[dt.date] = mapped_column(Date)
    due: Mapped[dt.date] = mapped_column(Date)
    owner: Mapped[str] = mapped_column(String(64))
    owner_organisation: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(8), default="green")
    state: Mapped[str] = mapped_column(String(16), default="active")
    cost: Mapped[float | None] = mapped_column(Float)
    category: Mapped[str | None] = mapped_column(String(64))
    town: Mapped[str | None] = mapped_column(String(64))
    place: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    window_days: Mapped[int] = mapped_column(Integer, default=90)
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"), index=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    promise_cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    done_on: Mapped[dt.date | None] = mapped_column(Date)
    reminded_for: Mapped[dt.date | None] = mapped_column(Date)
    overdue_noticed_for: Mapped[dt.date | None] = mapped_column(Date)

    followups: Mapped[list[ActionFollowUp]] = relationship(
        back_populates="action",
        order_by="ActionFollowUp.id",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class ActionFollowUp(Base):
    """A follow-up of an action: when, by whom, the status (and state) it left the action in,
    and the note that says why (free text, blanked by a purge: ``purged_at``)."""

    __tablename__ = "action_followups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"), index=True)
    municipality: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime]
    by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    purged_at: Mapped[dt.datetime | None]

    action: Mapped[Action] = relationship(back_populates="followups")


class ActionPlan(Base):
    """A version of the åtgärdsplan: the actions it holds (``action_ids``, with the SHA-256 of
    what they said when it was proposed) and the decision that adopts it. The plan in force is
    the last one whose decision was approved."""

    __tablename__ = "action_plans"
    __table_args__ = (UniqueConstraint("municipality", "version", name="uq_action_plans_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    action_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    digest: Mapped[str] = mapped_column(String(64))
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), unique=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]


class EventReport(Base):
    """A report of events made at any time (``tsk event report``, the page ``/report``): who
    reported, when, and the form it came from (``form_id``: a second submit of the same form
    finds this report instead of making another)."""

    __tablename__ = "event_reports"
    __table_args__ = (
        UniqueConstraint("municipality", "form_id", name="uq_event_reports_form"),
        Index("ix_event_reports_reporter", "municipality", "reporter"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality: Mapped[str] = mapped_column(String(64))
    reporter: Mapped[str] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(200))
    partner: Mapped[str | None] = mapped_column(String(200))
    form_id: Mapped[str | None] = mapped_column(String(64))
    reported_at: Mapped[dt.datetime]

    events: Mapped[list[ReportedEvent]] = relationship(
        back_populates="report",
        order_by="ReportedEvent.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class ReportedEvent(Base):
    """One event of a report: its category (a choice of the lägesbild's category question),
    the day and, if known, the local time (``HH:MM``), the town or area (its key), a place in
    it and a point (WGS 84), and what happened. ``place`` and ``description`` are free text,
    blanked by a purge of personal data (``purged_at``)."""

    __tablename__ = "reported_events"
    __table_args__ = (Index("ix_reported_events_day", "municipality", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("event_reports.id"), index=True)
    municipality: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(64))
    day: Mapped[dt.date] = mapped_column(Date)
    time: Mapped[str | None] = mapped_column(String(5))
    town: Mapped[str] = mapped_column(String(64))
    place: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str | None] = mapped_column(Text)
    purged_at: Mapped[dt.datetime | None]

    report: Mapped[EventReport] = relationship(back_populates="events")


class Document(Base):
    """A document attached to a cycle, kept with its SHA-256."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    step: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    attached_by: Mapped[str] = mapped_column(String(64))
    attached_at: Mapped[dt.datetime]


class AuditEvent(Base):
    """One link of the append-only hash chain. Database triggers refuse UPDATE and DELETE.

    The payload itself lives in ``audit_payloads`` so that personal data can be purged without
    breaking the chain, which is built over ``payload_digest``.
    """

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[dt.datetime]
    municipality: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(100))
    cycle_id: Mapped[int | None] = mapped_column(Integer, index=True)
    payload_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditPayload(Base):
    """The readable payload of an audit event (may be purged of personal data)."""

    __tablename__ = "audit_payloads"

    seq: Mapped[int] = mapped_column(ForeignKey("audit_events.seq"), primary_key=True)
    payload: Mapped[dict[str, Any]]
    purged_at: Mapped[dt.datetime | None]


class RefusedAct(Base):
    """An act refused for lack of permission: kept, but outside the hash chain."""

    __tablename__ = "refused_acts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime]
    municipality: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)


class OutboxMessage(Base):
    """A mail to send: written in the same transaction as the act that causes it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    municipality: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(2))
    template: Mapped[str] = mapped_column(String(64))
    context: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    last_reply: Mapped[str | None] = mapped_column(Text)
    cycle_id: Mapped[int | None] = mapped_column(Integer, index=True)
    task_id: Mapped[int | None] = mapped_column(Integer)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    """The delivery that holds the row while its lease runs (its fencing token); None when no
    delivery holds it. A delivery writes what became of a row only while it still holds it."""


class MailServer(Base):
    """An SMTP server's answering, as the deliveries saw it: how many messages in a row got no
    answer (a refused or dropped connection, a time-out), and since when the deliveries have
    stopped trying it (its circuit breaker is open). ``server`` is ``host:port``."""

    __tablename__ = "mail_servers"

    server: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    paused_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime]


class ApiToken(Base):
    """A personal API token of the service (``tsk login``): kept only as the SHA-256 of the
    token, for one person of one municipality, until it expires or is revoked. The times are
    the wall clock's (a credential expires in real time, whatever clock the database runs on)."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_person", "municipality", "person"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    municipality: Mapped[str] = mapped_column(String(64))
    person: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]


class IcsToken(Base):
    """A person's private address for subscribing to their year plan (``/ics/{token}.ics``):
    kept only as the SHA-256 of the token, for one person of one municipality, until revoked
    (making a new address revokes the old one). The times are the wall clock's."""

    __tablename__ = "ics_tokens"
    __table_args__ = (Index("ix_ics_tokens_person", "municipality", "person"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    municipality: Mapped[str] = mapped_column(String(64))
    person: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
