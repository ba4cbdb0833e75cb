"""The per-user cache of read definition documents (``definitions/cache.py``)."""

from __future__ import annotations

import datetime as dt
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from tsk_workflow.catalog import load_catalog, shipped_process_files
from tsk_workflow.definitions import cache, reader
from tsk_workflow.definitions.reader import YamlReader, read_file
from tsk_workflow.definitions.validate import load_process_document
from tsk_workflow.resources import municipalities_dir

TEXT = "key: prov\ntitle: {sv: Prov, en: Test}\nfirst: 2027-03-01\nsteps:\n  - key: a\n"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv("TSK_CACHE_DIR", str(where))
    return where


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the YAML reader really parsed, in order."""
    parsed: list[str] = []
    read = YamlReader.read

    def counting(self: YamlReader, text: str, file: str) -> reader.Document:
        parsed.append(file)
        return read(self, text, file)

    monkeypatch.setattr(YamlReader, "read", counting)
    return parsed


def write(folder: Path, name: str, text: str = TEXT) -> Path:
    path = folder.parent / name
    path.write_text(text, encoding="utf-8")
    return path


def entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if len(p.name) == 64) if folder.exists() else []


def test_a_file_read_before_is_not_parsed_again(folder: Path, parses: list[str]) -> None:
    path = write(folder, "prov.yaml")
    first = read_file(path, cached=True)
    again = read_file(path, cached=True)
    assert parses == [str(path)]
    assert (again.data, again.positions) == (first.data, first.positions)
    assert again.data["first"] == dt.date(2027, 3, 1)  # a date stays a date
    assert again.file == str(path)
    assert len(entries(folder)) == 1
    assert os.stat(folder).st_mode & 0o777 == 0o700


def test_an_edited_file_is_parsed_again(folder: Path, parses: list[str]) -> None:
    path = write(folder, "prov.yaml")
    read_file(path, cached=True)
    write(folder, "prov.yaml", TEXT.replace("Prov", "Prov två"))
    assert read_file(path, cached=True).data["title"]["sv"] == "Prov två"
    assert parses == [str(path), str(path)]


def test_only_what_asks_for_it_is_cached(folder: Path, parses: list[str]) -> None:
    organisation = municipalities_dir() / "herrljunga.yaml"  # names and addresses of people
    read_file(organisation)
    read_file(organisation)
    assert len(parses) == 2
    assert entries(folder) == []


def test_a_damaged_entry_is_a_miss_and_is_replaced(folder: Path, parses: list[str]) -> None:
    path = write(folder, "prov.yaml")
    expected = read_file(path, cached=True).data
    (entry,) = entries(folder)
    entry.write_bytes(b"\x80\x05not a pickle")
    assert read_file(path, cached=True).data == expected
    assert read_file(path, cached=True).data == expected
    assert len(parses) == 2  # parsed again once, then found


class Payload:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("touch hacked",))


def test_an_entry_that_would_run_code_is_refused(
    folder: Path, parses: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(folder, "prov.yaml")
    folder.mkdir(mode=0o700)
    (folder / cache.key(TEXT)).write_bytes(pickle.dumps(({"x": Payload()}, {})))
    assert read_file(path, cached=True).data["key"] == "prov"
    assert not (tmp_path / "hacked").exists()
    assert parses == [str(path)]


def test_off_writes_nothing(
    folder: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TSK_CACHE_DIR", cache.OFF)
    path = write(folder, "prov.yaml")
    read_file(path, cached=True)
    read_file(path, cached=True)
    assert len(parses) == 2
    assert not folder.exists()


def test_a_folder_others_may_write_to_is_not_used(folder: Path, parses: list[str]) -> None:
    path = write(folder, "prov.yaml")
    read_file(path, cached=True)
    (entry,) = entries(folder)
    os.chmod(folder, 0o777)
    read_file(path, cached=True)  # not taken from there: parsed again
    write(folder, "other.yaml", TEXT.replace("prov", "annan"))
    read_file(folder.parent / "other.yaml", cached=True)  # and nothing new is put there
    assert len(parses) == 3
    assert entries(folder) == [entry]


def test_the_default_folder_and_a_user_without_a_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TSK_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.folder() == tmp_path / "tsk-workflow"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.folder() == tmp_path / "home" / ".cache" / "tsk-workflow"

    def nowhere() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", nowhere)
    assert cache.folder() is None


def test_a_folder_that_cannot_be_made_is_no_cache(
    tmp_path: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("TSK_CACHE_DIR", str(blocker / "cache"))
    path = tmp_path / "prov.yaml"
    path.write_text(TEXT, encoding="utf-8")
    assert read_file(path, cached=True).data["key"] == "prov"
    assert read_file(path, cached=True).data["key"] == "prov"
    assert len(parses) == 2


def test_a_problem_in_a_cached_document_is_still_located(folder: Path) -> None:
    text = "key: prov\nversion: 1\nsteps:\n  - key: a\n    titel: fel\n"
    path = write(folder, "prov.yaml", text)
    fresh = [str(p) for p in load_process_document(read_file(path, cached=True))[1]]
    kept = [str(p) for p in load_process_document(read_file(path, cached=True))[1]]
    assert kept == fresh
    assert any(f"{path}:5:" in problem for problem in kept), kept


def test_the_oldest_entries_go_when_there_are_too_many(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "KEEP", 3)
    for number in range(5):
        path = write(folder, f"prov{number}.yaml", TEXT.replace("prov", f"prov{number}"))
        read_file(path, cached=True)
        stamp = 1_700_000_000 + number
        for entry in entries(folder):
            if os.stat(entry).st_mtime > stamp:
                os.utime(entry, (stamp, stamp))
    assert len(entries(folder)) == 3


def test_the_shipped_catalog_is_the_same_from_the_cache(folder: Path, parses: list[str]) -> None:
    from tsk_workflow import catalog

    catalog._shipped.cache_clear()  # read in this test, not taken from an earlier one
    try:
        fresh = load_catalog()
        assert len(entries(folder)) == len(shipped_process_files())
        catalog._shipped.cache_clear()
        again = load_catalog()
    finally:
        catalog._shipped.cache_clear()
    assert len(parses) == len(shipped_process_files())  # the second time, none parsed
    assert again.definitions == fresh.definitions
    assert again.definitions is not fresh.definitions
