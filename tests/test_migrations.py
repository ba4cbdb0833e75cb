"""The shipped Alembic migrations build exactly the schema of the models, on both databases."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect, text

from tests.dbfixtures import MakeStore
from tsk_workflow.errors import TskError
from tsk_workflow.store import migrate
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Base


def differences(store: Store, metadata: MetaData = Base.metadata) -> list[Any]:
    with store.engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))


def test_empty_database_has_no_revision(empty_store: Store) -> None:
    assert migrate.current_revision(empty_store) is None
    assert not migrate.is_up_to_date(empty_store)


def test_upgrade_reaches_head(empty_store: Store) -> None:
    migrate.upgrade(empty_store)

    assert migrate.current_revision(empty_store) == migrate.head_revision()
    assert migrate.is_up_to_date(empty_store)


def test_migrations_match_the_models(store: Store) -> None:
    assert differences(store) == []


def test_comparison_would_see_a_difference(store: Store) -> None:
    """Guards the test above: the comparison is not blind (types and columns are compared)."""
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["cycles"].append_column(Column("extra", Integer))

    kinds = {diff[0] for diff in differences(store, changed)}

    assert "add_column" in kinds


def test_every_table_and_index_exists(store: Store) -> None:
    with store.engine.connect() as connection:
        inspector = inspect(connection)
        tables = set(inspector.get_table_names())
        indexes = {index["name"] for table in tables for index in inspector.get_indexes(table)}
    assert set(Base.metadata.tables) <= tables
    expected = {index.name for table in Base.metadata.tables.values() for index in table.indexes}
    assert expected <= indexes


def test_upgrading_twice_changes_nothing(store: Store) -> None:
    before = _schema(store)

    migrate.upgrade(store)

    assert _schema(store) == before
    assert migrate.current_revision(store) == migrate.head_revision()


@pytest.mark.parametrize(
    ("table", "triggers"),
    [
        pytest.param(
            "audit_events",
            {
                "sqlite": {"audit_events_no_update", "audit_events_no_delete"},
                "postgresql": {"audit_events_no_update_delete", "audit_events_no_truncate"},
            },
            id="audit_events",
        ),
        pytest.param(
            "audit_payloads",
            {
                "sqlite": {"audit_payloads_purge_only", "audit_payloads_no_delete"},
                "postgresql": {"audit_payloads_purge_only", "audit_payloads_no_truncate"},
            },
            id="audit_payloads",
        ),
    ],
)
def test_append_only_triggers_exist(
    store: Store, table: str, triggers: dict[str, set[str]]
) -> None:
    query = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table",
        "postgresql": "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        " AND tgrelid = CAST(:table AS regclass)",
    }[store.dialect]
    with store.engine.connect() as connection:
        names = set(connection.execute(text(query), {"table": table}).scalars())
    assert names == triggers[store.dialect]


def test_downgrade_to_base_removes_everything(store: Store) -> None:
    migrate.downgrade(store, "base")

    with store.engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) == {"alembic_version"}
    assert migrate.current_revision(store) is None


def test_sqlite_foreign_keys_are_on_again_after_upgrade(make_store: MakeStore) -> None:
    store = make_store("sqlite")
    with store.engine.connect() as connection:  # the pool's one connection, the upgrade's
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_unknown_revision_in_database_is_explained(store: Store) -> None:
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))

    with pytest.raises(
        TskError, match="revision ffff, som den här versionen av tsk inte känner till"
    ):
        migrate.upgrade(store)


def test_unknown_target_revision_is_a_tsk_error(store: Store) -> None:
    with pytest.raises(TskError, match="kan inte uppgradera"):
        migrate.upgrade(store, "9999")


def _schema(store: Store) -> dict[str, Any]:
    with store.engine.connect() as connection:
        inspector = inspect(connection)
        return {
            table: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                sorted(i["name"] or "" for i in inspector.get_indexes(table)),
            )
            for table in sorted(inspector.get_table_names())
        }


def test_autogenerated_revision_is_empty_at_head(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make_revision`` (and env.py's autogenerate path) finds nothing to do at head."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS", copy)

    head = migrate.head_revision()
    following = f"{int(head) + 1:04d}"
    migrate.make_revision(store, "nothing", rev_id=following)

    (written,) = (copy / "versions").glob(f"{following}_*.py")
    source = written.read_text()
    assert f"down_revision: str | None = '{head}'" in source
    assert "op." not in source.split("def upgrade")[1]
    assert "import tsk_workflow" not in source
