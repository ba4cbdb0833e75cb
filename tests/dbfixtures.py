"""Database fixtures: the same tests on SQLite and on PostgreSQL (a pytest plugin).

Fixtures:

- ``store``: a ``Store`` migrated to head, once on SQLite (a file in ``tmp_path``) and once on
  PostgreSQL (a schema of its own, dropped afterwards). The PostgreSQL case has the ``postgres``
  marker, so ``-m "not postgres"`` runs SQLite only. ``store.url`` reaches the same database (on
  PostgreSQL the schema is in the URL as ``?options=-csearch_path%3D<schema>``), so it can be
  passed to the CLI as ``--db``.
- ``empty_store``: the same, not migrated (for migration tests).
- ``store_kind``: ``"sqlite"`` or ``"postgresql"``, the parameter of the two above.
- ``make_store``: a factory, ``make_store(kind, migrated=True, virtual_time=True)``, for tests
  that need more than one database; every store it makes is disposed of (and its schema
  dropped) afterwards.

A migrated store is made for virtual time (``tsk init --virtual-time``): the tests say what time
it is. ``make_store(kind, virtual_time=False)`` makes one on the server's clock.

Migrating takes a quarter of a second or more, and the suite makes well over a thousand stores:
a migrated store is a copy of one migrated once a session (``_Templates``): on SQLite a copy of
the file, on PostgreSQL a database of its own made with ``CREATE DATABASE ... TEMPLATE`` (a
few hundredths of a second) and dropped afterwards. An empty store (``migrated=False``) is a
new file, or a new schema named in the URL's ``search_path``, as a deployment may use.
- ``pg_url``: the PostgreSQL server's URL (``TSK_TEST_POSTGRES_URL``, default the local one).

When PostgreSQL cannot be reached its tests are skipped, with the reason; when the environment
variable ``CI`` is ``true`` they fail instead, so that CI never passes without having run them.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from tsk_workflow.store import installation, migrate
from tsk_workflow.store.database import Store, make_engine

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
KINDS = ("sqlite", "postgresql")

MakeStore = Callable[..., Store]


def postgres_url() -> str:
    return os.environ.get("TSK_TEST_POSTGRES_URL", DEFAULT_PG_URL)


def _unreachable(url: str) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used, or None if it can."""
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        return (str(cause).strip() or type(cause).__name__).splitlines()[0]
    finally:
        engine.dispose()
    return None


def _refuse(reason: str) -> None:
    """Skip, or on CI fail: a CI run must not pass without PostgreSQL."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def _pg_problem() -> str | None:
    url = make_url(postgres_url())
    problem = _unreachable(postgres_url())
    if problem is None:
        return None
    return f"PostgreSQL at {url.host}:{url.port or 5432} not reachable: {problem}"


@pytest.fixture
def pg_url(_pg_problem: str | None) -> str:
    """The PostgreSQL URL; skips the test (fails it on CI) if the server is not reachable."""
    if _pg_problem is not None:
        _refuse(_pg_problem)
    return postgres_url()


class _Templates:
    """A database of each kind migrated to head once a session, to copy from."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._sqlite: Path | None = None
        self._postgresql: str | None = None
        self._admin: Engine | None = None

    def sqlite_copy(self, path: Path) -> None:
        if self._sqlite is None:
            template = self._folder / "template.db"
            store = Store(f"sqlite:///{template}")
            migrate.upgrade(store)
            store.dispose()  # the last connection closed: the WAL is checked into the file
            self._sqlite = template
        shutil.copyfile(self._sqlite, path)

    def postgresql_copy(self, url: str) -> tuple[str, Callable[[], None]]:
        """A new database copied from the template: its URL, and what drops it."""
        admin = self._admin_of(url)
        if self._postgresql is None:
            name = f"tsktpl_{secrets.token_hex(6)}"
            with admin.connect() as connection:
                connection.execute(text(f"CREATE DATABASE {name}"))
            store = Store(_database_url(url, name))
            migrate.upgrade(store)
            store.dispose()  # a template may have no connections while it is copied
            self._postgresql = name
        name = f"tsktest_{secrets.token_hex(6)}"
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name} TEMPLATE {self._postgresql}"))
        return _database_url(url, name), lambda: _drop_database(admin, name)

    def _admin_of(self, url: str) -> Engine:
        if self._admin is None:
            self._admin = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        return self._admin

    def close(self) -> None:
        if self._admin is not None and self._postgresql is not None:
            _drop_database(self._admin, self._postgresql)
        if self._admin is not None:
            self._admin.dispose()


def _database_url(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Templates]:
    templates = _Templates(tmp_path_factory.mktemp("templates"))
    try:
        yield templates
    finally:
        templates.close()


class _Stores:
    """Makes fresh stores and cleans up after them."""

    def __init__(self, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self._tmp_path = tmp_path
        self._request = request
        self._cleanups: list[Callable[[], None]] = []

    def make(self, kind: str, migrated: bool = True, virtual_time: bool = True) -> Store:
        if kind not in KINDS:
            raise ValueError(f"unknown store kind {kind!r}; use one of {KINDS}")
        if not migrated:
            return self._sqlite() if kind == "sqlite" else self._postgresql()
        store = self._sqlite_copy() if kind == "sqlite" else self._postgresql_copy()
        if virtual_time:
            with store.transaction() as session:
                installation.make_virtual(session)
        return store

    def _sqlite(self) -> Store:
        path = self._tmp_path / f"tsk-{secrets.token_hex(4)}.db"
        store = Store(f"sqlite:///{path}")
        self._cleanups.append(store.dispose)
        return store

    def _sqlite_copy(self) -> Store:
        path = self._tmp_path / f"tsk-{secrets.token_hex(4)}.db"
        templates: _Templates = self._request.getfixturevalue("_templates")
        templates.sqlite_copy(path)
        store = Store(f"sqlite:///{path}")
        self._cleanups.append(store.dispose)
        return store

    def _postgresql_copy(self) -> Store:
        url = self._request.getfixturevalue("pg_url")
        templates: _Templates = self._request.getfixturevalue("_templates")
        copy_url, drop = templates.postgresql_copy(url)
        store = Store(copy_url)

        def cleanup() -> None:
            store.dispose()
            drop()

        self._cleanups.append(cleanup)
        return store

    def _postgresql(self) -> Store:
        url = self._request.getfixturevalue("pg_url")
        schema = f"t_{secrets.token_hex(6)}"
        admin = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        # The schema is in the URL itself (libpq's ``options``), so ``store.url`` can be given
        # to the CLI as ``--db`` and reaches the same schema.
        schema_url = (
            make_url(url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
        store = Store(schema_url, make_engine(schema_url))
        self._cleanups.append(lambda: _drop_schema(admin, store, schema))
        return store

    def close(self) -> None:
        while self._cleanups:
            self._cleanups.pop()()


def _drop_schema(admin: Engine, store: Store, schema: str) -> None:
    store.dispose()
    try:
        with admin.connect() as connection:
            connection.execute(text("SET lock_timeout = '10s'"))
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    finally:
        admin.dispose()


@pytest.fixture
def make_store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[MakeStore]:
    """``make_store(kind, migrated=True)``: a fresh store of ``kind`` ("sqlite", "postgresql")."""
    stores = _Stores(tmp_path, request)
    try:
        yield stores.make
    finally:
        stores.close()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def empty_store(store_kind: str, make_store: MakeStore) -> Store:
    """A fresh database of ``store_kind`` with no tables at all."""
    return make_store(store_kind, migrated=False)


@pytest.fixture
def store(store_kind: str, make_store: MakeStore) -> Store:
    """A fresh database of ``store_kind``, migrated to head."""
    return make_store(store_kind)
