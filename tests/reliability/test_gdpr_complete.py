"""A purge is complete, or says what it kept: a distinct marker is written into every free-text
field a person can fill (task notes, every text answer of a report, the notes of advancing and
closing, the place and description of a reported event, the note of an action's follow-up),
the lägesbild tsk generates is attached, and after ``tsk gdpr purge`` no marker is left in any
column of any table (found through the models' metadata), nor in the bytes of the SQLite file
and its write-ahead log. What the purge keeps on purpose (the action register's texts here)
carries markers of its own, which stay; the purge's result names both kinds. On both
databases; ``tsk audit verify`` passes afterwards."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.enginekit import Clock, Tsk, local, tasks
from tests.reliability.kit import CHAIR, herrljunga, sqlite_path
from tsk_workflow import gdpr
from tsk_workflow.engine.actions import Actions
from tsk_workflow.engine.events import report_events
from tsk_workflow.engine.service import Engine
from tsk_workflow.forms import form_of
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditPayload, Base, Document

OLD = local(2023, 3, 6, 9)
NOW = local(2027, 6, 1, 9)
KANSLICHEF = "marie.lind"
OWNER = "jonas.ek"
REPORTER = "ida.wikstrom"

_numbers = count(1)


def gone() -> str:
    """A new marker for a field the purge must empty."""
    return f"GONEMARK{next(_numbers):03d}X"


def kept() -> str:
    """A new marker for a field the purge keeps on purpose."""
    return f"KEPTMARK{next(_numbers):03d}X"


def every_free_text(engine: Engine, clock: Clock) -> tuple[set[str], set[str]]:
    """An EST month in March 2023 with a marker in every free-text field, its lägesbild
    attached; an event reported and an action followed up. The markers to go, and to stay."""
    removed: set[str] = set()
    staying: set[str] = set()

    def mark(maker: Any = gone) -> str:
        marker = str(maker())
        (removed if maker is gone else staying).add(marker)
        return marker

    clock.set(OLD)
    cycle = engine.open_cycle(CHAIR, "est", "2023-03").id
    definition = engine.catalog.definition("est")
    for task in tasks(engine, cycle):
        form = form_of(definition, task.step, task.key)
        assert form is not None
        answers: dict[str, Any] = {"kategori": "klotter", "ort": "herrljunga", "antal": 2}
        for question in form.questions:
            if question.type == "text":
                answers[question.key] = f"{mark()} Kalle Svensson"
        engine.complete_task(task.assignees[0], task.id, mark(), answers)
    clock.set(OLD + dt.timedelta(hours=1))  # all reported: on to egna_lagesbilder
    engine.advance(CHAIR, cycle, "sammanstall_gemensam", mark())  # the lägesbild is made
    for task in tasks(engine, cycle):
        engine.complete_task(task.assignees[0], task.id, mark())
    engine.close_cycle(CHAIR, cycle, mark(), force=True)

    report_events(
        engine,
        REPORTER,
        [
            {
                "category": "klotter",
                "when": "2023-03-05T22:15",
                "town": "herrljunga",
                "place": mark(),
                "description": mark(),
            }
        ],
    )
    register = Actions(engine)
    made = register.add(
        CHAIR,
        {
            "title": mark(kept),
            "cause": mark(kept),
            "goal": mark(kept),
            "followup_plan": mark(kept),
            "start": "2023-03-15",
            "due": "2023-05-31",
            "owner": OWNER,
            "category": "otrygg_plats",
            "town": "herrljunga",
            "place": mark(kept),
        },
    )
    register.followup(OWNER, made.id, status="yellow", note=mark())
    return removed, staying


def column_texts(store: Store) -> Iterator[tuple[str, str]]:
    """``(table.column, text)`` of every value of every column of every table of the models."""
    with store.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()).mappings():
                for column, value in row.items():
                    if isinstance(value, bytes):
                        yield f"{table.name}.{column}", value.decode("utf-8", "replace")
                    elif isinstance(value, dict | list):
                        yield f"{table.name}.{column}", json.dumps(value, ensure_ascii=False)
                    elif isinstance(value, str):
                        yield f"{table.name}.{column}", value


def found_in_tables(store: Store, markers: set[str]) -> dict[str, set[str]]:
    """Each marker found, with the columns it is in."""
    found: dict[str, set[str]] = {}
    for where, text in column_texts(store):
        for marker in markers:
            if marker in text:
                found.setdefault(marker, set()).add(where)
    return found


def found_in_files(store: Store, markers: set[str]) -> set[str]:
    """The markers in the bytes of the SQLite database file and its -wal and -shm files."""
    path = sqlite_path(store)
    data = b"".join(
        candidate.read_bytes()
        for candidate in (
            path,
            path.with_name(path.name + "-wal"),
            path.with_name(path.name + "-shm"),
        )
        if candidate.exists()
    )
    return {marker for marker in markers if marker.encode() in data}


@pytest.fixture
def marked(
    store: Store, monkeypatch: pytest.MonkeyPatch, runner: CliRunner
) -> tuple[Store, Tsk, set[str], set[str]]:
    world = herrljunga(store, OLD)
    removed, staying = every_free_text(world.engine, world.clock)
    tsk = Tsk(runner, store, "herrljunga", Clock(NOW), monkeypatch)
    return store, tsk, removed, staying


def test_a_purge_leaves_no_marker_in_any_table_or_file(
    marked: tuple[Store, Tsk, set[str], set[str]],
) -> None:
    store, tsk, removed, staying = marked
    with store.reading() as session:
        (lagesbild,) = session.scalars(select(Document).where(Document.kind == "lagesbild"))
        before_sha = lagesbild.sha256
    shown = lagesbild.content.decode()
    assert sum(marker in shown for marker in removed) >= 3  # the answers' machine copy
    before = found_in_tables(store, removed)
    assert set(before) == removed  # each was written somewhere: the scan can fail
    if store.dialect == "sqlite":
        assert found_in_files(store, removed)

    result = tsk.ok("gdpr", "purge", "--before", "2024-01-01", as_=KANSLICHEF)

    assert found_in_tables(store, removed) == {}
    if store.dialect == "sqlite":
        assert found_in_files(store, removed) == set()
    assert result["erased"] is True
    # What is kept on purpose is kept, and the result says so.
    assert set(found_in_tables(store, staying)) == staying
    assert result["kept_on_purpose"] == list(gdpr.KEPT)
    assert "actions" in result["kept_on_purpose"]
    assert result["removed"] == list(gdpr.REMOVED) == list(result["counts"])
    assert result["counts"]["documents"] == 1
    assert result["counts"]["event_texts"] == 1
    assert result["counts"]["action_notes"] == 1
    # The lägesbild was made again without the text; the purge event records it, and the
    # record still verifies against the new content.
    with store.reading() as session:
        again = session.get(Document, lagesbild.id)
        assert again is not None
        assert again.sha256 != before_sha
        regenerated = again.content.decode()
    assert "Lägesbild" in regenerated
    assert "Kalle Svensson" not in regenerated
    with store.reading() as session:
        payload = session.get(AuditPayload, result["event"])
        assert payload is not None
        recorded = payload.payload
    assert recorded["documents"][str(lagesbild.id)]["was_sha256"] == before_sha
    assert recorded["kept_on_purpose"] == list(gdpr.KEPT)
    verified = tsk("audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_a_changed_regenerated_lagesbild_is_still_found(
    marked: tuple[Store, Tsk, set[str], set[str]],
) -> None:
    """The purge event's SHA-256 is what a regenerated lägesbild is checked against."""
    from sqlalchemy import update

    store, tsk, _removed, _staying = marked
    tsk.ok("gdpr", "purge", "--before", "2024-01-01", as_=KANSLICHEF)
    with store.transaction() as session:
        session.execute(
            update(Document).where(Document.kind == "lagesbild").values(content=b"edited")
        )
    verified = tsk("audit", "verify")
    assert verified.exit_code != 0
    assert "document_changed" in verified.output or "SHA-256" in verified.output
