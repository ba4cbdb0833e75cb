"""Fuzzing with Hypothesis: generated YAML, process definitions, organisation files and command
lines. The loader (``read_text``, ``validate_files``, ``load_organisation``) and the CLI never
raise anything but their own clear errors: a ``ReadError`` or a list of problems, a ``TskError``,
exit codes 0, 1 or 2, and never a traceback.

Then the limits: dates at the ends of what Python and tsk take (years 1, 1900, 9000, 9999, leap
days, offsets) given to every command that takes one, awkward paths (a missing folder, a dangling
symbolic link, a folder, no permission) to every command that reads or writes a file, and
database and service URLs. Each answers in one clean line (``clean``): never an internal error,
a traceback or SQL.

Example counts are modest (``EXAMPLES``, 200 by default, twice that for the dates: 2,000 in
all, about a minute; ``TSK_FUZZ_EXAMPLES`` for more) and the database is generated once, so the
suite stays fast.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
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


# ---------------------------------------------------------------- limits: dates, paths, URLs
# Every case answers in one clean line: exit 0, 1 or 2, never an internal error, a traceback or
# SQL text (``clean``).

YEARS = st.sampled_from([1, 2, 1899, 1900, 1901, 2027, 2028, 2100, 8999, 9000, 9001, 9998, 9999])
MONTH_DAYS = st.sampled_from(
    ["01-01", "02-28", "02-29", "02-30", "03-31", "06-31", "10-15", "12-31", "13-01", "00-10"]
)
CLOCK = st.sampled_from(["", "T00:00", "T23:59", "T23:59:59", "T02:30", "T24:00", "T12:00:00.5"])
OFFSETS = st.sampled_from(["", "", "Z", "+00:00", "+14:00", "-12:00", "+05:30", "-23:59"])
DAY = st.builds(lambda year, day: f"{year:04d}-{day}", YEARS, MONTH_DAYS)
MOMENT = st.builds(lambda day, time, zone: day + time + (zone if time else ""), DAY, CLOCK, OFFSETS)
MONTH = st.builds(
    lambda year, month: f"{year:04d}-{month}", YEARS, st.sampled_from(["01", "02", "12", "13"])
)
LIMIT_YEAR = YEARS.map(str)


def clean(result: Any, case: object) -> None:
    """``result`` is one clean answer: exit 0, 1 or 2 and no internal error, traceback or SQL."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        case,
        repr(result.exception),
    )
    assert result.exit_code in {0, 1, 2}, (case, result.output)
    for bad in ("Traceback", "internal error", "internt fel", "[SQL:", "SELECT "):
        assert bad not in result.output, (case, result.output)
    lines = result.stderr.splitlines()
    if result.exit_code == 1:
        assert len(lines) == 1, (case, result.stderr)
    elif result.exit_code == 2:  # click's usage line and hint, then the one error
        assert len([line for line in lines if line.startswith("tsk: ")]) == 1, (case, lines)


def invoke(database: str, args: list[str], env: dict[str, str | None] | None = None) -> Any:
    base: dict[str, str | None] = {
        "TSK_NOW": iso(START),
        "TSK_DATABASE_URL": None,
        "TSK_USER": None,
        "TSK_ORG": None,
        "TSK_URL": None,
        "TSK_LANG": "en",
    }
    options = ["--db", database, "--org", "herrljunga", "--as", CHAIR]
    return run_elsewhere(base | (env or {}), [*options, *args])


def run_elsewhere(env: dict[str, str | None], args: list[str]) -> Any:
    """``tsk args`` in a folder of its own: what a command writes by default, or reads as
    ``.`` (an empty path), is not the repository's."""
    folder = Path(tempfile.gettempdir()) / f"tsk-fuzz-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    with contextlib.chdir(folder):
        return CliRunner(env=env).invoke(cli, args)


DATED = st.one_of(
    st.tuples(
        st.just("TSK_NOW"),
        MOMENT,
        st.sampled_from(
            [
                ("cycle", "list"),
                ("task", "list"),
                ("init",),
                ("plan", "2027"),
                ("audit",),
                ("action", "list"),
                ("event", "list"),
            ]
        ),
    ),
    st.tuples(st.just(""), MOMENT, st.sampled_from([("audit", "--since"), ("audit", "--until")])),
    st.tuples(st.just(""), MOMENT, st.sampled_from([("mail", "digest", "--now")])),
    st.tuples(
        st.just(""),
        MOMENT,
        st.sampled_from(
            [
                ("tick", "--no-send", "--now"),
                ("tick", "--no-send", "--catch-up", "--batch", "1", "--now"),
            ]
        ),
    ),
    st.tuples(st.just(""), DAY, st.sampled_from([("gdpr", "purge", "--dry-run", "--before")])),
    st.tuples(
        st.just(""),
        DAY,
        st.just(
            (
                "decision",
                "record",
                "1",
                "--body",
                "klg",
                "--paragraph",
                "§ 1",
                "--outcome",
                "postponed",
                "--date",
            )
        ),
    ),
    st.tuples(
        st.just(""),
        MONTH,
        st.sampled_from([("cycle", "open", "est", "--period"), ("event", "list", "--month")]),
    ),
    st.tuples(
        st.just(""),
        LIMIT_YEAR,
        st.sampled_from([("plan",), ("report", "yearly", "--out", "/proc/version")]),
    ),
    st.tuples(
        st.just(""),
        DAY,
        st.just(("action", "add", "--title", "Belysning", "--owner", CHAIR, "--due")),
    ),
)


@settings(FUZZ, max_examples=2 * EXAMPLES)
@given(case=DATED)
def test_dates_at_the_limits_are_answered_clearly(
    database: str, case: tuple[str, str, tuple[str, ...]]
) -> None:
    variable, value, words = case
    if variable:
        result = invoke(database, list(words), {variable: value})
    else:
        result = invoke(database, [*words, value])
    clean(result, case)


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Paths of every awkward kind, by name (:func:`lay_out`)."""
    folder = tmp_path_factory.mktemp("places")
    lay_out(folder)
    return {
        "missing": str(folder / "no" / "such" / "x.db"),
        "dangling": str(folder / "dangling"),
        "link": str(folder / "link"),
        "folder": str(folder / "folder"),
        "closed": str(folder / "closed"),
        "readonly": "/proc/version",
        "there": str(folder / "there"),
        "empty": "",
    }


def lay_out(folder: Path) -> None:
    """In ``folder``, afresh: a folder, a dangling symbolic link, a link to a file that is
    there, a file nobody may read or write (root may: then ``/proc/version``, which nobody
    writes, stands for no permission)."""
    shutil.rmtree(folder)
    folder.mkdir()
    (folder / "folder").mkdir()
    (folder / "dangling").symlink_to(folder / "nowhere")
    (folder / "link").symlink_to(folder / "there")
    (folder / "there").write_text("x\n")
    (folder / "closed").write_text("x\n")
    (folder / "closed").chmod(0)


PATH_COMMANDS = st.sampled_from(
    [
        ("backup", "{}"),
        ("report", "lagesbild", "est-2027-03", "--out", "{}"),
        ("report", "yearly", "2027", "--template", "{}"),
        ("lagesbild", "est-2027-03", "--out", "{}"),
        ("lagesbild", "est-2027-03", "--stats", "{}"),
        ("plan", "2027", "--ics", "{}"),
        ("task", "form", "1", "--template", "{}"),
        ("task", "done", "1", "--answers", "{}"),
        ("cycle", "attach", "est-2027-03", "{}", "--kind", "protokoll"),
        ("audit", "verify", "--checkpoints", "{}", "--public-key", "{}"),
        ("audit", "keygen", "--out", "{}"),
        ("org", "load", "{}"),
        ("process", "validate", "{}"),
        ("--org", "{}", "cycle", "list"),
        ("--db", "{}", "cycle", "list"),
        ("--db", "{}", "backup", "{}"),
    ]
)
KINDS = st.sampled_from(
    ["missing", "dangling", "link", "folder", "closed", "readonly", "there", "empty"]
)


@FUZZ
@given(command=PATH_COMMANDS, kind=KINDS, force=st.booleans())
def test_awkward_paths_are_answered_clearly(
    database: str, places: dict[str, str], command: tuple[str, ...], kind: str, force: bool
) -> None:
    lay_out(Path(places["there"]).parent)
    args = [word.replace("{}", places[kind]) for word in command]
    if force and ("--out" in args or "--ics" in args or "form" in args or "backup" in args):
        args.append("--force")
    result = invoke(database, args)
    clean(result, (args, kind))
    assert not Path(places["dangling"]).resolve().exists(), "written through a dangling link"
    if kind == "link":
        assert Path(places["there"]).read_text() == "x\n", "written through a link"


URLS = st.sampled_from(
    [
        "sqlite:///{missing}",
        "sqlite:///{folder}",
        "sqlite:///{dangling}",
        "sqlite:///{readonly}",
        "sqlite:///{there}",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:x?mode=ro&uri=true",
        "mysql://127.0.0.1/x",
        "http://127.0.0.1:1/",
        "postgresql://127.0.0.1:1/test",
        "postgresql://127.0.0.1:99999/test",
        "postgresql://[::1/test",
        "postgresql://127.0.0.1:5432/tsk_fuzz_no_such_database",
        "postgresql://nobody:secret@127.0.0.1:5432/test?sslmode=bogus",
        "postgresql://127.0.0.1:5432/test?options=-csearch_path%3Dno_such_schema",
        "postgresql:///",
        "::",
        "",
    ]
)
SERVICE_URLS = st.sampled_from(
    [
        "http://127.0.0.1:1",
        "https://127.0.0.1:1/",
        "http://127.0.0.1:99999",
        "http://[::1",
        "ftp://127.0.0.1/",
        "not a url",
        "http://user:pw@127.0.0.1:1/",
        "http://",
        " ",
    ]
)
ENVIRONMENT_TEXT = TEXT.filter(lambda text: "\x00" not in text)  # no environment holds a NUL


def signed_in(home: Path, url: str) -> None:
    """A token kept in ``home`` (``XDG_CONFIG_HOME``) for the service at ``url``, as
    ``tsk login`` keeps one: the commands then go to that address."""
    from tsk_workflow.cli.client import Stored, normal_url, write_token

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(home))
        write_token(Stored(normal_url(url), "t" * 40, CHAIR, "herrljunga"))


URL_COMMANDS = st.sampled_from(
    [
        ("cycle", "list"),
        ("task", "list"),
        ("audit", "verify"),
        ("tick", "--no-send"),
        ("plan", "2027"),
        ("report", "yearly", "2027", "--out", "r.docx", "--force"),
        ("logout",),
    ]
)


@FUZZ
@given(url=URLS | TEXT, command=URL_COMMANDS)
def test_database_urls_are_answered_clearly(
    database: str, places: dict[str, str], url: str, command: tuple[str, ...]
) -> None:
    given_url = url
    for name, place in places.items():
        given_url = given_url.replace("{" + name + "}", place)
    env: dict[str, str | None] = {"TSK_DATABASE_URL": None, "TSK_URL": None}
    result = run_elsewhere(
        env | {"TSK_NOW": iso(START), "TSK_LANG": "en"},
        ["--db", given_url, "--org", "herrljunga", "--as", CHAIR, *command],
    )
    clean(result, (given_url, command))


@FUZZ
@given(url=SERVICE_URLS | ENVIRONMENT_TEXT, command=URL_COMMANDS, base=SERVICE_URLS)
def test_service_urls_are_answered_clearly(
    database: str,
    url: str,
    command: tuple[str, ...],
    base: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("home")
    signed_in(home, url)
    env: dict[str, str | None] = {
        "TSK_URL": url,
        "XDG_CONFIG_HOME": str(home),
        "TSK_BASE_URL": base,
        "TSK_SECRET_KEY": "k" * 40,
        "TSK_NOW": iso(START),
        "TSK_LANG": "en",
        "TSK_DATABASE_URL": None,
    }
    result = run_elsewhere(env, ["--org", "herrljunga", "--as", CHAIR, *command])
    clean(result, (url, base, command))
    with_db = invoke(
        database, ["tick", "--no-send"], {"TSK_BASE_URL": base, "TSK_SECRET_KEY": "k" * 40}
    )
    clean(with_db, (base, "tick"))
