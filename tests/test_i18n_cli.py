"""The commands of the catalogue's CLI part speak the language asked for (issue 16): their help,
their fixed texts and the statuses and labels they print are Swedish by default and English with
``--lang en``, and ``--json`` keeps the keys. Names and other data are not translated."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner

from tsk_workflow import i18n
from tsk_workflow.cli import views
from tsk_workflow.cli.app import COMMANDS as COMMAND_MODULES
from tsk_workflow.cli.app import cli

COMMANDS = [
    ("process",),
    ("process", "list"),
    ("process", "show"),
    ("process", "validate"),
    ("process", "diagram"),
    ("process", "upgrade-cycles"),
    ("org",),
    ("org", "show"),
    ("org", "load"),
    ("org", "history"),
    ("org", "export"),
    ("decision",),
    ("decision", "propose"),
    ("decision", "record"),
    ("decision", "list"),
    ("init",),
    ("backup",),
    ("gdpr",),
    ("gdpr", "purge"),
    ("tick",),
    ("run",),
    ("plan",),
    ("lagesbild",),
    ("audit", "keygen"),
    ("audit", "checkpoint"),
    ("audit",),
    ("audit", "verify"),
    ("cycle",),
    ("cycle", "open"),
    ("cycle", "list"),
    ("cycle", "show"),
    ("cycle", "advance"),
    ("cycle", "next"),
    ("cycle", "close"),
    ("cycle", "attach"),
    ("cycle", "documents"),
    ("task",),
    ("task", "list"),
    ("task", "done"),
    ("task", "form"),
    ("mail",),
    ("mail", "test"),
    ("mail", "send"),
    ("mail", "digest"),
    ("mail", "status"),
    ("mail", "show"),
    ("mail", "retry"),
    ("demo",),
]
"""The commands whose help is marked (``json_option``'s and ``--now``'s are checked apart)."""


def _command(path: tuple[str, ...]) -> click.Command:
    module, attr, _summary = COMMAND_MODULES[path[0]]
    command: click.Command = getattr(importlib.import_module(module), attr)
    for name in path[1:]:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def _flat(text: str) -> str:
    return " ".join(text.split())


def _english_help(path: tuple[str, ...]) -> list[str]:
    """The English of the command's help and of each option's help this part marks."""
    command = _command(path)
    texts = [getattr(command, "_tsk_english", {}).get("help") or command.help or ""]
    for param in command.params:
        english = getattr(param, "_tsk_english", {}).get("help") or getattr(param, "help", None)
        if english and param.name not in {"as_json", "now"}:
            texts.append(english)
    return [text for text in texts if text]


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_is_swedish_by_default_and_english_on_request(
    runner: CliRunner, path: tuple[str, ...]
) -> None:
    swedish = _flat(runner.invoke(cli, [*path, "--help"]).output)
    english = _flat(runner.invoke(cli, ["--lang", "en", *path, "--help"]).output)
    texts = _english_help(path)
    assert texts, path
    for text in texts:
        first = _flat(text.split("\n\n")[0])
        with i18n.speaking("sv"):
            translated = _flat(i18n._(text).split("\n\n")[0])
        assert translated != first, f"no Swedish for {text!r}"
        # click cuts a command's help at the first paragraph in the listing, not here
        assert first in english, (first, english)
        assert translated in swedish, (translated, swedish)
        assert first not in swedish, (first, swedish)


def test_the_shared_options_speak_the_language(runner: CliRunner) -> None:
    for path in (("cycle", "list"), ("mail", "send")):
        swedish = _flat(runner.invoke(cli, [*path, "--help"]).output)
        english = _flat(runner.invoke(cli, ["--lang", "en", *path, "--help"]).output)
        assert "--json Skriv bara ut JSON" in swedish
        assert "--json Print JSON only" in english
    swedish = _flat(runner.invoke(cli, ["mail", "send", "--help"]).output)
    assert "Agera som om det vore den här tiden" in swedish
    assert "Act as if" not in swedish


def test_date_options_say_the_format_in_the_language(runner: CliRunner) -> None:
    for path in (("decision", "record"), ("gdpr", "purge")):
        swedish = runner.invoke(cli, [*path, "--help"]).output
        english = runner.invoke(cli, ["--lang", "en", *path, "--help"]).output
        assert "ÅÅÅÅ-MM-DD" in swedish
        assert "YYYY-MM-DD" in english
        assert "%Y-%m-%d" not in swedish + english


@pytest.fixture
def database(runner: CliRunner, tmp_path: Path) -> list[str]:
    base = ["--db", str(tmp_path / "tsk.db"), "--org", "herrljunga"]
    made = runner.invoke(
        cli, [*base, "init", "--virtual-time"], env={"TSK_NOW": "2027-03-01T09:00"}
    )
    assert made.exit_code == 0, made.output
    assert made.output.startswith("Databasen är uppdaterad (")
    assert "Den går på virtuell tid" in made.output
    assert "Organisationen Herrljunga kommun är inläst (version 1)." in made.output
    return base


def test_init_org_and_decisions_speak_the_language(runner: CliRunner, database: list[str]) -> None:
    again = runner.invoke(cli, ["--lang", "en", *database, "init"])
    assert again.output.startswith("The database is up to date (")
    assert "The organisation Herrljunga kommun is unchanged (version 1)." in again.output
    assert not re.search(r"Databasen|Organisationen|oförändrad", again.output)

    swedish = runner.invoke(cli, [*database, "org", "show"]).output
    english = runner.invoke(cli, ["--lang", "en", *database, "org", "show"]).output
    for sv, en in (("Personer:", "People:"), ("Grupper:", "Groups:"), ("Orter: ", "Towns: ")):
        assert sv in swedish
        assert en not in swedish
        assert en in english
        assert sv not in english
    assert " ordförande " in swedish
    assert " medlemmar" in swedish
    assert ": chair " in english
    assert " members" in english
    assert "ordförande" not in english
    assert "ersättare" not in english

    assert runner.invoke(cli, [*database, "decision", "list"]).output == "Inga beslut.\n"
    assert runner.invoke(cli, ["--lang", "en", *database, "decision", "list"]).output == (
        "No decisions.\n"
    )


def test_tick_speaks_the_language(runner: CliRunner, database: list[str]) -> None:
    env = {"TSK_NOW": "2027-03-01T09:00"}
    swedish = runner.invoke(cli, [*database, "tick", "--no-send"], env=env)
    english = runner.invoke(cli, ["--lang", "en", *database, "tick", "--no-send"], env=env)
    assert swedish.exit_code == 0, swedish.output
    assert "utan verkan" in swedish.output
    assert "misslyckade" in swedish.output
    assert "without effect" in english.output
    assert "failed" in english.output
    assert not re.search(r"utan verkan|misslyckade|öppnade|kontrollpunkt", english.output)
    assert not re.search(r"without effect|opened:|checkpoint", swedish.output)


def test_task_and_cycle_lines_translate_the_status() -> None:
    row = {
        "id": 7,
        "status": "cancelled",
        "cycle_ref": "est-2027-03",
        "title": "Månadsrapport till EST",
        "assignees": ["ida"],
        "due": "2027-03-10T16:00:00+00:00",
    }
    assert views.task_line(row) == (
        "     7  avbruten  est-2027-03                    Månadsrapport till EST (ida; senast"
        " 2027-03-10 17:00)"
    )
    assert views.task_line(row, "en") == (
        "     7  cancelled est-2027-03                    Månadsrapport till EST (ida; due"
        " 2027-03-10 17:00)"
    )
    data = {
        "ref": "est-2027-03",
        "id": 3,
        "title": "EST 2027-03",
        "status": "closed",
        "state": "avslutad",
        "opened_by": "tsk",
        "opened_at": "2027-03-01T07:05:00+00:00",
        "group": "est",
        "closed_by": "anna",
        "closed_at": "2027-03-20T09:00:00+00:00",
        "allowed_triggers": [],
        "tasks": [row],
    }
    swedish, english = views.cycle_text(data, "sv"), views.cycle_text(data, "en")
    assert (
        "  status: stängd, steg: avslutad\n  drivs av gruppen est; öppnad av tsk 2027-03-01 08:05\n"
        in swedish
    )
    assert "  stängd av anna 2027-03-20 10:00\n  uppgifter:\n" in swedish
    assert (
        "  status: closed, step: avslutad\n  run by the group est; opened by tsk 2027-03-01 08:05\n"
        in english
    )
    assert "  closed by anna 2027-03-20 10:00\n  tasks:\n" in english
    assert "avbruten" not in english
    assert "cancelled" not in swedish
    assert views.status_label("no-such-status") == "no-such-status"


def test_upgrade_lines_speak_the_language() -> None:
    move = SimpleNamespace(ref="est-2027-03", id=4, from_version=1, step="insamling", reason="x")
    done = SimpleNamespace(
        process="est", version=2, digest="ab" * 32, moved=[move], refused=[], dry_run=True
    )
    swedish = views.upgrade_text(done, "sv")  # type: ignore[arg-type]
    english = views.upgrade_text(done, "en")  # type: ignore[arg-type]
    assert swedish == [
        "est: till version 2 (sha256 abababababababab)",
        "  skulle flyttas: est-2027-03 (id 4) v1 -> v2, steg insamling",
        "Provkörning: inget är ändrat.",
    ]
    assert english == [
        "est: to version 2 (sha256 abababababababab)",
        "  would move: est-2027-03 (id 4) v1 -> v2, step insamling",
        "Dry run: nothing changed.",
    ]


def test_decision_lines_keep_the_keys_in_json() -> None:
    row = {
        "id": 1,
        "title": "Belysning",
        "routed_to": "klg",
        "agenda_date": None,
        "proposed_by": "jessica",
        "outcome": "rejected",
        "body": "klg",
        "date": "2027-03-15",
        "paragraph": "§ 12",
        "recorded_by": "nina",
    }
    assert views.decision_line(row).endswith(
        "[KLG] föreslagen av jessica -> avslaget KLG 2027-03-15 § 12 (nina)"
    )
    with i18n.speaking("en"):
        assert views.decision_line(row).endswith(
            "[KLG] proposed by jessica -> rejected KLG 2027-03-15 § 12 (nina)"
        )
    row |= {"outcome": None, "agenda_date": "2027-04-07"}
    assert "[KLG, dagordning 2027-04-07] föreslagen av jessica" in views.decision_line(row)


def test_the_plan_speaks_its_language(runner: CliRunner, tmp_path: Path) -> None:
    swedish = runner.invoke(cli, ["--org", "herrljunga", "plan", "2027"]).output
    english = runner.invoke(cli, ["--org", "herrljunga", "--lang", "en", "plan", "2027"]).output
    assert re.search(r"^Herrljunga kommun – årsplan 2027 \(\d+ händelser\)$", swedish, re.M)
    assert re.search(r"^Herrljunga kommun – plan for 2027 \(\d+ items\)$", english, re.M)
    assert "  2027-03-01 mån 07:00" not in swedish  # openings are whole-day items
    assert re.search(r"^  2027-03-01 mån        öppnas       Öppnas: EST", swedish, re.M)
    assert re.search(r"^  2027-03-01 Mon        opens        Opens: EST", english, re.M)
    for sv in (
        "årsplan",
        " mån ",
        "öppnas",
        "klart senast",
        "påminnelse",
        "Januari",
        "Rapport till",
    ):
        assert sv not in english, sv
    for en in ("plan for", " Mon ", "opens", " due ", "reminder", "January", "Report to"):
        assert en not in swedish, en
    ics = tmp_path / "plan.ics"
    wrote = runner.invoke(cli, ["--org", "herrljunga", "plan", "2027", "--ics", str(ics)]).output
    assert re.search(rf"^Skrev \d+ händelser till {re.escape(str(ics))}$", wrote, re.M)
    raw = ics.read_text(encoding="utf-8")
    assert "X-WR-CALNAME:Herrljunga kommun – årsplan 2027" in raw
    assert "Typ: öppnas" in raw.replace("\r\n ", "")
    data = json.loads(
        runner.invoke(cli, ["--org", "herrljunga", "plan", "2027", "--json", "--lang", "en"]).output
    )
    assert {item["kind"] for item in data} <= {
        "cycle_open",
        "meeting",
        "due",
        "reminder",
        "report",
        "review",
    }


def test_titles_are_shown_in_the_language_asked_for(runner: CliRunner, database: list[str]) -> None:
    """A cycle and its tasks keep their titles in Swedish (the record, and --json); in English
    the command line shows the definition's English titles."""
    env = {"TSK_NOW": "2027-03-01T09:00"}
    opened = runner.invoke(
        cli, [*database, "--as", "jessica.wahlstrom", "cycle", "open", "est"], env=env
    )
    assert opened.exit_code == 0, opened.output
    assert "EST – månatlig lägesbild 2027-03" in opened.output
    assert "Månadsrapport till EST" in opened.output
    english = ["--lang", "en", *database]
    for command in (["cycle", "list"], ["cycle", "show", "est-2027-03"]):
        shown = runner.invoke(cli, [*english, *command], env=env).output
        assert "EST – monthly situation report 2027-03" in shown, shown
        assert "månatlig" not in shown
    for command in (["cycle", "show", "est-2027-03"], ["task", "list"]):
        shown = runner.invoke(cli, [*english, *command], env=env).output
        assert "Monthly report to EST" in shown
        assert "Månadsrapport" not in shown
        swedish = runner.invoke(cli, [*database, *command], env=env).output
        assert "Månadsrapport till EST" in swedish
    tasks = json.loads(runner.invoke(cli, [*english, "task", "list", "--json"], env=env).stdout)
    assert {task["title"] for task in tasks} == {"Månadsrapport till EST"}  # as recorded
    cycles = json.loads(runner.invoke(cli, [*english, "cycle", "list", "--json"], env=env).stdout)
    assert cycles[0]["title"] == "EST – månatlig lägesbild 2027-03"
