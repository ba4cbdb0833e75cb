"""Bad input: every case in ``badinput/`` gives a clear error, a non-zero exit, no traceback, and
leaves the database as it was (every table but ``refused_acts``, which records refused attempts
by design).

A case is a small YAML file::

    about: a period that is an impossible day        # what is wrong, in words
    args: [--as, jessica.wahlstrom, cycle, open, est, --period, 2027-02-30]
    expect: no such month or day                     # a substring of the error
    exit: 1                                          # optional: 1 (refused, default) or 2 (usage)
    lines: 1                                         # optional: most lines on stderr (default 1)
    org: herrljunga                                  # optional: --org (null: none)
    db: URL                                          # optional: --db instead of the case's copy
    env: {TSK_NOW: 2027-02-30T08:00}                 # optional: environment
    lang: sv                                         # optional: the language (default: en)
    files:                                           # optional: files made in the case's folder
      answers.yaml: {text: "kategori: [a, b]"}       #   UTF-8 text
      big.yaml: {repeat: "x", bytes: 10485760}       #   a string repeated to a size
      bomb.yaml: {alias_bomb: 9}                     #   nine levels of nine aliases
      latin1.yaml: {hex: "e5e4f6"}                   #   raw bytes

An argument may also be ``{repeat: TEXT, chars: N}``. In arguments and ``org``, ``{dir}`` is the
case's folder, ``{cycle}``, ``{ref}``, ``{task}``, ``{assignee}``, ``{decision}``,
``{other_task}`` and ``{other_assignee}`` name rows of the prepared database: Herrljunga loaded,
an EST cycle with its reporters' tasks, and a decision proposed from it (with its case cycle and
the secretary's task, which has no form). Each case runs with click's ``CliRunner`` on its own
copy of that database, in English (the language of the code and of ``expect``) unless it says
``lang: sv``.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from tests.enginekit import make_engine, tasks
from tests.reliability.kit import CHAIR, START, herrljunga, iso, sqlite_dump
from tsk_workflow.catalog import resolve_organisation_path
from tsk_workflow.cli import cli
from tsk_workflow.engine import setup
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.service import Engine
from tsk_workflow.store.database import Store

CASES = Path(__file__).parent / "badinput"
NOW = iso(START)
UNSET = ("TSK_DATABASE_URL", "TSK_ORG", "TSK_USER", "TSK_LANG", "TSK_DEBUG", "TSK_SMTP_HOST")


@dataclass(frozen=True)
class Prepared:
    path: Path
    names: dict[str, str]
    dump: list[str]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    path = tmp_path_factory.mktemp("prepared") / "tsk.db"
    store = Store(f"sqlite:///{path}")
    from tsk_workflow.store import migrate

    migrate.upgrade(store)
    world = herrljunga(store, START)
    engine = world.engine
    # Svenljunga too, for the cases that act there (a database may hold several).
    svenljunga = make_engine(store, "svenljunga", world.clock)
    setup.load_organisation(svenljunga, resolve_organisation_path("svenljunga"))
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")
    task = tasks(engine, cycle.id)[0]
    decision, _route = Decisions(engine).propose(CHAIR, cycle.id, "Belysning i parken", 20_000)
    other = _formless_task(engine, decision.case_cycle_id)
    store.dispose()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    names = {
        "cycle": str(cycle.id),
        "ref": cycle.ref,
        "task": str(task.id),
        "assignee": task.assignees[0],
        "decision": str(decision.id),
        "other_task": str(other[0]),
        "other_assignee": other[1],
    }
    return Prepared(path, names, sqlite_dump(path))


def _formless_task(engine: Engine, case_cycle: int | None) -> tuple[int, str]:
    assert case_cycle is not None, "Herrljunga runs the beslut process"
    found = tasks(engine, case_cycle)[0]
    return found.id, found.assignees[0]


def load_case(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return data


def alias_bomb(depth: int, width: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['x'] * width)}]"]
    for level in range(1, depth):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def make_file(path: Path, spec: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if "text" in spec:
        path.write_bytes(str(spec["text"]).encode())
    elif "hex" in spec:
        path.write_bytes(bytes.fromhex(str(spec["hex"])))
    elif "alias_bomb" in spec:
        path.write_text(alias_bomb(int(spec["alias_bomb"]), int(spec.get("width", 9))))
    elif "repeat" in spec:
        unit = str(spec["repeat"]).encode()
        size = int(spec["bytes"])
        with path.open("wb") as out:
            out.write((unit * (size // len(unit) + 1))[:size])
    else:
        raise ValueError(f"unknown file spec {spec}")


def argument(value: Any, names: Mapping[str, str]) -> str:
    if isinstance(value, Mapping):
        unit, chars = str(value["repeat"]), int(value["chars"])
        return (unit * (chars // len(unit) + 1))[:chars]
    text = str(value)
    for name, replacement in names.items():
        text = text.replace("{" + name + "}", replacement)
    return text


@pytest.mark.parametrize("case_file", sorted(CASES.glob("*.yaml")), ids=lambda p: p.stem)
def test_bad_input(case_file: Path, prepared: Prepared, tmp_path: Path) -> None:
    case = load_case(case_file)
    database = tmp_path / "tsk.db"
    shutil.copy(prepared.path, database)
    names = prepared.names | {"dir": str(tmp_path / "case")}
    (tmp_path / "case").mkdir()
    for name, spec in (case.get("files") or {}).items():
        make_file(tmp_path / "case" / name, spec)
    options = ["--db", argument(case.get("db", str(database)), names)]
    org = case.get("org", "herrljunga")
    if org is not None:
        options += ["--org", argument(org, names)]
    env: dict[str, str | None] = dict.fromkeys(UNSET) | {"TSK_NOW": NOW}
    env["TSK_LANG"] = str(case.get("lang", "en"))
    env |= {key: str(value) for key, value in (case.get("env") or {}).items()}
    args = [argument(value, names) for value in case["args"]]

    result = CliRunner(env=env).invoke(cli, [*options, *args])

    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{case['about']}: {result.exception!r}"
    )
    assert "Traceback" not in output
    assert "internal error" not in output, output
    assert "internt fel" not in output, output
    assert result.exit_code == case.get("exit", 1), (result.exit_code, output)
    assert result.stdout == "", result.stdout[:500]
    lines = result.stderr.splitlines()
    if result.exit_code == 2:
        error = [line for line in lines if line.startswith("tsk: ")]
        assert len(error) == 1, lines
        assert case["expect"] in error[0], lines
    else:
        assert 1 <= len(lines) <= case.get("lines", 1), lines
        assert all(len(line) < 2000 for line in lines)
        assert case["expect"] in result.stderr, lines
    assert sqlite_dump(database) == prepared.dump, "the database changed"


def test_there_are_at_least_a_hundred_cases() -> None:
    assert len(list(CASES.glob("*.yaml"))) >= 100


def test_text_people_write_is_kept_verbatim_and_harmless(store: Store) -> None:
    """HTML, script and line breaks in notes and titles are not errors: people may write them.
    They are kept as written, escaped in HTML mail, and kept out of mail headers."""
    from sqlalchemy import select

    from tsk_workflow.mail.message import build_email
    from tsk_workflow.mail.outbox import compose
    from tsk_workflow.store.models import Cycle, Decision, OutboxMessage

    world = herrljunga(store, START)
    engine = world.engine
    # Svenljunga too, for the cases that act there (a database may hold several).
    svenljunga = make_engine(store, "svenljunga", world.clock)
    setup.load_organisation(svenljunga, resolve_organisation_path("svenljunga"))
    script = "<script>alert('x')</script>\r\nBcc: alla@example.org"
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    decision, _route = Decisions(engine).propose(CHAIR, cycle, f"Lampor {script}", 1000)
    engine.close_cycle(CHAIR, cycle, script, force=True)
    with store.reading() as session:
        assert session.get(Cycle, cycle).close_note == script  # type: ignore[union-attr]
        title = session.scalars(select(Decision.title).where(Decision.id == decision.id)).one()
        rows = list(
            session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.template.in_(["cycle_closed", "decision_routed"])
                )
            )
        )
    assert "\n" not in title
    assert "\r" not in title
    assert {row.template for row in rows} == {"cycle_closed", "decision_routed"}
    for row in rows:
        mail = build_email(compose(row, engine.org, engine.org.mail.sender))
        html = mail.get_body(("html",))
        assert html is not None
        assert "<script>" not in html.get_content()
        assert "Bcc" not in {key for key, _value in mail.items() if key != "Subject"}
        assert "\n" not in str(mail["Subject"])
        assert mail.get_all("Bcc") is None
    closed = next(row for row in rows if row.template == "cycle_closed")
    content = build_email(compose(closed, engine.org, engine.org.mail.sender)).get_body(("html",))
    assert content is not None
    assert "&lt;script&gt;" in content.get_content()
