"""``tsk demo`` runs each seed municipality's year through the real paths and shows its own
processes."""

from __future__ import annotations

import json
import mailbox
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tsk_workflow.cli import cli
from tsk_workflow.store.database import Store

YEAR = "2027"

# One worker runs this module under pytest-xdist (--dist loadgroup): its fixture, four whole
# demo years, is made once, not once on each worker.
pytestmark = pytest.mark.xdist_group("demo")


def run_demo(runner: CliRunner, municipality: str, out: Path) -> dict[str, Any]:
    args = ["demo", "--municipality", municipality, "--year", YEAR, "--out", str(out), "--json"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    runner = CliRunner(env={"TSK_DATABASE_URL": None, "TSK_ORG": None})
    base = tmp_path_factory.mktemp("demo")
    names = ("herrljunga", "svenljunga", "tranemo", "tingsryd")
    return {name: run_demo(runner, name, base / name) for name in names}


@pytest.mark.slow
@pytest.mark.parametrize("municipality", ["herrljunga", "svenljunga", "tranemo", "tingsryd"])
def test_demo_year_ends_verified(demos: dict[str, dict[str, Any]], municipality: str) -> None:
    summary = demos[municipality]
    assert summary["audit"]["ok"], summary["audit"]
    assert summary["audit"]["events"] > 20
    assert summary["mails_delivered"] > 20
    assert sum(summary["mails_per_role"].values()) == summary["mails_delivered"]
    out = Path(summary["out"])
    assert (out / "tsk.db").is_file()
    assert len(mailbox.Maildir(str(out / "maildir"), create=False)) == summary["mails_delivered"]
    assert Path(summary["calendar"]).read_bytes().startswith(b"BEGIN:VCALENDAR")


@pytest.mark.slow
def test_herrljunga_runs_est_except_july_and_december(demos: dict[str, dict[str, Any]]) -> None:
    summary = demos["herrljunga"]
    assert summary["cycles"]["est"]["opened"] == 10
    assert summary["tasks"]["done_late"] > 0, "some reporters are late"
    assert summary["escalations"] > 0
    assert summary["reminders"] > 0
    assert set(summary["decisions"]) == {"klg", "ks", "styrgrupp"}


@pytest.mark.slow
def test_herrljungas_year_keeps_the_action_register_and_ends_with_the_law(
    demos: dict[str, dict[str, Any]],
) -> None:
    """The demo year creates actions, follows them up, adopts an åtgärdsplan and ends with a
    compliance view that reads true of what it did."""
    summary = demos["herrljunga"]
    actions = summary["actions"]
    assert actions["added"] >= 5
    assert actions["done"] >= 3
    assert actions["followups"] >= actions["done"]
    assert actions["reminders"] > 0
    assert actions["overdue_notices"] > 0, "some owners are late"
    plan = summary["plan"]
    assert plan is not None
    assert (plan["body"], plan["status"], plan["in_force"]) == ("styrgrupp", "approved", True)
    view = {item["key"]: item for item in summary["compliance"]["items"]}
    assert summary["compliance"]["date"] == f"{YEAR}-12-31"
    assert view["lagesbild"]["level"] == "green", "the strategic lägesbild of the autumn"
    assert view["lagesbild"]["details"]["sections"] == {
        "kartlaggning": True,
        "ovrig_information": True,
        "analys": True,
    }
    assert view["samordningsfunktion"]["level"] == "green"
    assert view["atgardsplan"]["details"]["version"] == plan["version"]
    overdue = view["forsenade"]
    assert (overdue["level"] == "green") == (actions["overdue"] == 0)


@pytest.mark.slow
def test_the_demo_writes_the_yearly_report_beside_its_calendar(
    demos: dict[str, dict[str, Any]],
) -> None:
    """``arsrapport-herrljunga-2027.docx`` and ``.pdf``, opened: the year's record in them."""
    from tests.test_reports import SECTIONS_SV, docx_headings, docx_tables, pdf_text

    summary = demos["herrljunga"]
    docx_path, pdf_path = (Path(p) for p in summary["reports"])
    assert docx_path.parent == Path(summary["calendar"]).parent
    assert (docx_path.name, pdf_path.name) == (
        f"arsrapport-herrljunga-{YEAR}.docx",
        f"arsrapport-herrljunga-{YEAR}.pdf",
    )
    content = docx_path.read_bytes()
    sections = [text for style, text in docx_headings(content) if style == "Heading 1"]
    assert sections == [*SECTIONS_SV, "Planerat för 2028"]
    tables = docx_tables(content)
    est = next(r for r in tables[f"Cykler som öppnades {YEAR}, per process"] if "EST" in r[0])
    assert int(est[1]) == summary["cycles"]["est"]["opened"]
    register = tables[f"Åtgärdsregistret {YEAR}"]
    assert len(register) - 1 == summary["actions"]["added"]
    law = tables["Lagens krav"]
    assert {row[0] for row in law[1:]} == {item["title"] for item in summary["compliance"]["items"]}
    text = " ".join(pdf_text(pdf_path.read_bytes()).split())
    for heading in SECTIONS_SV:
        assert heading in text
    assert f"Kommunens läge vid slutet av {YEAR}." in text


@pytest.mark.slow
def test_each_municipality_shows_its_own_processes(demos: dict[str, dict[str, Any]]) -> None:
    assert demos["svenljunga"]["cycles"]["traffpunkt"]["opened"] == 5, "one per Träffpunkt area"
    assert demos["tranemo"]["cycles"]["trygghetsvandring"]["opened"] == 4, "four walks a year"
    assert "trygghetsmote" in demos["tranemo"]["cycles"], "a walk leads to a trygghetsmöte"
    samverkan = demos["tingsryd"]["cycles"]["samverkan"]
    assert samverkan["closed"] >= 1
    assert samverkan["opened"] == samverkan["closed"] + 1, "a closed turn starts the next"


def test_demo_refuses_an_existing_database(tmp_path: Path) -> None:
    (tmp_path / "tsk.db").write_bytes(b"")
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path), "--year", YEAR])
    assert result.exit_code == 1
    assert result.stderr == (
        f"tsk: {tmp_path / 'tsk.db'} finns redan: ange en annan --out eller ta bort den"
        " (inget har startats)\n"
    )
    assert "%|" not in result.stderr, "no progress bar before the refusal"


@pytest.mark.postgres
def test_the_demo_runs_on_the_postgresql_database_given(
    make_store: Callable[..., Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``tsk --db postgresql+psycopg://... demo`` once wrote ``OUT/tsk.db`` and left the
    database given empty. It runs there, and refuses to run twice on it."""
    from sqlalchemy import func, select

    from tsk_workflow.store.models import Cycle

    monkeypatch.chdir(tmp_path)
    store = make_store("postgresql", migrated=False)
    runner = CliRunner(env={"TSK_DATABASE_URL": None, "TSK_ORG": None})
    args = ["--db", str(store.url), "demo", "--year", YEAR, "--until", "2027-01-20"]
    result = runner.invoke(cli, [*args, "--out", "demo", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["cycles"]["est"]["opened"] == 1
    with store.reading() as session:
        assert session.scalar(select(func.count()).select_from(Cycle)) == 1
    assert not (tmp_path / "demo" / "tsk.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]
    again = runner.invoke(cli, [*args, "--out", "again"])
    assert again.exit_code == 1
    assert again.stderr.startswith("tsk: databasen postgresql+psycopg://")
    assert "används redan: demot börjar med en tom databas" in again.stderr
    assert not (tmp_path / "again").exists()


def test_demo_refuses_what_is_in_the_way_before_it_starts(tmp_path: Path) -> None:
    """The refusal comes before the progress bar, and nothing is made."""
    (tmp_path / "maildir").mkdir()
    result = CliRunner().invoke(
        cli, ["--lang", "en", "demo", "--out", str(tmp_path), "--year", YEAR]
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"tsk: {tmp_path / 'maildir'} already exists: give another --out or remove it"
        " (nothing was started)\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["maildir"]


def test_the_demo_writes_the_sqlite_file_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--db FILE`` is the demo's database too; its folder gets no ``tsk.db``."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(env={"TSK_DATABASE_URL": None, "TSK_ORG": None})
    args = ["--db", "mine.db", "demo", "--year", YEAR, "--until", "2027-01-05", "--out", "d"]
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["database"] == "mine.db"
    assert (tmp_path / "mine.db").is_file()
    assert not (tmp_path / "d" / "tsk.db").exists()
    listed = runner.invoke(cli, ["--db", "mine.db", "--org", "herrljunga", "cycle", "list"])
    assert "est-2027-01" in listed.stdout
