"""``tsk demo`` runs each seed municipality's year through the real paths and shows its own
processes."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tsk_workflow.cli import cli

YEAR = "2027"


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
    assert set(summary["decisions"]) == {"klg", "ks"}


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
    assert "already exists" in result.output
