"""Every command line in the README and in docs/ is run, so the docs cannot drift.

A ```` ```console ```` block holds commands (lines starting with ``$ ``) each followed by the
output people should expect. The test runs each command with bash in a fresh folder holding a
half-run demo year of Herrljunga (``demo/``, made by ``tsk demo --year 2027 --until 2027-03-09``:
``demo_folder`` in ``tests/conftest.py``),
commands of one file sharing that folder in order. Every expected line must appear in the
actual output, in order; ``...`` stands for any lines. A command expected to fail ends in
``# exit N``. ``$ export NAME=value`` sets a variable for the file's later commands.

The README's two ```` ```sh ```` setup commands are run elsewhere: the test command by CI
itself (``.ci/run``), the main job's install-and-demo by ``tests/test_packaging.py`` (a wheel in a
fresh venv running ``tsk demo``).

Every other block that shows commands or what they print (```` ```text ````, ```` ```sh ````, or
no language) says, on the line before it, why it cannot be run here: ``<!-- not run: REASON -->``
(a real SMTP server, another machine, a file of the reader's). A mail is shown as the output of
``tsk mail show`` in a console block, so it is compared with a real one like any output. Blocks of
input (``yaml``, ``json``, ``sql``, ``ini``, ``cron``) are not output and need neither.

``TSK_DOCS_UPDATE=1 pytest tests/test_docs.py`` rewrites each block's output from a real run
(first ``MAX_LINES`` lines, or as many as a longer output written out whole, such as the mail in
``docs/mail.md``, has); read the diff before committing it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import command_environment

ROOT = Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)
EXIT = re.compile(r"\s+# exit (\d+)$")
MAX_LINES = 12
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
SHOWN = {"", "text", "sh"}
"""The languages of blocks that show commands or output without being run as ``console``."""
MARKER = re.compile(r"<!-- (not run: (?P<reason>.+?)) -->\n$")
UPDATE = os.environ.get("TSK_DOCS_UPDATE") == "1"


@dataclass
class Command:
    line: str
    expected: list[str] = field(default_factory=list)

    @property
    def shell(self) -> str:
        return EXIT.sub("", self.line)

    @property
    def exit_code(self) -> int:
        found = EXIT.search(self.line)
        return int(found.group(1)) if found else 0


def commands(block: str) -> list[Command]:
    found: list[Command] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            found.append(Command(line[2:]))
        elif found:
            found[-1].expected.append(line)
    return found


def documented() -> list[tuple[Path, list[Command]]]:
    result = []
    for path in FILES:
        cmds = [
            c for block in BLOCK.findall(path.read_text(encoding="utf-8")) for c in commands(block)
        ]
        if cmds:
            result.append((path, cmds))
    return result


@pytest.fixture
def docs_pg_url(make_store: object) -> str:
    """``$PG_URL`` in the docs: an empty schema of the test PostgreSQL (skips as dbfixtures does)."""
    store = make_store("postgresql", migrated=False)  # type: ignore[operator]
    return str(store.url)


def environment() -> dict[str, str]:
    return command_environment() | {"COLUMNS": "100"}


def matches(expected: list[str], actual: list[str]) -> str | None:
    """None when every expected line appears in ``actual`` in order, else the first missing."""
    position = 0
    stripped = [line.rstrip() for line in actual]
    for line in expected:
        if line.strip() in {"", "..."}:
            continue
        try:
            position = stripped.index(line.rstrip(), position) + 1
        except ValueError:
            return line
    return None


def run_file(
    commands_of_file: list[Command], folder: Path, extra: dict[str, str]
) -> list[tuple[Command, int, list[str]]]:
    env = environment() | extra
    results = []
    for command in commands_of_file:
        if command.shell.startswith("export "):
            name, _, value = command.shell[len("export ") :].partition("=")
            env[name.strip()] = value.strip().strip("'\"")
            results.append((command, 0, []))
            continue
        done = subprocess.run(
            ["bash", "-c", command.shell],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        results.append((command, done.returncode, (done.stdout + done.stderr).splitlines()))
    return results


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "cmds"), documented(), ids=lambda v: v.name if isinstance(v, Path) else ""
)
def test_documented_commands(
    path: Path, cmds: list[Command], demo_folder: Path, tmp_path: Path, docs_pg_url: str
) -> None:
    shutil.copytree(demo_folder, tmp_path / "demo")
    results = run_file(cmds, tmp_path, {"PG_URL": docs_pg_url})
    if UPDATE:
        rewrite(path, results)
        return
    for command, code, output in results:
        shown = "\n".join(output[:40])
        assert code == command.exit_code, f"{path.name}: `{command.line}` exited {code}:\n{shown}"
        missing = matches(command.expected, output)
        assert missing is None, (
            f"{path.name}: `{command.line}` did not print {missing!r}; it printed:\n{shown}"
        )


def rewrite(path: Path, results: list[tuple[Command, int, list[str]]]) -> None:
    outputs = iter(results)

    def block(found: re.Match[str]) -> str:
        lines = []
        for command in commands(found.group(1)):
            _cmd, _code, output = next(outputs)
            # An output written out longer by hand (a whole mail) keeps its length.
            cut = command.expected[-1:] == ["..."] or len(command.expected) <= MAX_LINES
            limit = MAX_LINES if cut else len(command.expected)
            shown = output[:limit] + (["..."] if len(output) > limit else [])
            lines += [f"$ {command.line}", *shown]
        return "```console\n" + "\n".join(lines) + "\n```"

    path.write_text(BLOCK.sub(block, path.read_text(encoding="utf-8")), encoding="utf-8")


@dataclass
class Shown:
    """A fenced block that shows commands or output and is not a ``console`` block."""

    path: Path
    line: int
    text: str
    marker: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def shown_blocks() -> list[Shown]:
    found = []
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        for block in FENCE.finditer(text):
            if block.group(1) not in SHOWN:
                continue
            before = text[: block.start()]
            marker = MARKER.search(before)
            found.append(
                Shown(
                    path,
                    before.count("\n") + 1,
                    block.group(2),
                    marker.group(1) if marker else None,
                )
            )
    return found


def test_every_shown_block_is_run_or_says_why() -> None:
    """A block showing output that nothing compares drifts unseen (docs/mail.md once showed
    ``task done 33`` for Ida's task while the demo gave 34): each one is checked or says why
    it cannot be."""
    unmarked = [block.where for block in shown_blocks() if block.marker is None]
    assert unmarked == [], (
        "blocks neither run nor marked: make them ```console, or put"
        " '<!-- not run: REASON -->' on the line before:\n" + "\n".join(unmarked)
    )


def test_mails_shown_in_the_docs_are_run() -> None:
    """A mail in the docs is the output of a command in a console block (``tsk mail show``), so
    it is compared with a real one: docs/mail.md once showed Ida ``task done 33`` written by
    hand while the demo gave her task 34."""
    other_block = re.compile(r"```(?!console\n)[a-z]*\n(.*?)```", re.DOTALL)
    greeting = re.compile(r"^(Hej|Hello) .*[!,]$", re.MULTILINE)
    for path in FILES:
        for block in other_block.findall(path.read_text(encoding="utf-8")):
            assert not greeting.search(block), f"{path.name}: a mail written by hand: {block[:80]}"
    assert any(
        "mail show" in c.line for p, cmds in documented() for c in cmds if p.name == "mail.md"
    )
