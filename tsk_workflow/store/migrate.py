"""Creating and upgrading the database with the Alembic migrations shipped in the package.

No ``alembic.ini`` is involved: the configuration is built here and points at
``store/migrations`` next to this file, so an installed wheel migrates as a checkout does. The
whole upgrade runs in one transaction on the store's own engine (SQLite and PostgreSQL both have
transactional DDL), so a failed upgrade leaves the database as it was.

On PostgreSQL a transaction-level advisory lock makes concurrent upgrades (two ``tsk init`` at
once) run one after the other. On SQLite the store's ``BEGIN IMMEDIATE`` does the same, and
foreign keys are switched off for the upgrade (batch mode copies and drops tables) and checked
before the commit, as SQLite's documentation for schema changes prescribes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from tsk_workflow.errors import TskError
from tsk_workflow.store.database import Store

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 7_356_002
"""The PostgreSQL advisory lock key that serialises upgrades."""


def config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the shipped migrations, optionally bound to ``connection``."""
    cfg = Config()
    # Config values go through ConfigParser interpolation: a '%' in the path must be doubled.
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision the shipped migrations know."""
    head = ScriptDirectory.from_config(config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise TskError(f"no migrations found in {MIGRATIONS}")
    return head


def current_revision(store: Store) -> str | None:
    """The revision the database is at, or None if it has never been migrated."""
    try:
        with store.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise _database_error(exc) from None


def is_up_to_date(store: Store) -> bool:
    return current_revision(store) == head_revision()


def upgrade(store: Store, revision: str = "head") -> None:
    """Create or upgrade the database to ``revision``; all of it commits or none of it does."""
    try:
        with _migration_connection(store) as connection:
            command.upgrade(config(connection), revision)
    except CommandError as exc:
        raise _unknown_revision(store, exc) from None
    except SQLAlchemyError as exc:
        raise _database_error(exc) from None


def downgrade(store: Store, revision: str) -> None:
    """Undo migrations down to ``revision`` (``"base"``: an empty database). For development."""
    try:
        with _migration_connection(store) as connection:
            command.downgrade(config(connection), revision)
    except CommandError as exc:
        raise TskError(f"cannot downgrade the database: {exc}") from None
    except SQLAlchemyError as exc:
        raise _database_error(exc) from None


def make_revision(store: Store, message: str, rev_id: str) -> None:
    """Write ``versions/<rev_id>_<message>.py``: what the models have that ``store`` lacks.

    For developers: migrate ``store`` to head first, then read and correct the file by hand
    (autogenerate misses triggers, renames and data changes).
    """
    with _migration_connection(store) as connection:
        command.revision(config(connection), message=message, autogenerate=True, rev_id=rev_id)


@contextmanager
def _migration_connection(store: Store) -> Iterator[Connection]:
    """A connection inside the one transaction the upgrade runs in."""
    with store.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            with _sqlite_foreign_keys_off(connection), connection.begin():
                yield connection
                _check_foreign_keys(connection)
        else:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    lock = text("SELECT pg_advisory_xact_lock(:key)")
                    connection.execute(lock, {"key": MIGRATION_LOCK})
                yield connection


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Foreign keys off for the upgrade, and on again before the connection goes back to the pool.

    The pragma is a no-op inside a transaction, so it is sent on the DBAPI connection (which
    the store keeps in autocommit) before the transaction begins.
    """
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.cursor().execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        raw.cursor().execute("PRAGMA foreign_keys = ON")


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise TskError(f"the upgrade would break foreign keys in {', '.join(tables)}; nothing done")


def _unknown_revision(store: Store, exc: CommandError) -> TskError:
    try:
        current = current_revision(store)
    except TskError:
        current = None
    if current is not None and not _known(current):
        return TskError(
            f"the database is at revision {current}, which this version of tsk does not know;"
            " it was probably upgraded by a newer version"
        )
    return TskError(f"cannot upgrade the database: {exc}")


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(config()).get_revision(revision) is not None
    except CommandError:
        return False


def _database_error(exc: SQLAlchemyError) -> TskError:
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return TskError(f"cannot migrate the database: {first}")
