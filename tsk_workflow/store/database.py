"""Connecting to the database and running one unit of work per act.

SQLite (a file) is the default; PostgreSQL through psycopg 3 with the same code. On SQLite every
write transaction starts with ``BEGIN IMMEDIATE`` and waits (``busy_timeout``) for another writer
instead of failing at once; on both, a cycle changed by someone else since it was read raises
``Conflict``.

A new SQLite database file is created readable and writable by its OS user only (0600) before
SQLite first opens it (SQLite then gives its ``-wal`` and ``-shm`` files the same mode): a SQLite
database is for one OS user. An existing file keeps its mode.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy import Connection as Connection
from sqlalchemy.exc import (
    DatabaseError,
    DataError,
    IntegrityError,
    ProgrammingError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.exc import OperationalError as OperationalError

from tsk_workflow.errors import Conflict, TskError
from tsk_workflow.i18n import _

if TYPE_CHECKING:
    # The ORM is imported when a session is first made: read-only commands that read with
    # Core (``reading_rows``, ``store/queries.py``) start without it.
    # Outside the store, ``Session`` (what ``Store.transaction`` and ``Store.reading`` give)
    # and ``Connection`` (what ``Store.reading_rows`` gives) are named from here, in
    # annotations only: no module outside ``store/`` imports SQLAlchemy.
    from sqlalchemy.orm import Session as Session
    from sqlalchemy.orm import sessionmaker

# ``OperationalError``: the database failed the statement (a lost connection, a deadlock, a
# lock not had in time), not what it was asked; the scheduler rolls its batch back on it.
StoreError = SQLAlchemyError
"""Any failure of the database that the store does not turn into a ``TskError`` (a write
refused by a read-only transaction, say): for a caller that must go on after one."""

DEFAULT_SQLITE = "tsk.db"
READONLY = "tsk_readonly"
BUSY_TIMEOUT_MS = 30_000


SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg")
"""The URL schemes ``--db`` takes; a path without one is a SQLite file."""


def database_url(value: str | None) -> str:
    """A SQLAlchemy URL from ``--db``: a URL, or a path to a SQLite file (default ``tsk.db``).
    A URL of another kind of database is refused with the kinds there are."""
    value = value or os.environ.get("TSK_DATABASE_URL") or DEFAULT_SQLITE
    if value.startswith(("postgresql://", "postgres://")):
        value = "postgresql+psycopg://" + value.split("://", 1)[1]
    if "://" in value:
        scheme = value.split("://", 1)[0]
        if scheme not in SCHEMES:
            raise TskError(
                _(
                    "tsk does not work with '{scheme}' databases: give a SQLite file (tsk.db,"
                    " sqlite:///PATH) or PostgreSQL (postgresql://USER@HOST/DATABASE)"
                ).format(scheme=scheme)
            )
        _check_url(value)
        return value
    path = Path(value)
    # ``~name`` of no user: a file of that name, as the shell leaves it.
    with suppress(RuntimeError):
        path = path.expanduser()
    return f"sqlite:///{path}"


def _check_url(value: str) -> None:
    """Refuse a URL SQLAlchemy cannot read (``postgresql://[::1/x``, a port of letters) in one
    sentence, before anything is made of it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
        url.port  # noqa: B018 - read: a port that is not a number fails here
    except (ArgumentError, ValueError):
        # Not the URL itself, nor SQLAlchemy's message that quotes it: it may hold a password.
        raise TskError(
            _(
                "the database URL given (--db, TSK_DATABASE_URL) cannot be read: write it as"
                " sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
            )
        ) from None


def shown_url(url: str | URL) -> str:
    """The database as people recognise it: no password, no connection options."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(query={}).render_as_string(hide_password=True)


def reachable_url(url: str | URL) -> str:
    """The URL that reaches the same database, to show in a command people may run again: its
    connection options kept (a schema in ``options``), its password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs = {"json_serializer": json_text, **kwargs}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _sqlite_setup(engine)
    return engine


def json_text(value: Any) -> str:
    """A JSON column's text: orjson (ten times the standard library's speed; outbox contexts
    and payloads are most of what an act or a tick writes), or the standard library for what
    orjson does not take (an integer beyond 64 bits). Reading stays with the standard library,
    which reads such an integer exactly (orjson would make it a float)."""
    import orjson

    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        import json

        return json.dumps(value)


PRIVATE_FILE = 0o600
"""The mode of a new SQLite database file (and so of its -wal and -shm files)."""


def sqlite_file(url: URL | str) -> Path | None:
    """The file a SQLite URL names; None for an in-memory database or a ``file:`` URI, and for
    a URL of another database."""
    if isinstance(url, str):
        from sqlalchemy.engine import make_url

        url = make_url(url)
    if not url.drivername.startswith("sqlite"):
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if url.query.get("uri") or url.query.get("mode") == "memory":
        return None
    return Path(database)


def create_private(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 if nothing is there yet; True when created. Any
    other failure (no such folder, no permission) is left for SQLite to report."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except OSError:
        return False
    return True


def _sqlite_setup(engine: Engine) -> None:
    path = sqlite_file(engine.url)
    if path is not None:

        @event.listens_for(engine, "do_connect")
        def _create_file(*_args: Any) -> None:
            create_private(path)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        # What is deleted or overwritten is zeroed in the file, not only marked free: a purge
        # of personal data (``tsk_workflow.gdpr``) leaves no copy in the database's pages.
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the lock at once (and wait for it) instead of failing on upgrade;
        # readers use a deferred transaction so they never block writers.
        readonly = connection.get_execution_options().get(READONLY, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


class Store:
    """The database of one installation: engine, sessions, and the unit of work."""

    def __init__(self, url: str | None = None, engine: Engine | None = None) -> None:
        self.url = url or database_url(None)
        self.engine = engine or make_engine(self.url)

    @property
    def shown(self) -> str:
        """The database as messages name it (``shown_url``)."""
        return shown_url(self.url)

    @cached_property
    def _sessions(self) -> sessionmaker[Session]:
        from sqlalchemy.orm import sessionmaker

        return sessionmaker(self.engine, expire_on_commit=False)

    @cached_property
    def _readers(self) -> sessionmaker[Session]:
        from sqlalchemy.orm import sessionmaker

        return sessionmaker(
            self.engine.execution_options(**{READONLY: True}), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: everything commits together or nothing does."""
        session = self._sessions()
        try:
            with _as_tsk_errors(self.shown), session.begin():
                yield session
        except IntegrityError as exc:
            raise _integrity(exc) from None
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for queries only (on SQLite a deferred transaction, so writers go on)."""
        session = self._readers()
        try:
            with _as_tsk_errors(self.shown):
                yield session
        finally:
            session.close()

    @contextmanager
    def reading_rows(self) -> Iterator[Connection]:
        """``reading`` for Core queries: a connection, the ORM not imported, the same errors."""
        with _as_tsk_errors(self.shown):
            connection = self.engine.execution_options(**{READONLY: True}).connect()
        try:
            with _as_tsk_errors(self.shown), connection.begin():
                yield connection
        finally:
            connection.close()

    def dispose(self) -> None:
        self.engine.dispose()

    def erase_freed(self, tables: Sequence[str]) -> bool:
        """After a purge: make the old versions of the rows of ``tables`` unreadable in the
        database's files too, as far as the database allows; whether it all went.

        SQLite zeroes what is deleted or overwritten (``secure_delete``, on every connection),
        but the write-ahead log still holds the pages as they were before: it is checkpointed
        into the database file and truncated (False when a reader kept it from completing).
        PostgreSQL keeps the old row versions until ``VACUUM`` removes them, which is run on
        ``tables`` (False when the role may not vacuum one: autovacuum will, later; the bytes of the pages may stay on disk until they are reused; its
        write-ahead log and backups hold them until they are recycled: see docs/privacy.md)."""
        # Outside any transaction (VACUUM and a checkpoint cannot run in one): the driver's
        # own connection, SQLite's already without implicit transactions (``_on_connect``).
        raw = self.engine.raw_connection()
        try:
            driver = raw.driver_connection
            if self.dialect == "sqlite":
                cursor = raw.cursor()
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                row = cursor.fetchone()
                cursor.close()
                return row is not None and not row[0]
            # A role that may not vacuum a table (not its owner: the application role) is
            # warned and the table skipped, which is no error: the warnings say it.
            warnings: list[Any] = []
            driver.autocommit = True  # type: ignore[union-attr]
            driver.add_notice_handler(warnings.append)  # type: ignore[union-attr]
            try:
                with driver.cursor() as cursor:  # type: ignore[union-attr]
                    for table in tables:
                        cursor.execute(f'VACUUM "{table}"')
            finally:
                driver.remove_notice_handler(warnings.append)  # type: ignore[union-attr]
                driver.autocommit = False  # type: ignore[union-attr]
            return not any(w.severity_nonlocalized == "WARNING" for w in warnings)
        finally:
            raw.close()


@contextmanager
def _as_tsk_errors(shown: str) -> Iterator[None]:
    """The database's failures a user can do something about, as ``TskError``s that say what
    (naming the database, ``shown``): the database unreachable, locked or without its tables, a
    value out of range, a file that is not a database. Never the SQL: that is not for people."""
    try:
        yield
    except IntegrityError:
        raise  # the unit of work says what it means (``_integrity``)
    except (OperationalError, ProgrammingError) as exc:
        raise _operational(exc, shown) from None
    except (DataError, OverflowError) as exc:
        raise _out_of_range(exc) from None
    except DatabaseError as exc:  # a file that is not a database, or a damaged one
        raise _operational(exc, shown) from None
    except StatementError as exc:  # a value no column could take, failed before the database
        raise _out_of_range(exc) from None


def _integrity(exc: IntegrityError) -> TskError:
    text = str(exc.orig)
    if "append-only" in text:  # the triggers on audit_events
        return TskError(
            _("the audit trail is append-only: its events cannot be changed or deleted")
        )
    if "audit_events" in text or "uq_cycles_occurrence" in text or "UNIQUE" in text.upper():
        return Conflict(_("someone else acted at the same time; try again"))
    return TskError(
        _("the database refused the change: {error}").format(error=text.splitlines()[0])
    )


def _operational(exc: DatabaseError, shown: str) -> TskError:
    text = str(exc.orig).splitlines()[0]
    if "no such table" in text or "does not exist" in text:
        return TskError(
            _("the database {database} is not set up: run 'tsk init' first").format(database=shown)
        )
    if "locked" in text:
        return Conflict(_("the database is busy (locked by another writer); try again"))
    return TskError(_("database error ({database}): {error}").format(database=shown, error=text))


def _out_of_range(exc: StatementError | OverflowError) -> TskError:
    """A value the database cannot hold: an id of 30 digits, a NUL in a text on PostgreSQL."""
    orig = exc.orig if isinstance(exc, StatementError) else exc
    text = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return TskError(
        _("a value given is out of range or not allowed here: {error}").format(error=text)
    )
