"""Personal API tokens of the service (``tsk login``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

``api_tokens`` keeps each token the service has issued to a person signed in with the device
authorization grant: only the SHA-256 of the token (the token itself is the person's), whose it
is, when it was made, when it expires and when it was revoked or last used, and a label (the
host name the command line sent).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("expires_at", _time(), nullable=False),
        sa.Column("revoked_at", _time(), nullable=True),
        sa.Column("last_used_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_person", "api_tokens", ["municipality", "person"])


def downgrade() -> None:
    op.drop_index("ix_api_tokens_person", table_name="api_tokens")
    op.drop_table("api_tokens")
