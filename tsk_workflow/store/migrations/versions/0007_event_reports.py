"""Events reported at any time (``tsk event report``, the page ``/report``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

``event_reports`` keeps who reported and when, with the form it came from (``form_id``, unique
per municipality: a second submit of one form makes no second report); ``reported_events``
keeps each event of a report: category, day and local time, town or area, place, point (WGS 84)
and description (the free text a purge of personal data blanks, ``purged_at``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "event_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("reporter", sa.String(64), nullable=False),
        sa.Column("department", sa.String(200), nullable=True),
        sa.Column("partner", sa.String(200), nullable=True),
        sa.Column("form_id", sa.String(64), nullable=True),
        sa.Column("reported_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_reports"),
        sa.UniqueConstraint("municipality", "form_id", name="uq_event_reports_form"),
    )
    op.create_index("ix_event_reports_reporter", "event_reports", ["municipality", "reporter"])
    op.create_table(
        "reported_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("time", sa.String(5), nullable=True),
        sa.Column("town", sa.String(64), nullable=False),
        sa.Column("place", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("purged_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["event_reports.id"],
            name="fk_reported_events_report_id_event_reports",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reported_events"),
    )
    op.create_index("ix_reported_events_day", "reported_events", ["municipality", "day"])
    op.create_index("ix_reported_events_report_id", "reported_events", ["report_id"])


def downgrade() -> None:
    op.drop_index("ix_reported_events_report_id", table_name="reported_events")
    op.drop_index("ix_reported_events_day", table_name="reported_events")
    op.drop_table("reported_events")
    op.drop_index("ix_event_reports_reporter", table_name="event_reports")
    op.drop_table("event_reports")
