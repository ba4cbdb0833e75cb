"""A plain (non-editable) install into a fresh virtual environment finds what it ships."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

# Many processes or much CPU at once: under pytest-xdist these share one worker, one at a
# time (--dist loadgroup), so that they do not starve each other or PostgreSQL's connections.
pytestmark = pytest.mark.xdist_group("processes")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def installed_tsk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tsk`` from a wheel built from this checkout, in a new venv."""
    base = tmp_path_factory.mktemp("wheel")
    venv.create(base / "venv", with_pip=True)
    python = base / "venv" / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT)],
        check=True,
        cwd=base,
    )
    return base / "venv" / "bin" / "tsk"


def run(tsk: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Run from a folder that is not the checkout, so nothing is found by accident.
    return subprocess.run([str(tsk), *args], capture_output=True, text=True, cwd=tsk.parent.parent)


@pytest.mark.slow
def test_wheel_finds_shipped_processes(installed_tsk: Path) -> None:
    result = run(installed_tsk, "process", "list", "--json")
    assert result.returncode == 0, result.stderr
    keys = {row["key"] for row in json.loads(result.stdout)}
    assert "est" in keys


@pytest.mark.slow
def test_wheel_validates_everything_shipped(installed_tsk: Path) -> None:
    result = run(installed_tsk, "process", "validate")
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_wheel_is_not_the_checkout(installed_tsk: Path) -> None:
    code = "import tsk_workflow, sys; print(tsk_workflow.__file__)"
    python = installed_tsk.parent / "python"
    result = subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=installed_tsk.parent,
    )
    assert str(ROOT) not in result.stdout
    assert sys.prefix not in result.stdout


@pytest.mark.slow
def test_wheel_runs_the_demo(installed_tsk: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run(
        installed_tsk,
        "demo",
        "--municipality",
        "tingsryd",
        "--year",
        "2027",
        "--out",
        str(out),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["audit"]["ok"]
    assert summary["mails_delivered"] > 0
    assert (out / "tsk.db").is_file()
    assert any((out / "maildir" / "new").iterdir())
    # The shipped templates and the compiled catalogue: each reader's mail in their language.
    texts = {}
    for path in (out / "maildir" / "new").iterdir():
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        body = message.get_body(("plain",))
        assert isinstance(body, EmailMessage)
        texts[str(message["To"])] = str(body.get_content())
    english = [t for to, t in texts.items() if "sarah.mitchell@" in to]  # language: en
    swedish = [t for to, t in texts.items() if "sarah.mitchell@" not in to]
    assert english
    assert all(t.startswith("Hello Sarah Mitchell,\n") for t in english)
    assert swedish
    assert all(t.startswith("Hej ") for t in swedish)
    assert all("Automatiskt meddelande från trygghetsarbetet i" in t for t in swedish)


def test_wheel_carries_the_compiled_catalogue(installed_tsk: Path) -> None:
    """The Swedish catalogue is compiled into the wheel (hatch_build.py), and the installed
    command speaks Swedish by default and English when asked."""
    python = installed_tsk.parent / "python"
    found = subprocess.run(
        [
            str(python),
            "-c",
            "from tsk_workflow import i18n; print(i18n.catalogue_path('sv', '.mo'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=installed_tsk.parent,
    )
    compiled = Path(found.stdout.strip())
    assert compiled.is_file(), compiled
    assert not compiled.with_suffix(".po").exists()  # the wheel has what it needs compiled
    swedish = run(installed_tsk, "plan", "--help")
    english = run(installed_tsk, "--lang", "en", "plan", "--help")
    assert "Användning:" in swedish.stdout, swedish.stdout
    assert "Usage:" in english.stdout, english.stdout


def test_wheel_carries_the_pages_static_files(installed_tsk: Path) -> None:
    """The templates, the style sheet and the vendored libraries (VENDORED.json and every file
    it lists) are in the wheel: the service's pages need no build step and no checkout."""
    python = installed_tsk.parent / "python"
    found = subprocess.run(
        [
            str(python),
            "-c",
            "import tsk_workflow.web, pathlib; print(pathlib.Path(tsk_workflow.web.__file__).parent)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=installed_tsk.parent,
    )
    web = Path(found.stdout.strip())
    assert str(ROOT) not in str(web)
    assert (web / "templates" / "base.html.j2").is_file()
    assert (web / "static" / "style.css").is_file()
    record = json.loads((web / "static" / "vendor" / "VENDORED.json").read_text(encoding="utf-8"))
    files = [file["path"] for entry in record["packages"] for file in entry["files"]]
    assert "htmx/htmx.min.js" in files
    missing = [path for path in files if not (web / "static" / "vendor" / path).is_file()]
    assert not missing
