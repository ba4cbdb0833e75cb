"""Creating and upgrading the database with the Alembic migrations shipped in the package.

No ``alembic.ini`` is involved: the configuration is built here and points at
``store/migrations`` next to this file, so an installed wheel migrates as a checkout does. The
whole upgrade runs in one transaction on the store's own engine (SQLite and PostgreSQL both have
transactional DDL), so a failed upgrade leaves the database as it was.

On PostgreSQL a transaction-level advisory lock makes concurrent upgrades (two ``tsk init`` at
once) run one after the other. On SQLite the store's ``BEGIN IMMEDIATE`` does the same, and
foreign keys are switched off for the upgrade (batch mode copies and drops tables) and checked
before the commit, as SQLite's documentation for schema changes prescribes.

On PostgreSQL migrations run as the owner role, the one that owns (or will own) the tables: an
application role (``store/roles.py``) is refused with one line before anything is done, and so
is any role that may not create tables in the schema. ``upgrade(store, app_role=ROLE)`` grants
that role what the service needs, in the same transaction.
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
from tsk_workflow.i18n import N_, _
from tsk_workflow.store.database import Store

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 7_356_002
"""The PostgreSQL advisory lock key that serialises upgrades."""
INSUFFICIENT_PRIVILEGE = "42501"


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
        raise TskError(_("no migrations found in {folder}").format(folder=MIGRATIONS))
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


def upgrade(store: Store, revision: str = "head", app_role: str | None = None) -> None:
    """Create or upgrade the database to ``revision``; all of it commits or none of it does.

    With ``app_role`` (PostgreSQL only) also grant that role what the service needs
    (``roles.grant``), in the same transaction.
    """
    from tsk_workflow.store import roles

    if app_role is not None:
        roles.require_postgresql(store)
    try:
        with _migration_connection(store) as connection:
            command.upgrade(config(connection), revision)
            if app_role is not None:
                roles.grant(connection, app_role)
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
        raise TskError(_("cannot downgrade the database: {error}").format(error=exc)) from None
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
                    _require_owner(connection)
                yield connection


OWNER_ONLY = N_("tsk init runs the migrations as the owner role of the database")
"""How a refusal to migrate as another role begins (see docs/administrator.md)."""


def _require_owner(connection: Connection) -> None:
    """Refuse, before anything is done, a role that does not own the tables (is not a member of
    their owner, as a superuser is of every role), or that may not create them in a new one."""
    row = connection.execute(
        text(
            "SELECT current_user, pg_get_userbyid(c.relowner),"
            " pg_has_role(current_user, c.relowner, 'MEMBER')"
            " FROM pg_class c WHERE c.oid = to_regclass('alembic_version')"
        )
    ).first()
    if row is not None:
        user, owner, member = row
        if not member:
            raise TskError(
                _(
                    "tsk init runs the migrations as the owner role of the database ({owner}),"
                    " not as {user}: connect as {owner}"
                ).format(owner=owner, user=user)
            )
        return
    user, schema, creates = connection.execute(
        text(
            "SELECT current_user, current_schema(),"
            " coalesce(has_schema_privilege(current_schema(), 'CREATE'), false)"
        )
    ).one()
    if schema is None:
        raise TskError(_("cannot migrate the database: no schema on the search_path to create in"))
    if not creates:
        raise TskError(
            _(
                "tsk init runs the migrations as the owner role of the database: {user} may not"
                " create tables in schema {schema}"
            ).format(user=user, schema=schema)
        )


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
        raise TskError(
            _("the upgrade would break foreign keys in {tables}; nothing done").format(
                tables=", ".join(tables)
            )
        )


def _unknown_revision(store: Store, exc: CommandError) -> TskError:
    try:
        current = current_revision(store)
    except TskError:
        current = None
    if current is not None and not _known(current):
        return TskError(
            _(
                "the database is at revision {revision}, which this version of tsk does not know;"
                " it was probably upgraded by a newer version"
            ).format(revision=current)
        )
    return TskError(_("cannot upgrade the database: {error}").format(error=exc))


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(config()).get_revision(revision) is not None
    except CommandError:
        return False


def _database_error(exc: SQLAlchemyError) -> TskError:
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    if getattr(orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
        return TskError(f"{_(OWNER_ONLY)}: {first}")
    return TskError(_("cannot migrate the database: {error}").format(error=first))
