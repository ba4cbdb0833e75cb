"""What keeps ``tsk`` start-up small prints exactly what click would: the top-level help
printed without importing click (``cli/quickhelp.py``), and ``task list --json`` written by
orjson (``cli/context.emit_plain_json``)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from tsk_workflow.cli import app, context, main, quickhelp
from tsk_workflow.cli.context import emit_json, emit_plain_json
from tsk_workflow.store.database import Store

HELP_FORMS = [[], ["--help"], ["-h"]]
TSK = str(Path(sys.executable).with_name("tsk"))


def ended(call: Any, capsys: pytest.CaptureFixture[str]) -> tuple[object, str, str]:
    """The exit code, stdout and stderr of ``call()``, which ends as click's standalone mode
    does (``SystemExit``)."""
    with pytest.raises(SystemExit) as exit_:
        call()
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default width (80 columns, as on a pipe), and no shell completion asked for."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("_TSK_COMPLETE", raising=False)


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("args", HELP_FORMS, ids=["no-args", "--help", "-h"])
@pytest.mark.usefixtures("wide")
def test_the_quick_help_is_what_click_prints(
    args: list[str], lang: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TSK_LANG", lang)
    by_click = ended(lambda: app.cli.main(args=list(args), prog_name="tsk"), capsys)
    assert quickhelp.quick_help(list(args)) is not None  # the fast path, not click
    capsys.readouterr()
    quick = ended(lambda: main(list(args)), capsys)
    assert quick == by_click, (
        f"cli/quickhelp.py HELP[{lang!r}] differs from click's rendering; paste this there:\n"
        + (by_click[1] or by_click[2])
    )
    assert by_click[0] == (0 if args else 2)


@pytest.mark.parametrize(
    "args",
    [["--help", "task"], ["task"], ["task", "--help"], ["--version"], ["-h", "-h"], ["--db", "x"]],
)
@pytest.mark.usefixtures("wide")
def test_anything_else_goes_to_click(args: list[str]) -> None:
    assert quickhelp.quick_help(args) is None


@pytest.mark.parametrize("columns", ["79", "60"])
def test_a_narrow_terminal_goes_to_click(columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    assert quickhelp.quick_help(["--help"]) is None


@pytest.mark.usefixtures("wide")
def test_shell_completion_goes_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_TSK_COMPLETE", "bash_source")
    assert quickhelp.quick_help([]) is None
    assert quickhelp.quick_help(["--help"]) is None


@pytest.mark.usefixtures("wide")
def test_an_output_that_is_not_utf8_goes_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="latin-1"))
    assert quickhelp.quick_help(["--help"]) is None


def run(code: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "_TSK_COMPLETE"}}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, env=env, check=False
    )


@pytest.mark.parametrize("args", HELP_FORMS, ids=["no-args", "--help", "-h"])
def test_the_console_script_prints_clicks_help_without_importing_click(args: list[str]) -> None:
    by_click = run(
        "import sys; from tsk_workflow.cli.app import cli; cli.main(sys.argv[1:], prog_name='tsk')",
        *args,
    )
    quick = subprocess.run([TSK, *args], capture_output=True, check=False)
    assert (quick.returncode, quick.stdout, quick.stderr) == (
        by_click.returncode,
        by_click.stdout,
        by_click.stderr,
    )
    imported = run(
        "import sys\nfrom tsk_workflow.cli import main\ntry:\n    main(sys.argv[1:])\n"
        "finally:\n    print('click' in sys.modules, file=sys.stderr)",
        *args,
    )
    assert imported.stderr.splitlines()[-1] == b"False"


def test_the_click_group_is_still_reachable_from_the_package() -> None:
    import tsk_workflow.cli as package

    assert package.cli is app.cli
    assert isinstance(package.cli, click.Group)
    with pytest.raises(AttributeError):
        _ = package.no_such_thing


PLAIN_VALUES = [
    [],
    {},
    [{}],
    [{"a": [], "b": {}, "c": None, "d": True, "e": False, "f": 0, "g": -(2**63), "h": 2**64 - 1}],
    [{"text": "".join(chr(i) for i in range(0x80)) + 'åäö \u2028\u2029\u0085 😀 \ufeff \\"/'}],
    [{"nested": [["x", 1], {"y": [None]}]}],
    "alone",
    None,
]


@pytest.mark.parametrize("value", PLAIN_VALUES)
def test_plain_json_is_what_emit_json_writes(
    value: Any, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    emit_json(value)
    expected = capsysbinary.readouterr().out
    emit_plain_json(value)
    assert capsysbinary.readouterr().out == expected


@pytest.mark.parametrize(
    "value",
    [["lone \udc80 surrogate"], [2**64], [-(2**63) - 1], {1: "a key that is not text"}],
)
def test_what_orjson_refuses_goes_the_usual_way(
    value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    given: list[Any] = []
    monkeypatch.setattr(context, "emit_json", given.append)
    emit_plain_json(value)
    assert given == [value]


def test_plain_json_on_an_output_that_is_not_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = []
    for emit in (emit_json, emit_plain_json):
        stream = io.TextIOWrapper(io.BytesIO(), encoding="latin-1", errors="replace")
        monkeypatch.setattr(sys, "stdout", stream)
        emit([{"title": "Lägesbild – vecka 9", "n": 1}])
        stream.flush()
        outputs.append(stream.buffer.getvalue())  # type: ignore[attr-defined]
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("command", ["tick", "run"])
def test_the_batch_default_is_the_tickers(command: str) -> None:
    """The commands cannot import the ticker to read its default (start-up), so they repeat it."""
    from tsk_workflow.engine.ticker import BATCH

    found = app.cli.get_command(click.Context(app.cli), command)
    assert found is not None
    batch = next(p for p in found.params if p.name == "batch")
    assert batch.default == BATCH


def test_task_list_of_a_loaded_municipality_reads_no_definitions(
    make_store: Callable[..., Store], runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path of ``task list`` (benchmark 5b): neither the definitions, the
    organisation's model nor pydantic are imported."""
    from tests.enginekit import Clock, Tsk, local

    store = make_store("sqlite")  # start-up is measured on SQLite
    Tsk(runner, store, "herrljunga", Clock(local(2027, 3, 1)), monkeypatch).ok("init")
    env = {**os.environ, "TSK_DATABASE_URL": store.url, "TSK_ORG": "herrljunga"}
    code = (
        "import sys\nfrom tsk_workflow.cli import main\ntry:\n    main(['task', 'list', '--json'])\n"
        "finally:\n    print(sorted(m for m in ('tsk_workflow.catalog', 'pydantic',"
        " 'ruamel.yaml') if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().splitlines()[-1] == "[]"


def test_a_command_on_a_database_loads_neither_httpx_nor_the_service(
    make_store: Callable[..., Store], runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client of the service (``cli/client.py``) costs a command on a database nothing:
    deciding where the command goes reads the environment and looks for the token file."""
    from tests.enginekit import Clock, Tsk, local

    store = make_store("sqlite")
    Tsk(runner, store, "herrljunga", Clock(local(2027, 3, 1)), monkeypatch).ok("init")
    env = {**os.environ, "TSK_DATABASE_URL": store.url, "TSK_ORG": "herrljunga"}
    code = (
        "import sys\nfrom tsk_workflow.cli import main\ntry:\n    main(['task', 'list', '--json'])\n"
        "finally:\n    print(sorted(m for m in ('httpx', 'tsk_workflow.web', 'fastapi')"
        " if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().splitlines()[-1] == "[]"
