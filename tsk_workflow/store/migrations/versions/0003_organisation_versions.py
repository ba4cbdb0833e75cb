"""The organisation in force, stored by version; the database's own settings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

``organisation_versions`` keeps every version of an organisation file loaded into the database
(its text and SHA-256, who loaded it, when), so that acts and the scheduler use what was loaded,
never a file a path in the database points at. ``installation`` holds settings fixed when the
database is made: ``virtual_time`` for a demo or test database.

A database made before this revision has only a path in ``municipalities.source``; its
organisation is stored again (as version 1) by the next ``tsk --org FILE init`` with the file
whose digest the database holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "installation",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_installation"),
    )
    op.create_table(
        "organisation_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("loaded_by", sa.String(64), nullable=False),
        sa.Column("os_user", sa.String(64), nullable=False),
        sa.Column("loaded_at", _time(), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_organisation_versions"),
        sa.UniqueConstraint(
            "municipality", "version", name="uq_organisation_versions_version"
        ),
    )


def downgrade() -> None:
    op.drop_table("organisation_versions")
    op.drop_table("installation")
