"""Process definitions stored by version; each cycle names the version it follows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10

``process_definitions`` keeps the text of every version of a process definition that cycles were
opened with (its SHA-256 as the key, one text per process and version), and
``cycles.process_digest`` names the one each cycle follows (``engine/versions.py``).

Existing cycles: those whose ``process_version`` is the version of the definition in the
process folder now (``TSK_PROCESSES_DIR``, else the shipped one) get that definition stored and
named. Others (a version no longer shipped, whose text is not known) keep a null digest and
follow the current definition, as every cycle did before; ``tsk process upgrade-cycles`` moves
them on.

Offline mode (``--sql``, PostgreSQL: SQLite's batch mode needs the live database) prints the
schema change only: a definition's text as a literal would not survive it (offline mode doubles
each ``%``). Cycles migrated so keep a null digest, as above.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_cycles_process_digest_process_definitions"


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "process_definitions",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("process", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("stored_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_process_definitions"),
        sa.UniqueConstraint("process", "version", name="uq_process_definitions_version"),
    )
    with op.batch_alter_table("cycles") as batch:
        batch.add_column(sa.Column("process_digest", sa.String(64), nullable=True))
        batch.create_foreign_key(FK, "process_definitions", ["process_digest"], ["digest"])
    if op.get_context().as_sql:
        return
    for key, version, digest, text, source in _current_definitions():
        _name_for_cycles(key, version, digest, text, source)


def _current_definitions() -> Iterator[tuple[str, int, str, str, str]]:
    """Each readable definition in the process folder: key, version, SHA-256 of its text (as
    ``catalog.text_digest``), text and file name."""
    from ruamel.yaml import YAML

    from tsk_workflow.resources import processes_dir

    yaml = YAML(typ="safe", pure=True)
    folder = processes_dir()
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        try:
            text = path.read_bytes().decode("utf-8-sig")
            data: Any = yaml.load(text)
        except Exception:  # noqa: BLE001 - an unreadable file names no cycle's version
            continue
        if not isinstance(data, dict):
            continue
        key, version = data.get("key"), data.get("version")
        if isinstance(key, str) and isinstance(version, int) and not isinstance(version, bool):
            digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
            yield key, version, digest, text, path.name[:255]


def _name_for_cycles(key: str, version: int, digest: str, text: str, source: str) -> None:
    """Store the definition if a cycle is on its version, and name it for those cycles."""
    definitions = sa.table(
        "process_definitions",
        sa.column("digest", sa.String),
        sa.column("process", sa.String),
        sa.column("version", sa.Integer),
        sa.column("content", sa.Text),
        sa.column("source", sa.String),
        sa.column("stored_at", _time()),
    )
    cycles = sa.table(
        "cycles",
        sa.column("process", sa.String),
        sa.column("process_version", sa.Integer),
        sa.column("process_digest", sa.String),
    )
    on_version = (cycles.c.process == key) & (cycles.c.process_version == version)
    row = sa.select(
        sa.literal(digest, sa.String),
        sa.literal(key, sa.String),
        sa.literal(version, sa.Integer),
        sa.literal(text, sa.Text),
        sa.literal(source, sa.String),
        sa.func.current_timestamp(),
    ).where(sa.exists().where(on_version))
    names = ["digest", "process", "version", "content", "source", "stored_at"]
    op.execute(definitions.insert().from_select(names, row))
    op.execute(
        cycles.update()
        .where(on_version & cycles.c.process_digest.is_(None))
        .values(process_digest=digest)
    )


def downgrade() -> None:
    with op.batch_alter_table("cycles") as batch:
        batch.drop_constraint(FK, type_="foreignkey")
        batch.drop_column("process_digest")
    op.drop_table("process_definitions")
