"""A partial index on the due timers that are not reminders.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

On PostgreSQL a tick claims due reminders without the audit chain's lock, but only those older
than every other due timer (``engine/ticker.py: Ticker._claim_reminders``). Finding that other
timer read every pending due timer through ``ix_timers_due`` for each batch (about 10 ms per
batch at 20,000 due reminders); this index holds only the pending timers that are not
reminders, so the answer is its first entry.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = "status = 'pending' AND kind <> 'reminder'"


def upgrade() -> None:
    op.create_index(
        "ix_timers_due_other",
        "timers",
        ["fire_at", "id"],
        postgresql_where=sa.text(WHERE),
        sqlite_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_timers_due_other", table_name="timers")
