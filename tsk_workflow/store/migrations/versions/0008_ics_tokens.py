"""Private ICS subscription addresses of the year plan; a decision's wording.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

``ics_tokens`` keeps each person's address for subscribing to their year plan in a calendar
(``/ics/{token}.ics``): only the SHA-256 of the token (the address is the person's), whose it
is, when it was made and when it was revoked. ``decisions.decision_text`` keeps the wording of
a decision as the minutes have it, when the secretary records it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ics_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("revoked_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ics_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_ics_tokens_token_hash"),
    )
    op.create_index("ix_ics_tokens_person", "ics_tokens", ["municipality", "person"])
    op.add_column("decisions", sa.Column("decision_text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("decision_text")
    op.drop_index("ix_ics_tokens_person", table_name="ics_tokens")
    op.drop_table("ics_tokens")
