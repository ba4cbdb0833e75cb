"""Definition versions are kept (issue 15): an open cycle follows the version of its definition it
was opened with, a changed definition applies to new cycles, and ``tsk process upgrade-cycles``
moves open cycles on, refusing those the new version cannot carry.

The changed definition is Herrljunga's steering group (``styrgrupp``) as version 2, without its
meeting step: its notice step leads straight to the minutes. The process folder with it is a copy
of the shipped one, given to the engine as ``load_catalog(folder)`` and to the commands as
``TSK_PROCESSES_DIR``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy import select

from tests.dbfixtures import MakeStore
from tests.enginekit import (
    Clock,
    counts,
    cycle_state,
    events,
    finish_step,
    local,
    set_up,
    shared_organisation,
)
from tsk_workflow import replay
from tsk_workflow.catalog import Catalog, load_catalog, text_digest
from tsk_workflow.cli import cli
from tsk_workflow.engine import upgrade, versions
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import DefinitionError
from tsk_workflow.features import build_engine
from tsk_workflow.resources import PROCESSES_VARIABLE, data_dir
from tsk_workflow.store import migrate
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditPayload, Cycle, RefusedAct, StoredDefinition

KEY = "styrgrupp"
CHAIR, DEPUTY, ADMIN, OUTSIDER = "gunilla.ahlberg", "stefan.moller", "marie.lind", "nina.bergqvist"
START = local(2027, 3, 1, 9)

MEETING_STEP = """  - key: mote
    title: {sv: Styrgruppsmöte, en: Steering group meeting}
"""


def changed_folder(base: Path, *, new_version: bool = True) -> Path:
    """A copy of the shipped process folder whose ``styrgrupp`` has no meeting step (version 2,
    or, with ``new_version=False``, still version 1: a change a developer forgot to number)."""
    folder = base / ("processes-v2" if new_version else "processes-unnumbered")
    shutil.copytree(data_dir("processes"), folder)
    path = folder / f"{KEY}.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index(MEETING_STEP)
    end = text.index("  - key: protokoll\n")
    text = text[:start] + text[end:]
    text = text.replace(
        "{trigger: kalla, from: kallelse, to: mote,",
        "{trigger: kalla, from: kallelse, to: protokoll,",
    )
    lines = [line for line in text.splitlines(keepends=True) if "trigger: protokollfor" not in line]
    text = "".join(lines)
    if new_version:
        text = text.replace("\nversion: 1\n", "\nversion: 2\n", 1)
    assert "key: mote" not in text
    assert "to: mote" not in text
    path.write_text(text, encoding="utf-8")
    return folder


@dataclass
class World:
    """One database, and an engine on it before (``old``) and after (``new``) the change."""

    store: Store
    clock: Clock
    old: Engine
    new: Engine
    folder: Path

    def open(self, engine: Engine, period: str) -> int:
        return engine.open_cycle(CHAIR, KEY, period).id

    def cycle(self, ref: int) -> Cycle:
        with self.store.reading() as session:
            found = self.old.find_cycle(session, ref)
            session.expunge(found)
            return found

    def verify(self) -> Any:
        with self.store.reading() as session:
            return replay.verify_record(session)


@pytest.fixture
def world(store: Store, tmp_path: Path) -> World:
    clock = Clock(START)
    org = shared_organisation("herrljunga")
    old = set_up(build_engine(store, load_catalog(), org, clock))
    folder = changed_folder(tmp_path)
    return World(store, clock, old, build_engine(store, load_catalog(folder), org, clock), folder)


def stored_versions(store: Store) -> list[tuple[str, int, str]]:
    with store.reading() as session:
        query = select(StoredDefinition.process, StoredDefinition.version, StoredDefinition.digest)
        return [tuple(row) for row in session.execute(query.order_by(StoredDefinition.version))]


# ---------------------------------------------------------------- following a version


def test_the_catalog_knows_each_text_by_its_digest(world: World) -> None:
    old, new = world.old.catalog.sources[KEY], world.new.catalog.sources[KEY]

    assert (old.version, new.version) == (1, 2)
    assert old.digest == text_digest((data_dir("processes") / f"{KEY}.yaml").read_text("utf-8"))
    assert new.digest != old.digest
    assert new.file.endswith(f"{KEY}.yaml")
    assert new.version_at[0] > 1
    assert world.new.catalog.is_current(KEY, new.digest)
    assert world.new.catalog.is_current(KEY, None)  # a cycle whose text is not known
    assert not world.new.catalog.is_current(KEY, old.digest)


def test_an_open_cycle_follows_its_version_and_a_new_cycle_the_current_one(world: World) -> None:
    before = world.open(world.old, "2027-t1")
    after = world.open(world.new, "2027-t2")

    old_cycle, new_cycle = world.cycle(before), world.cycle(after)
    assert (old_cycle.process_version, new_cycle.process_version) == (1, 2)
    assert old_cycle.process_digest == world.old.catalog.digest(KEY)
    assert new_cycle.process_digest == world.new.catalog.digest(KEY)
    assert [(p, v) for p, v, _d in stored_versions(world.store) if p == KEY] == [(KEY, 1), (KEY, 2)]

    # Both moved on by the installation that has version 2 only: each follows its own.
    assert finish_step(world.new, before) == "mote"
    assert finish_step(world.new, after) == "protokoll"
    with world.store.reading() as session:
        cycle = world.new.find_cycle(session, before)
        allowed = world.new.compiled_for(session, KEY, cycle.process_digest).allowed_triggers(
            cycle.state
        )
    assert allowed == ["protokollfor"]

    opened = [e.cycle_id for e in events(world.store, "cycle.opened")]
    assert {before, after} <= set(opened)
    assert world.verify().ok


def test_a_changed_definition_needs_a_new_version(world: World, tmp_path: Path) -> None:
    world.open(world.old, "2027-t1")  # version 1 is stored with the shipped text
    unnumbered = build_engine(
        world.store,
        load_catalog(changed_folder(tmp_path, new_version=False)),
        world.old.org,
        world.clock,
    )
    before = counts(world.store)

    with pytest.raises(DefinitionError) as raised:
        unnumbered.open_cycle(CHAIR, KEY, "2027-t2")

    (problem,) = raised.value.problems
    source = unnumbered.catalog.sources[KEY]
    assert problem.startswith(f"{source.file}:{source.version_at[0]}:{source.version_at[1]}: ")
    assert "'styrgrupp' version 1 finns i den här databasen med en annan text" in problem
    assert "en ändrad definition behöver ett nytt versionsnummer (version: 2)" in problem
    assert counts(world.store) == before
    # tsk init finds it too, and stores nothing.
    with pytest.raises(DefinitionError, match="behöver ett nytt versionsnummer"):
        versions.store_catalog(world.store, unnumbered.catalog, START)
    assert [v for p, v, _d in stored_versions(world.store) if p == KEY] == [1]


# ---------------------------------------------------------------- moving cycles on


def test_upgrade_moves_what_it_can_and_refuses_a_cycle_whose_step_is_gone(world: World) -> None:
    movable = world.open(world.old, "2027-t1")
    stuck = world.open(world.old, "2027-t2")
    assert finish_step(world.old, stuck) == "mote"
    current = world.open(world.new, "2028-t1")

    dry = upgrade.upgrade_cycles(world.new, CHAIR, KEY, dry_run=True)
    before = counts(world.store)

    assert dry.dry_run
    assert (dry.version, dry.digest) == (2, world.new.catalog.digest(KEY))
    assert [m.id for m in dry.moved] == [movable]
    ((refused_id, reason),) = [(m.id, m.reason) for m in dry.refused]
    assert refused_id == stuck
    assert reason is not None
    assert "dess steg 'mote' finns inte i version 2" in reason
    assert world.cycle(movable).process_version == 1  # the dry run changed nothing

    done = upgrade.upgrade_cycles(world.new, CHAIR, KEY)

    assert [m.id for m in done.moved] == [movable]
    assert [m.id for m in done.refused] == [stuck]
    after = counts(world.store)
    assert after["events"] == before["events"] + 1
    assert {k: v for k, v in after.items() if k != "events"} == {
        k: v for k, v in before.items() if k != "events"
    }
    moved = world.cycle(movable)
    assert (moved.process_version, moved.process_digest) == (2, world.new.catalog.digest(KEY))
    assert (moved.state, moved.status) == ("kallelse", "open")
    assert world.cycle(stuck).process_version == 1
    assert world.cycle(current).process_version == 2  # already current: not touched
    (event,) = events(world.store, upgrade.UPGRADED)
    assert (event.actor, event.role, event.cycle_id) == (CHAIR, "chair", movable)
    with world.store.reading() as session:
        payload = session.get(AuditPayload, event.seq)
        assert payload is not None
        assert payload.payload == {
            "process": KEY,
            "step": "kallelse",
            "from_version": 1,
            "from_digest": world.old.catalog.digest(KEY),
            "to_version": 2,
            "to_digest": world.new.catalog.digest(KEY),
        }

    # The moved cycle now takes the new steps; the refused one finishes on its own version.
    assert finish_step(world.new, movable) == "protokoll"
    assert finish_step(world.new, stuck) == "protokoll"
    assert world.verify().ok

    # Finished on its version to a step version 2 has: now it can be moved on too.
    again = upgrade.upgrade_cycles(world.new, CHAIR, KEY)
    assert [(m.id, m.step) for m in again.moved] == [(stuck, "protokoll")]
    assert again.refused == ()
    assert world.verify().ok


def test_an_open_task_the_new_step_lacks_is_refused(world: World, tmp_path: Path) -> None:
    cycle = world.open(world.old, "2027-t1")
    folder = changed_folder(tmp_path / "renamed")
    path = folder / f"{KEY}.yaml"
    path.write_text(
        path.read_text("utf-8").replace("key: ta_fram_underlag", "key: underlag"), "utf-8"
    )
    renamed = build_engine(world.store, load_catalog(folder), world.old.org, world.clock)

    done = upgrade.upgrade_cycles(renamed, ADMIN, KEY, dry_run=True)

    (move,) = done.refused
    assert move.id == cycle
    assert move.reason is not None
    assert "dess öppna uppgift" in move.reason
    assert "'ta_fram_underlag' finns inte i steget" in move.reason


def test_only_the_chair_or_an_admin_may_upgrade(world: World) -> None:
    cycle = world.open(world.old, "2027-t1")

    with pytest.raises(PermissionDenied, match="bara ordföranden i gruppen som driver 'styrgrupp'"):
        upgrade.upgrade_cycles(world.new, OUTSIDER, KEY)
    with pytest.raises(PermissionDenied, match="okänd person"):
        upgrade.upgrade_cycles(world.new, "mallory", KEY, dry_run=True)

    with world.store.reading() as session:
        refused = session.scalars(select(RefusedAct).order_by(RefusedAct.id)).all()
        assert [(r.actor, r.action) for r in refused] == [
            (OUTSIDER, upgrade.UPGRADE_ACTION),
            ("mallory", upgrade.UPGRADE_ACTION),
        ]
    assert world.cycle(cycle).process_version == 1
    assert events(world.store, upgrade.UPGRADED) == []

    deputy = upgrade.upgrade_cycles(world.new, DEPUTY, KEY, dry_run=True)
    assert [m.id for m in deputy.moved] == [cycle]
    admin = upgrade.upgrade_cycles(world.new, ADMIN, KEY)
    assert [m.id for m in admin.moved] == [cycle]
    (event,) = events(world.store, upgrade.UPGRADED)
    assert (event.actor, event.role) == (ADMIN, "admin")


def test_audit_verify_sees_a_cycle_pointed_at_another_version(world: World) -> None:
    cycle = world.open(world.old, "2027-t1")
    world.open(world.new, "2027-t2")  # stores version 2
    with world.store.transaction() as session:
        session.execute(
            sa.update(Cycle)
            .where(Cycle.id == cycle)
            .values(process_version=2, process_digest=world.new.catalog.digest(KEY))
        )

    result = world.verify()

    assert not result.ok
    (problem,) = result.problems
    assert problem.kind == "state_mismatch"
    assert f"cykel {cycle} " in problem.detail
    assert "process_version är 2 men händelse" in problem.detail
    assert "process_digest är " in problem.detail


# ---------------------------------------------------------------- the migration


def test_the_migration_names_the_version_of_existing_cycles(
    store_kind: str, make_store: MakeStore
) -> None:
    store = make_store(store_kind, migrated=False)
    migrate.upgrade(store, "0004")
    shipped = load_catalog().sources["est"]
    cycles = sa.table(
        "cycles",
        *(
            sa.column(name)
            for name in [
                "id",
                "ref",
                "municipality",
                "process",
                "process_version",
                "period",
                "subject",
                "title",
                "state",
                "status",
                "group_key",
                "opened_at",
                "opened_by",
                "step_entered_at",
                "forced",
                "late",
                "version",
            ]
        ),
    )
    row = {
        "municipality": "herrljunga",
        "process": "est",
        "subject": "",
        "title": "EST",
        "state": "insamling",
        "status": "open",
        "group_key": "est",
        "opened_at": START.replace(tzinfo=None),
        "opened_by": "tsk",
        "step_entered_at": START.replace(tzinfo=None),
        "forced": False,
        "late": False,
        "version": 1,
    }
    with store.engine.begin() as connection:
        connection.execute(
            cycles.insert(),
            [
                {
                    **row,
                    "id": 1,
                    "ref": "est-2027-03",
                    "period": "2027-03",
                    "process_version": shipped.version,
                },
                {**row, "id": 2, "ref": "est-2027-04", "period": "2027-04", "process_version": 9},
            ],
        )

    migrate.upgrade(store)

    with store.reading() as session:
        named = dict(session.execute(select(Cycle.id, Cycle.process_digest)).all())
        stored = session.execute(
            select(StoredDefinition.process, StoredDefinition.version, StoredDefinition.content)
        ).all()
    assert named == {1: shipped.digest, 2: None}
    assert [tuple(r) for r in stored] == [("est", shipped.version, shipped.text)]


# ---------------------------------------------------------------- the command


class Tsk:
    """``tsk`` on the world's database with the changed process folder, as the administrator
    sets it (``TSK_PROCESSES_DIR``), at the virtual clock's time (``TSK_NOW``)."""

    def __init__(self, runner: CliRunner, store: Store) -> None:
        self.runner, self.store = runner, store

    def __call__(self, *args: str, as_: str | None = None) -> Result:
        options = ["--db", self.store.url, "--org", "herrljunga"]
        options += ["--as", as_] if as_ else []
        return self.runner.invoke(cli, [*options, *args])

    def json(self, *args: str, as_: str | None = None) -> Any:
        result = self(*args, "--json", as_=as_)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return json.loads(result.stdout)


@pytest.fixture
def tsk(world: World, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> Tsk:
    monkeypatch.setenv(PROCESSES_VARIABLE, str(world.folder))
    monkeypatch.setenv("TSK_NOW", "2027-03-02T10:00")
    return Tsk(runner, world.store)


def test_the_command_moves_cycles_and_the_record_stays_whole(world: World, tsk: Tsk) -> None:
    movable = world.open(world.old, "2027-t1")
    stuck = world.open(world.old, "2027-t2")
    finish_step(world.old, stuck)

    dry = tsk("process", "upgrade-cycles", KEY, "--dry-run", as_=CHAIR)
    assert dry.exit_code == 0, dry.output
    lines = dry.stdout.splitlines()
    assert lines[0].startswith(f"{KEY}: till version 2 (sha256 ")
    assert lines[1].startswith(f"  skulle flyttas: {KEY}-2027-t1 (id {movable}) v1 -> v2")
    assert lines[2].startswith(f"  skulle vägras: {KEY}-2027-t2 (id {stuck}) v1: dess steg 'mote'")
    assert lines[3] == "Provkörning: inget är ändrat."
    assert tsk.json("cycle", "show", str(movable))["process_version"] == 1

    refused = tsk("process", "upgrade-cycles", KEY, as_=OUTSIDER)
    assert refused.exit_code == 1
    assert "bara ordföranden" in refused.stderr

    done = tsk.json("process", "upgrade-cycles", KEY, as_=CHAIR)
    assert not done["dry_run"]
    assert done["version"] == 2
    assert [m["id"] for m in done["moved"]] == [movable]
    assert [(m["id"], m["step"]) for m in done["refused"]] == [(stuck, "mote")]
    assert "finns inte i version 2" in done["refused"][0]["reason"]
    shown = tsk.json("cycle", "show", str(movable))
    assert (shown["process_version"], shown["process_digest"]) == (2, done["digest"])
    assert tsk.json("cycle", "show", str(stuck))["allowed_triggers"] == ["protokollfor"]
    drawn = tsk("process", "diagram", KEY, "--cycle", str(stuck))  # the version it follows
    assert drawn.exit_code == 0, drawn.output
    assert "mote --> protokoll: protokollfor" in drawn.stdout

    verified = tsk("audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert cycle_state(world.new, movable) == ("kallelse", "open")


def test_init_stores_the_folder_and_refuses_an_unnumbered_change(
    world: World, tsk: Tsk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = tsk.json("init")["definitions_stored"]
    assert f"{KEY} v2" in stored
    assert f"{KEY} v1" not in stored
    assert tsk.json("init")["definitions_stored"] == []

    path = changed_folder(tmp_path / "again")  # another text of version 2
    (path / f"{KEY}.yaml").write_text(
        (path / f"{KEY}.yaml")
        .read_text("utf-8")
        .replace("Justera protokollet", "Justera protokollet noga"),
        "utf-8",
    )
    monkeypatch.setenv(PROCESSES_VARIABLE, str(path))
    result = tsk("init")

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    (line,) = result.stderr.splitlines()
    assert f"{KEY}.yaml:" in line
    assert "'styrgrupp' version 2 finns i den här databasen" in line
    assert "(version: 3)" in line


def test_a_folder_that_is_not_there_is_named(
    tsk: Tsk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROCESSES_VARIABLE, str(tmp_path / "nowhere"))

    result = tsk("process", "list")

    assert result.exit_code == 1
    assert f"mappen med processdefinitioner finns inte (från {PROCESSES_VARIABLE})" in result.stderr


def test_a_catalog_made_in_code_remembers_no_digest(world: World) -> None:
    catalog = Catalog(dict(world.old.catalog.definitions))
    engine = build_engine(world.store, catalog, world.old.org, world.clock)

    cycle = engine.open_cycle(CHAIR, KEY, "2027-t1")

    assert (cycle.process_version, cycle.process_digest) == (1, None)
    assert finish_step(world.new, cycle.id) == "protokoll"  # it follows whatever is current
