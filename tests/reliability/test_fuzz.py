"""Fuzzing with Hypothesis: generated YAML, process definitions, organisation files and command
lines. The loader (``read_text``, ``validate_files``, ``load_organisation``) and the CLI never
raise anything but their own clear errors: a ``ReadError`` or a list of problems, a ``TskError``,
exit codes 0, 1 or 2, and never a traceback.

Example counts are modest (``EXAMPLES``, 200 by default; ``TSK_FUZZ_EXAMPLES`` for more) and the
database is generated once, so the suite stays fast.
"""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from tests.conftest import REPO
from tests.enginekit import tasks
from tests.reliability.kit import CHAIR, START, herrljunga, iso
from tsk_workflow.catalog import load_catalog, load_organisation, validate_files
from tsk_workflow.cli import cli
from tsk_workflow.definitions.reader import Problem, ReadError, read_text
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.errors import TskError
from tsk_workflow.store.database import Store

EXAMPLES = int(os.environ.get("TSK_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
GOOD = REPO / "tests" / "corpus" / "good"
PROCESS = YAML(typ="safe").load((GOOD / "minimal.yaml").read_text(encoding="utf-8"))
ORGANISATION = YAML(typ="safe").load((GOOD / "exempelby.yaml").read_text(encoding="utf-8"))

# ---------------------------------------------------------------- values and documents

WORDS = st.sampled_from(
    [
        "klar",
        "start",
        "chair",
        "handlaggare",
        "5wd",
        "P1M",
        "PT2H",
        "est",
        "anna",
        "bo",
        "monthly",
        "manual",
        "2027-02-30",
        "2027-03-01",
        "centrum",
        "ks",
        "klg",
        "gor",
        "avsluta",
        "task_assigned",
        "../../etc/passwd",
        "<script>",
        "a\nb",
        "",
        " ",
        "*",
        "&a",
        "!!python",
    ]
)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(), TEXT, WORDS
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT | WORDS, inner, max_size=4),
    max_leaves=12,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    """``base`` with a few values replaced, removed or added at random places."""
    document = copy.deepcopy(base)
    places = [p for p in paths(document) if p]
    for _ in range(draw(st.integers(1, 4))):
        place = draw(st.sampled_from(places))
        parent: Any = document
        try:
            for step in place[:-1]:
                parent = parent[step]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[place[-1]] = draw(VALUES)
            elif action == "delete":
                del parent[place[-1]]
            elif isinstance(parent, dict):
                parent[draw(TEXT | WORDS)] = draw(VALUES)
            elif isinstance(parent, list):
                parent.append(draw(VALUES))
        except (KeyError, IndexError, TypeError):
            continue
    return document


def as_yaml(value: Any, style: str) -> str:
    if style == "json":
        return json.dumps(value, ensure_ascii=False)
    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = style == "flow"
    yaml.dump(value, out)
    return out.getvalue()


STYLES = st.sampled_from(["block", "flow", "json"])

# ---------------------------------------------------------------- the loader


@FUZZ
@given(text=st.one_of(TEXT, st.text(max_size=300), VALUES.map(lambda v: as_yaml(v, "block"))))
def test_read_text_returns_a_document_or_a_read_error(text: str) -> None:
    try:
        document = read_text(text, "fuzz.yaml")
    except ReadError as exc:
        problem: Problem | None = exc.problem
        message = str(exc)
    else:
        assert isinstance(document.data, dict)
        return
    assert isinstance(problem, Problem)
    assert message.startswith("fuzz.yaml:")


@FUZZ
@given(document=mutated(PROCESS), style=STYLES)
def test_validating_generated_definitions_only_reports_problems(
    document: Any, style: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("process")
    path = folder / "minimal.yaml"
    path.write_text(as_yaml(document, style), encoding="utf-8")
    problems = validate_files([path])
    assert all(isinstance(problem, Problem) for problem in problems)
    shutil.rmtree(folder)


@FUZZ
@given(document=mutated(ORGANISATION), style=STYLES)
def test_loading_generated_organisations_only_raises_tsk_errors(
    document: Any, style: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("org")
    path = folder / "exempelby.yaml"
    path.write_text(as_yaml(document, style), encoding="utf-8")
    problems = validate_files([path])
    assert all(isinstance(problem, Problem) for problem in problems)
    try:
        load_organisation(str(path), load_catalog())
    except TskError as exc:
        message = str(exc)
    else:
        message = ""
        assert not problems, problems  # what loads, validates
    assert message or not problems
    shutil.rmtree(folder)


@FUZZ
@given(raw=st.binary(max_size=400))
def test_validating_arbitrary_bytes_only_reports_problems(
    raw: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("bytes")
    path = folder / "minimal.yaml"
    path.write_bytes(raw)
    assert all(isinstance(problem, Problem) for problem in validate_files([path]))
    shutil.rmtree(folder)


# ---------------------------------------------------------------- the command line

PEOPLE = st.sampled_from(
    [CHAIR, "hanna.nyberg", "sofie.ahlin", "marie.lind", "johanna.falk", "okand", "tsk", ""]
)
ARGS = st.one_of(
    TEXT,
    st.sampled_from(
        [
            "est",
            "sspf",
            "sammanstall",
            "analysera",
            "1",
            "2",
            "3",
            "0",
            "-1",
            "6",
            "99999999999999999999",
            "est-2027-03",
            "2027-03",
            "2027-02-30",
            "§ 1",
            "klg",
            "ks",
            "approved",
            "postponed",
            "nan",
            "1e309",
            "-5",
            "../x",
            "'; DROP TABLE cycles; --",
            "--json",
            "--note",
            "--force",
            "--title",
            "--cost",
            "--period",
            "--help",
        ]
    ),
)
NOW = st.datetimes(
    min_value=START.replace(tzinfo=None), max_value=START.replace(tzinfo=None, month=12)
).map(lambda moment: moment.isoformat())
COMMANDS = st.one_of(
    st.tuples(st.just(("cycle", "open")), st.lists(ARGS, max_size=4)),
    st.tuples(st.just(("cycle", "advance")), st.lists(ARGS, max_size=4)),
    st.tuples(st.just(("cycle", "close")), st.lists(ARGS, max_size=4)),
    st.tuples(st.just(("cycle", "show")), st.lists(ARGS, max_size=2)),
    st.tuples(st.just(("cycle", "list")), st.lists(ARGS, max_size=3)),
    st.tuples(st.just(("task", "done")), st.lists(ARGS, max_size=5)),
    st.tuples(st.just(("task", "list")), st.lists(ARGS, max_size=2)),
    st.tuples(st.just(("task", "form")), st.lists(ARGS, max_size=2)),
    st.tuples(st.just(("decision", "propose")), st.lists(ARGS, max_size=6)),
    st.tuples(st.just(("decision", "record")), st.lists(ARGS, max_size=10)),
    st.tuples(st.just(("audit",)), st.lists(ARGS, max_size=3)),
    st.tuples(st.just(("audit", "verify")), st.lists(ARGS, max_size=1)),
    st.tuples(st.just(("process", "show")), st.lists(ARGS, max_size=2)),
    st.tuples(st.just(("org", "show")), st.lists(ARGS, max_size=1)),
    st.tuples(st.just(("gdpr", "purge", "--before")), st.lists(ARGS, max_size=3)),
    st.tuples(st.just(("tick", "--no-send", "--now")), st.lists(NOW, min_size=1, max_size=1)),
    st.tuples(st.just(("plan",)), st.lists(ARGS, max_size=1)),
)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Herrljunga with an EST cycle, its tasks and a decision; the fuzzed commands change it."""
    path = tmp_path_factory.mktemp("fuzz") / "tsk.db"
    store = Store(f"sqlite:///{path}")
    from tsk_workflow.store import migrate

    migrate.upgrade(store)
    world = herrljunga(store, START)
    cycle = world.engine.open_cycle(CHAIR, "est", "2027-03")
    assert tasks(world.engine, cycle.id)
    Decisions(world.engine).propose(CHAIR, cycle.id, "Belysning", 20_000)
    store.dispose()
    return str(path)


@FUZZ
@given(actor=PEOPLE, command=COMMANDS, lang=st.sampled_from(["sv", "en"]))
def test_the_cli_answers_every_command_line_clearly(
    database: str, actor: str, command: tuple[tuple[str, ...], list[str]], lang: str
) -> None:
    words, args = command
    env = {"TSK_NOW": iso(START), "TSK_DATABASE_URL": None, "TSK_USER": None, "TSK_ORG": None}
    options = ["--db", database, "--org", "herrljunga", "--lang", lang, "--as", actor]
    result = CliRunner(env=env).invoke(cli, [*options, *words, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        words,
        args,
        repr(result.exception),
    )
    assert result.exit_code in {0, 1, 2}, (words, args, result.output)
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        assert result.stderr.strip(), (words, args)
