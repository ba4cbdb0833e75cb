"""A SQLite database is for one OS user: a new database file (with its -wal and -shm files) and
a ``tsk backup`` copy are created readable and writable by that user only (0600)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from tsk_workflow.cli import cli
from tsk_workflow.store import migrate
from tsk_workflow.store.database import Store

UNSET = ("TSK_DATABASE_URL", "TSK_ORG", "TSK_USER", "TSK_LANG")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def lenient_umask() -> Iterator[None]:
    """The usual umask (022), which would leave a file readable by everyone."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def tsk(*args: str) -> tuple[int, str, str]:
    result = CliRunner(env=dict.fromkeys(UNSET)).invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_new_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "tsk.db"
    store = Store(f"sqlite:///{path}")
    try:
        migrate.upgrade(store)
        with store.engine.connect() as connection:  # WAL mode: -wal and -shm exist while open
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            wal = [Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert all(file.exists() for file in wal)
            assert [mode(file) for file in wal] == [0o600, 0o600]
        assert mode(path) == 0o600
    finally:
        store.dispose()


def test_tsk_init_makes_a_private_database(tmp_path: Path) -> None:
    path = tmp_path / "ny.db"

    code, _out, err = tsk("--db", str(path), "init")

    assert code == 0, err
    assert mode(path) == 0o600


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    store = Store(f"sqlite:///{path}")
    try:
        migrate.upgrade(store)
    finally:
        store.dispose()
    assert mode(path) == 0o640


def test_an_in_memory_database_makes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store("sqlite://")
    try:
        with store.engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        store.dispose()
    assert list(tmp_path.iterdir()) == []


def test_a_backup_is_private(tmp_path: Path) -> None:
    source, copy = tmp_path / "tsk.db", tmp_path / "kopia.db"
    assert tsk("--db", str(source), "init")[0] == 0

    code, out, err = tsk("--db", str(source), "backup", str(copy))

    assert code == 0, err
    assert out.startswith(f"{source} -> {copy} (")
    assert mode(copy) == 0o600
    assert tsk("--db", str(copy), "audit", "verify")[0] == 0


@pytest.mark.parametrize("kind", ["file", "link"])
def test_a_backup_over_something_is_refused(tmp_path: Path, kind: str) -> None:
    source, target = tmp_path / "tsk.db", tmp_path / "finns.db"
    assert tsk("--db", str(source), "init")[0] == 0
    elsewhere = tmp_path / "elsewhere"
    if kind == "file":
        target.write_text("x")
    else:
        target.symlink_to(elsewhere)  # a dangling link: the copy must not go where it points

    code, out, err = tsk("--db", str(source), "backup", str(target))
    english = tsk("--db", str(source), "--lang", "en", "backup", str(target))

    assert (code, out) == (1, "")
    if kind == "file":
        assert err.splitlines() == [
            f"tsk: {target} finns redan: ange --force för att skriva över den"
        ]
        assert english[2].splitlines() == [
            f"tsk: {target} is there already: give --force to write over it"
        ]
    else:
        assert english[2].splitlines() == [
            f"tsk: {target} is a symbolic link: tsk does not write through one"
        ]
    assert not elsewhere.exists()
