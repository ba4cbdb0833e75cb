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
- ``pg_url``: the PostgreSQL server's URL (``TSK_TEST_POSTGRES_URL``, default the local one).

When PostgreSQL cannot be reached its tests are skipped, with the reason; when the environment
variable ``CI`` is ``true`` they fail instead, so that CI never passes without having run them.
"""

from __future__ import annotations

import os
import secrets
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


class _Stores:
    """Makes fresh stores and cleans up after them."""

    def __init__(self, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self._tmp_path = tmp_path
        self._request = request
        self._cleanups: list[Callable[[], None]] = []

    def make(self, kind: str, migrated: bool = True, virtual_time: bool = True) -> Store:
        if kind not in KINDS:
            raise ValueError(f"unknown store kind {kind!r}; use one of {KINDS}")
        store = self._sqlite() if kind == "sqlite" else self._postgresql()
        if migrated:
            migrate.upgrade(store)
            if virtual_time:
                with store.transaction() as session:
                    installation.make_virtual(session)
        return store

    def _sqlite(self) -> Store:
        path = self._tmp_path / f"tsk-{secrets.token_hex(4)}.db"
        store = Store(f"sqlite:///{path}")
        self._cleanups.append(store.dispose)
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
