"""The initial schema, and the triggers that keep ``audit_events`` append-only.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Written by hand from ``store/models.py`` (constraint names follow ``models.NAMING``);
``tests/test_migrations.py`` checks that the two agree. Times are ``TIMESTAMP WITH TIME ZONE``
(``UtcDateTime`` in the models stores UTC).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""The chain's sequence number: 64-bit on PostgreSQL, the rowid alias on SQLite."""

APPEND_ONLY = "audit_events is append-only"

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events
    BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"""
    for verb in ("UPDATE", "DELETE")
]

POSTGRESQL_TRIGGERS = [
    # ERRCODE restrict_violation (23001) is an integrity error, as RAISE(ABORT) is on SQLite.
    f"""CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION USING
            MESSAGE = '{APPEND_ONLY}: ' || TG_OP || ' refused',
            ERRCODE = 'restrict_violation';
    END;
    $$""",
    """CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
    """CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()""",
]


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    _municipalities()
    _cycles()
    _tasks()
    _timers()
    _decisions()
    _documents()
    _audit()
    _refused_acts()
    _outbox()
    _append_only_triggers()


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update_delete ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    for table in (
        "outbox",
        "refused_acts",
        "audit_payloads",
        "audit_events",
        "documents",
        "decisions",
        "timers",
        "task_assignees",
        "tasks",
        "cycles",
        "municipalities",
    ):
        op.drop_table(table)


def _municipalities() -> None:
    op.create_table(
        "municipalities",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("loaded_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_municipalities"),
    )


def _cycles() -> None:
    op.create_table(
        "cycles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(200), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("process", sa.String(64), nullable=False),
        sa.Column("process_version", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("group_key", sa.String(64), nullable=False),
        sa.Column("opened_at", _time(), nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("step_entered_at", _time(), nullable=False),
        sa.Column("closed_at", _time(), nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cycles"),
        sa.ForeignKeyConstraint(["parent_id"], ["cycles.id"], name="fk_cycles_parent_id_cycles"),
        sa.UniqueConstraint(
            "municipality", "process", "period", "subject", name="uq_cycles_occurrence"
        ),
    )
    op.create_index("ix_cycles_open", "cycles", ["municipality", "status", "process"])


def _tasks() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("due_at", _time(), nullable=True),
        sa.Column("done_at", _time(), nullable=True),
        sa.Column("done_by", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name="fk_tasks_cycle_id_cycles"),
    )
    op.create_index("ix_tasks_cycle_id", "tasks", ["cycle_id"])
    op.create_index("ix_tasks_status_due", "tasks", ["status", "due_at"])
    op.create_table(
        "task_assignees",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("task_id", "person", name="pk_task_assignees"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_task_assignees_task_id_tasks"),
    )
    op.create_index("ix_task_assignees_person", "task_assignees", ["person"])


def _timers() -> None:
    op.create_table(
        "timers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("fire_at", _time(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("fired_at", _time(), nullable=True),
        sa.Column("fired_by", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_timers"),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name="fk_timers_cycle_id_cycles"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_timers_task_id_tasks"),
        sa.UniqueConstraint("key", name="uq_timers_key"),
    )
    op.create_index("ix_timers_cycle_id", "timers", ["cycle_id"])
    op.create_index("ix_timers_task_id", "timers", ["task_id"])
    op.create_index("ix_timers_due", "timers", ["status", "fire_at"])


def _decisions() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("case_cycle_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=False),
        sa.Column("routed_to", sa.String(8), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("agenda_date", sa.Date(), nullable=True),
        sa.Column("proposed_by", sa.String(64), nullable=False),
        sa.Column("proposed_at", _time(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("body", sa.String(8), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("paragraph", sa.String(32), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(64), nullable=True),
        sa.Column("recorded_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name="fk_decisions_cycle_id_cycles"),
        sa.ForeignKeyConstraint(
            ["case_cycle_id"], ["cycles.id"], name="fk_decisions_case_cycle_id_cycles"
        ),
    )
    op.create_index("ix_decisions_municipality", "decisions", ["municipality"])


def _documents() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("attached_by", sa.String(64), nullable=False),
        sa.Column("attached_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name="fk_documents_cycle_id_cycles"),
    )
    op.create_index("ix_documents_cycle_id", "documents", ["cycle_id"])


def _audit() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", SEQ, autoincrement=False, nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("payload_digest", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_events"),
        sa.UniqueConstraint("hash", name="uq_audit_events_hash"),
    )
    op.create_index("ix_audit_events_municipality", "audit_events", ["municipality"])
    op.create_index("ix_audit_events_actor", "audit_events", ["actor"])
    op.create_index("ix_audit_events_cycle_id", "audit_events", ["cycle_id"])
    op.create_table(
        "audit_payloads",
        sa.Column("seq", SEQ, autoincrement=False, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("purged_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_payloads"),
        sa.ForeignKeyConstraint(
            ["seq"], ["audit_events.seq"], name="fk_audit_payloads_seq_audit_events"
        ),
    )


def _refused_acts() -> None:
    op.create_table(
        "refused_acts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_refused_acts"),
    )


def _outbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _time(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("sent_at", _time(), nullable=True),
        sa.Column("last_reply", sa.Text(), nullable=True),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("message_id", name="uq_outbox_message_id"),
    )
    op.create_index("ix_outbox_cycle_id", "outbox", ["cycle_id"])
    op.create_index("ix_outbox_pending", "outbox", ["status", "next_attempt_at"])


def _append_only_triggers() -> None:
    """Refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) of audit events in the database."""
    dialect = op.get_context().dialect.name
    triggers = {"postgresql": POSTGRESQL_TRIGGERS, "sqlite": SQLITE_TRIGGERS}
    if dialect not in triggers:
        raise NotImplementedError(f"tsk-workflow runs on SQLite and PostgreSQL, not {dialect}")
    for statement in triggers[dialect]:
        op.execute(statement)
