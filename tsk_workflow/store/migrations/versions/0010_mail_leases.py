"""Mail under a slow server: the delivery holding each outbox row, and each SMTP server's state;
a decision taken at an extra meeting.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

``outbox.claim_token`` names the delivery that holds a row while its lease runs (a fencing
token): a delivery whose lease another took over writes nothing to the row. ``mail_servers``
keeps, per SMTP server (``host:port``), how many messages in a row got no answer and since when
the deliveries have stopped trying it (``tsk mail status`` shows it). ``decisions.extra_meeting``
says a decision was taken at a meeting its body's meeting calendar does not list.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("outbox", sa.Column("claim_token", sa.String(32), nullable=True))
    op.create_table(
        "mail_servers",
        sa.Column("server", sa.String(300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("paused_at", _time(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("server", name="pk_mail_servers"),
    )
    op.add_column(
        "decisions",
        sa.Column("extra_meeting", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("extra_meeting")
    op.drop_table("mail_servers")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claim_token")
