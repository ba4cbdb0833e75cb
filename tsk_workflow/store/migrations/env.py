"""Alembic environment of tsk-workflow, run by ``tsk_workflow.store.migrate``.

The caller passes its open connection (inside its transaction) in
``config.attributes["connection"]``; the migrations then run on it and commit or roll back with
the caller. Without one, ``sqlalchemy.url`` (or ``TSK_DATABASE_URL``) names the database; offline
mode (``--sql``) prints the SQL instead of running it.

On SQLite every operation is rendered in batch mode (copy the table, then move it), because SQLite
can only add and rename columns in place.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from tsk_workflow.store.database import database_url, make_engine
from tsk_workflow.store.models import Base, UtcDateTime

TARGET = Base.metadata


def _url() -> str:
    return database_url(context.config.get_main_option("sqlalchemy.url"))


def render_item(kind: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes plain SQLAlchemy types, so migrations never import the models."""
    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_offline() -> None:
    """Print the SQL of the migrations for the configured URL instead of running it."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=TARGET,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    """Run the migrations on ``connection``; SQLite DDL is transactional here, so say so."""
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=TARGET,
        render_as_batch=sqlite,
        transactional_ddl=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        run_on(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as own:
            run_on(own)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
