"""The action register, its follow-ups and the decided åtgärdsplan; bodies beyond KLG and KS.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

``actions`` keeps each action (åtgärd) in Brå's columns with its links (the cycle it came from,
the decision that took it, the medborgarlöfte it serves), ``action_followups`` each follow-up
(status, state and note), ``action_plans`` each version of the åtgärdsplan with the decision
that adopts it. ``decisions.routed_to`` and ``decisions.body`` widen to 16 characters: a
decision may go to the styrgrupp, the department concerned (``forvaltning``) or a delegate.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.alter_column("routed_to", type_=sa.String(16), existing_type=sa.String(8))
        batch.alter_column("body", type_=sa.String(16), existing_type=sa.String(8))
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("goal", sa.Text(), nullable=True),
        sa.Column("followup_plan", sa.Text(), nullable=True),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("owner_organisation", sa.String(200), nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("town", sa.String(64), nullable=True),
        sa.Column("place", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("promise_cycle_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("reminded_for", sa.Date(), nullable=True),
        sa.Column("overdue_noticed_for", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name="fk_actions_cycle_id_cycles"),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name="fk_actions_decision_id_decisions"
        ),
        sa.ForeignKeyConstraint(
            ["promise_cycle_id"], ["cycles.id"], name="fk_actions_promise_cycle_id_cycles"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_actions"),
    )
    op.create_index("ix_actions_due", "actions", ["municipality", "state", "due"])
    op.create_index("ix_actions_cycle_id", "actions", ["cycle_id"])
    op.create_table(
        "action_followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("purged_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"], ["actions.id"], name="fk_action_followups_action_id_actions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_action_followups"),
    )
    op.create_index("ix_action_followups_action_id", "action_followups", ["action_id"])
    op.create_table(
        "action_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("action_ids", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name="fk_action_plans_decision_id_decisions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_action_plans"),
        sa.UniqueConstraint("decision_id", name="uq_action_plans_decision_id"),
        sa.UniqueConstraint("municipality", "version", name="uq_action_plans_version"),
    )


def downgrade() -> None:
    op.drop_table("action_plans")
    op.drop_index("ix_action_followups_action_id", table_name="action_followups")
    op.drop_table("action_followups")
    op.drop_index("ix_actions_cycle_id", table_name="actions")
    op.drop_index("ix_actions_due", table_name="actions")
    op.drop_table("actions")
    with op.batch_alter_table("decisions") as batch:
        batch.alter_column("body", type_=sa.String(8), existing_type=sa.String(16))
        batch.alter_column("routed_to", type_=sa.String(8), existing_type=sa.String(16))
