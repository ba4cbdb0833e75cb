"""Every command that writes a file for people (``tsk_workflow.files``): the file is made 0600
whatever the umask, never written through a symbolic link (a dangling one included), and a file
that is there is written over only with ``--force``."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tsk_workflow.cli import cli

CHAIR = "jessica.wahlstrom"
ENV: dict[str, str | None] = {
    "TSK_DATABASE_URL": None,
    "TSK_ORG": None,
    "TSK_USER": None,
    "TSK_URL": None,
    "TSK_LANG": "en",
    "TSK_NOW": "2027-03-02T09:00",
}
COMMANDS = {
    "backup": ("backup", "{out}"),
    "report": ("report", "yearly", "2027", "--out", "{out}"),
    "lagesbild": ("lagesbild", "est-2027-03", "--out", "{out}"),
    "plan": ("plan", "2027", "--ics", "{out}"),
    "form": ("task", "form", "{task}", "--template", "{out}"),
}


@pytest.fixture(autouse=True)
def lenient_umask() -> Iterator[None]:
    """The usual umask (022), which would leave a file readable by everyone."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Herrljunga on virtual time with March's EST cycle; the id of one of its tasks."""
    path = tmp_path_factory.mktemp("out") / "tsk.db"
    assert tsk(path, "init", "--virtual-time").exit_code == 0
    opened = tsk(path, "cycle", "open", "est", "--period", "2027-03")
    assert opened.exit_code == 0, opened.output
    tasks = json.loads(tsk(path, "task", "list", "--json").stdout)
    return path, str(tasks[0]["id"])


def tsk(database: Path, *args: str) -> Result:
    options = ["--db", str(database), "--org", "herrljunga", "--as", CHAIR]
    return CliRunner(env=ENV).invoke(cli, [*options, *args])


def write(database: tuple[Path, str], command: str, out: Path, *more: str) -> Result:
    path, task = database
    args = [word.format(out=out, task=task) for word in COMMANDS[command]]
    return tsk(path, *args, *more)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_file_is_private_and_kept_unless_forced(
    database: tuple[Path, str], command: str, tmp_path: Path
) -> None:
    out = tmp_path / "out.file"

    made = write(database, command, out)

    assert made.exit_code == 0, made.output
    assert mode(out) == 0o600
    out.write_bytes(b"kept")
    out.chmod(0o644)
    again = write(database, command, out)
    assert (again.exit_code, again.stdout) == (1, "")
    assert again.stderr == f"tsk: {out} is there already: give --force to write over it\n"
    assert out.read_bytes() == b"kept"
    forced = write(database, command, out, "--force")
    assert forced.exit_code == 0, forced.output
    assert out.read_bytes() != b"kept"
    assert mode(out) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out.file"]  # no temporary file left


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("dangling", [False, True], ids=["link", "dangling link"])
def test_no_file_is_written_through_a_symbolic_link(
    database: tuple[Path, str], command: str, dangling: bool, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    if not dangling:
        elsewhere.write_bytes(b"untouched")
    link = tmp_path / "link.file"
    link.symlink_to(elsewhere)

    for more in ((), ("--force",)):
        result = write(database, command, link, *more)

        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == f"tsk: {link} is a symbolic link: tsk does not write through one\n"
    assert link.is_symlink()
    if dangling:
        assert not elsewhere.exists()
    else:
        assert elsewhere.read_bytes() == b"untouched"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_folder_or_a_missing_folder_is_one_line(
    database: tuple[Path, str], command: str, tmp_path: Path
) -> None:
    folder = write(database, command, tmp_path, "--force")
    missing = write(database, command, tmp_path / "no" / "x.file")

    assert folder.stderr == f"tsk: {tmp_path} is a folder: give the name of a file\n"
    assert missing.stderr == (
        f"tsk: {tmp_path / 'no'} is not a folder: the file cannot be written there\n"
    )
    assert (folder.exit_code, missing.exit_code) == (1, 1)
