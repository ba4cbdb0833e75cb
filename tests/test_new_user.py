"""What a new user tripped over (issue 16's defects), each shown as it was found.

Each test failed before its fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.enginekit import Clock, Tsk, local
from tsk_workflow.cli import COMMANDS, cli
from tsk_workflow.store.database import Store


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---------------------------------------------------------------- 5. --org NAME and a folder


def test_a_folder_named_like_a_municipality_does_not_hide_it(here: Path, runner: CliRunner) -> None:
    (here / "herrljunga").mkdir()  # as 'tsk demo --out herrljunga' leaves one
    shown = runner.invoke(cli, ["--org", "herrljunga", "org", "show", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["municipality"] == "herrljunga"
    # A path separator or a .yaml suffix makes it a file, which must then exist.
    for name in ("./herrljunga", "herrljunga.yaml"):
        result = runner.invoke(cli, ["--org", name, "org", "show"])
        assert result.exit_code == 1
        assert result.stderr == f"tsk: organisationsfilen '{name}' finns inte\n"


def test_an_unknown_municipality_suggests_the_closest(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--org", "herljunga", "org", "show"])
    assert result.exit_code == 1
    assert "okänd kommun 'herljunga' (menade du 'herrljunga'?) (medföljande:" in result.stderr
    result = runner.invoke(cli, ["--lang", "en", "--org", "herljunga", "org", "show"])
    assert result.exit_code == 1
    assert (
        "unknown municipality 'herljunga' (did you mean 'herrljunga'?) (shipped:" in result.stderr
    )


# ---------------------------------------------------------------- 6, 7. which database


def test_no_database_is_created_by_a_command_that_needs_one(here: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--org", "herrljunga", "cycle", "list"])
    assert result.exit_code == 1
    assert result.stderr == (
        "tsk: databasen tsk.db finns inte: skapa den med 'tsk init', eller ange --db"
        " (TSK_DATABASE_URL)\n"
    )
    result = runner.invoke(cli, ["--lang", "en", "--org", "herrljunga", "cycle", "list"])
    assert result.exit_code == 1
    assert result.stderr == (
        "tsk: there is no database tsk.db: create it with 'tsk init', or give --db"
        " (TSK_DATABASE_URL)\n"
    )
    assert list(here.iterdir()) == []  # no empty ./tsk.db left behind
    made = runner.invoke(cli, ["--org", "herrljunga", "init", "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["database"] == f"sqlite:///{Path('tsk.db')}"
    assert (here / "tsk.db").is_file()


def test_a_database_without_tables_is_named(here: Path, runner: CliRunner) -> None:
    import sqlite3

    sqlite3.connect(here / "tom.db").close()
    result = runner.invoke(cli, ["--db", "tom.db", "--org", "herrljunga", "cycle", "list"])
    assert result.exit_code == 1
    assert result.stderr == (
        "tsk: databasen sqlite:///tom.db är inte förberedd: kör 'tsk init' först\n"
    )


@pytest.mark.parametrize("url", ["mysql://x/y", "mssql+pyodbc://h/db", "oracle://u@h/db"])
def test_an_unsupported_database_names_the_supported_ones(runner: CliRunner, url: str) -> None:
    result = runner.invoke(cli, ["--db", url, "--org", "herrljunga", "cycle", "list"])
    assert result.exit_code == 1
    scheme = url.split("://")[0]
    assert result.stderr == (
        f"tsk: tsk fungerar inte med '{scheme}'-databaser: ge en SQLite-fil (tsk.db,"
        " sqlite:///SÖKVÄG) eller PostgreSQL (postgresql://ANVÄNDARE@VÄRD/DATABAS)\n"
    )
    english = runner.invoke(
        cli, ["--lang", "en", "--db", url, "--org", "herrljunga", "cycle", "list"]
    )
    assert english.stderr == (
        f"tsk: tsk does not work with '{scheme}' databases: give a SQLite file (tsk.db,"
        " sqlite:///PATH) or PostgreSQL (postgresql://USER@HOST/DATABASE)\n"
    )


# ---------------------------------------------------------------- 11. did you mean


def test_a_global_option_after_the_command_says_where_it_goes(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["task", "list", "--mine", "--as", "ida.wikstrom"], prog_name="tsk")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "tsk: --as är ett globalt alternativ: det ska stå före kommandot"
        " (tsk --as ... task list ...)"
    )
    args = ["--lang", "en", "task", "list", "--mine", "--as", "ida.wikstrom"]
    result = runner.invoke(cli, args, prog_name="tsk")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "tsk: --as is a global option: it goes before the command (tsk --as ... task list ...)"
    )
    other = runner.invoke(cli, ["cycle", "list", "--nosuch"])
    assert other.exit_code == 2
    assert "Alternativet '--nosuch' finns inte." in other.stderr  # click's words, in Swedish
    english = runner.invoke(cli, ["--lang", "en", "cycle", "list", "--nosuch"])
    assert english.exit_code == 2
    assert "No such option '--nosuch'" in english.stderr


def test_unknown_people_cycles_and_processes_get_the_closest_name(
    store: Store, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    tsk = Tsk(runner, store, "herrljunga", Clock(local(2027, 3, 1)), monkeypatch)
    tsk.ok("init")
    tsk.ok("cycle", "open", "est", "--period", "2027-03", as_="jessica.wahlstrom")
    en = ("--lang", "en")
    assert tsk.refused(*en, "cycle", "show", "est-2027-3") == (
        "tsk: no cycle 'est-2027-3' in Herrljunga kommun (did you mean 'est-2027-03'?)"
    )
    assert tsk.refused(*en, "cycle", "show", "999") == "tsk: no cycle '999' in Herrljunga kommun"
    line = tsk.refused(*en, "cycle", "open", "est", as_="jesica.wahlstrom")
    assert line == (
        "tsk: unknown person 'jesica.wahlstrom' in Herrljunga kommun"
        " (did you mean 'jessica.wahlstrom'?)"
    )
    line = tsk.refused(*en, "cycle", "open", "ets", as_="jessica.wahlstrom")
    assert line.startswith("tsk: unknown process 'ets' (did you mean 'est'?) (known: ")
    line = tsk.refused("cycle", "open", "ets", as_="jessica.wahlstrom")
    assert line.startswith("tsk: okänd process 'ets' (menade du 'est'?) (kända: ")


# ---------------------------------------------------------------- 13. the demo's answers


def test_the_demos_answers_read_true() -> None:
    """The place column holds a place, and the description and suggestion belong to the
    category chosen (no youths gathering filed under graffiti)."""
    import datetime as dt
    import random

    from tests.enginekit import shared_catalog, shared_organisation
    from tsk_workflow.demo.answers import INCIDENTS, fill
    from tsk_workflow.forms import form_of

    form = form_of(shared_catalog().definition("est"), "insamling", "rapport")
    assert form is not None
    org = shared_organisation("herrljunga")
    rng = random.Random(7)
    for day in range(1, 200):
        answers = fill(form, org, rng, dt.date(2027, 1, 1) + dt.timedelta(days=day))
        texts = (answers["plats"], answers["beskrivning"], answers["forslag"])
        assert texts in {
            (i.place, i.description, i.suggestion) for i in INCIDENTS[answers["kategori"]]
        }, answers
        assert not answers["plats"].endswith(".")


# ---------------------------------------------------------------- 8. the top-level help


def test_each_group_summary_names_all_its_sub_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """``tsk --help``, through click and through the quick path, names every sub-command of
    each group on the group's line (``mail`` once lacked ``digest``, ``task`` lacked ``form``)."""
    import click

    from tsk_workflow.cli.quickhelp import HELP

    monkeypatch.setenv("COLUMNS", "80")
    shown = CliRunner().invoke(cli, ["--lang", "en", "--help"]).stdout
    swedish = CliRunner().invoke(cli, ["--help"]).stdout
    groups = 0
    for name in sorted(COMMANDS):
        command = cli.get_command(click.Context(cli), name)
        if not isinstance(command, click.Group):
            continue
        groups += 1
        for text in (shown, HELP["en"], swedish, HELP["sv"]):
            line = " ".join(_help_row(text, name))
            for sub, sub_command in command.commands.items():
                if not sub_command.hidden:
                    assert re.search(rf"[:,] {re.escape(sub)}(,|$)", line), (name, sub, line)
    assert groups == 11


def _help_row(text: str, name: str) -> list[str]:
    """The words of command ``name``'s row under "Commands:" (a row may wrap)."""
    rows = re.split("(?:Commands|Kommandon):\n", text, maxsplit=1)[1].splitlines()
    start = next(i for i, row in enumerate(rows) if row.split()[0] == name)
    words = rows[start].split()[1:]
    for row in rows[start + 1 :]:
        if not row.startswith(" " * 5):
            break
        words += row.split()
    return words


# ---------------------------------------------------------------- 10. one style of error


def test_every_error_is_in_one_style(runner: CliRunner) -> None:
    """A usage error (exit 2, click's usage line kept) and a refusal (exit 1) both say
    ``tsk: ...``; click's ``Error: ...`` is not used."""
    usage = runner.invoke(cli, ["--lang", "en", "cycle", "list", "--nosuch"], prog_name="tsk")
    assert usage.exit_code == 2
    assert usage.stderr.splitlines() == [
        "Usage: tsk cycle list [OPTIONS]",
        "Try 'tsk cycle list --help' for help.",
        "",
        "tsk: No such option '--nosuch'.",
    ]
    swedish = runner.invoke(cli, ["cycle", "list", "--nosuch"], prog_name="tsk")
    assert swedish.stderr.splitlines() == [
        "Användning: tsk cycle list [OPTIONS]",
        "Skriv 'tsk cycle list --help' för hjälp.",
        "",
        "tsk: Alternativet '--nosuch' finns inte.",
    ]
    bad = runner.invoke(
        cli, ["--lang", "en", "demo", "--year", "2027", "--until", "2026-12-31"], prog_name="tsk"
    )
    assert bad.exit_code == 2
    assert (
        bad.stderr.splitlines()[-1] == "tsk: Invalid value for --until: 2026-12-31 is not in 2027"
    )
    refused = runner.invoke(cli, ["--lang", "en", "process", "show", "nosuch"])
    assert refused.exit_code == 1
    assert refused.stderr.startswith("tsk: unknown process 'nosuch'")
    assert "Error:" not in usage.stderr + bad.stderr + refused.stderr


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_ctrl_c_during_the_demo_removes_what_it_made(
    kind: str, tmp_path: Path, make_store: Callable[..., Store]
) -> None:
    """Ctrl-C once left a half-written folder. The demo removes what it made (on PostgreSQL its
    tables, leaving the database as empty as it was given), says so, and exits 130. SIGINT is
    sent once the demo has delivered mail (observed, not waited for)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tsk_workflow.store import migrate

    db = []
    if kind == "postgresql":
        store = make_store("postgresql", migrated=False)
        db = ["--db", str(store.url)]
        (tmp_path / "halv").mkdir()  # a folder that was there stays, emptied
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSK_")}
    tsk = str(Path(sys.executable).with_name("tsk"))
    demo = subprocess.Popen(
        [tsk, *db, "demo", "--year", "2027", "--out", "halv"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    new_mail = tmp_path / "halv" / "maildir" / "new"
    deadline = time.monotonic() + 300
    while not (new_mail.is_dir() and any(new_mail.iterdir())):
        assert demo.poll() is None, demo.communicate()
        assert time.monotonic() < deadline, "the demo delivered no mail in 5 minutes"
        time.sleep(0.05)
    demo.send_signal(signal.SIGINT)
    out, err = demo.communicate(timeout=120)
    assert demo.returncode == 130, (out, err)
    last = err.splitlines()[-1]
    if kind == "sqlite":
        assert last == "tsk: avbrutet (Ctrl-C): demot tog bort allt det hade gjort (mappen halv)"
        assert list(tmp_path.iterdir()) == []
    else:
        assert last.startswith(
            "tsk: avbrutet (Ctrl-C): demot tog bort allt det hade gjort (sina filer i halv,"
            " sina tabeller i postgresql+psycopg://postgres@"
        ), last
        assert list((tmp_path / "halv").iterdir()) == []
        assert migrate.current_revision(store) is None


# ---------------------------------------------------------------- a period the schedule has


def test_a_period_must_be_one_of_the_schedule(
    store: Store, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'--period 2027-4' or 'april' opened a second and third EST cycle for April, each with
    five tasks and their mail; now a period is written as the schedule writes it, and is one
    the schedule has."""
    tsk = Tsk(runner, store, "herrljunga", Clock(local(2027, 4, 6)), monkeypatch)
    tsk.ok("init")
    for wrong in ("2027-4", "april", "p3"):
        line = tsk.refused("cycle", "open", "est", "--period", wrong, as_="jessica.wahlstrom")
        assert line == (
            f"tsk: perioden för est skrivs ÅÅÅÅ-MM, till exempel 2027-04 (inte '{wrong}')"
        )
    options = ["--db", store.url, "--org", "herrljunga", "--as", "jessica.wahlstrom", "--lang"]
    english = runner.invoke(cli, [*options, "en", "cycle", "open", "est", "--period", "2027-4"])
    assert english.exit_code == 1
    assert english.stderr == (
        "tsk: the period of est is written YYYY-MM, for example 2027-04 (not '2027-4')\n"
    )
    july = tsk.refused("cycle", "open", "est", "--period", "2027-07", as_="jessica.wahlstrom")
    assert july == (
        "tsk: est har ingen period 2027-07: perioderna 2027 är 2027-01, 2027-02, 2027-03,"
        " 2027-04, 2027-05, 2027-06, 2027-08, 2027-09, 2027-10, 2027-11"
    )
    assert tsk.ok("cycle", "list") == []  # nothing was opened, no mail queued
    assert tsk.ok("mail", "status")["pending"] == 0
    opened = tsk.ok("cycle", "open", "est", as_="jessica.wahlstrom")  # the default: this month
    assert opened["ref"] == "est-2027-04"
    # A few times a year: the occurrence's number; yearly: the year.
    line = tsk.refused("cycle", "open", "sspf", "--period", "2027-04", as_="hanna.nyberg")
    assert line.startswith("tsk: perioden för sspf skrivs ÅÅÅÅ-tN, till exempel 2027-t2 ")
    line = tsk.refused("cycle", "open", "sspf", "--period", "2027-t5", as_="hanna.nyberg")
    assert line.endswith("perioderna 2027 är 2027-t1, 2027-t2, 2027-t3, 2027-t4")
    assert tsk.ok("cycle", "open", "sspf", as_="hanna.nyberg")["ref"] == "sspf-2027-t2"
    line = tsk.refused("cycle", "open", "arsrapport", "--period", "27", as_="marie.lind")
    assert line.startswith("tsk: perioden för arsrapport skrivs ÅÅÅÅ, till exempel 2027 ")
    # A process opened on demand takes a free label (a decision's case is 'd12').
    opened = tsk.ok("cycle", "open", "beslut", "--period", "vt-ljung", as_="marie.lind")
    assert opened["ref"] == "beslut-vt-ljung"


# ---------------------------------------------------------------- a form task's mail and done


def test_a_reporters_mail_shows_how_to_answer_the_form(
    here: Path, store: Store, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reporter's mail asked for answers but showed 'task done 34 --note "..."', which
    recorded the reporter as having nothing to report. The mail shows the form's commands, and
    'task done' without answers is refused unless --nothing-to-report says so."""
    tsk = Tsk(runner, store, "herrljunga", Clock(local(2027, 3, 1)), monkeypatch)
    tsk.ok("init")
    opened = tsk.ok("cycle", "open", "est", "--period", "2027-03", as_="jessica.wahlstrom")
    mine = {t["assignees"][0]: t["id"] for t in opened["tasks"]}
    n = mine["ida.wikstrom"]
    mail = tsk.text("mail", "show", "--to", "ida.wikstrom", "--task", str(n))
    run = "tsk --org herrljunga --as ida.wikstrom task"
    assert f"    {run} form {n} --template svar-{n}.yaml\n" in mail
    assert f"    {run} done {n} --answers svar-{n}.yaml\n" in mail
    assert f"    {run} done {n} --nothing-to-report\n" in mail
    assert "--note" not in mail
    html = tsk.text("mail", "show", "--to", "ida.wikstrom", "--task", str(n), "--html")
    assert f"{run} form {n} --template svar-{n}.yaml</pre>" in html
    assert "--note" not in html
    english = tsk.text("mail", "show", "--to", "rachel.moore", "--task", str(mine["rachel.moore"]))
    assert "The task has a form. Write it out as a file to fill in:" in english
    assert f"--template answers-{mine['rachel.moore']}.yaml" in english

    # What the old mail said is refused, and says how to answer.
    line = tsk.refused("task", "done", str(n), "--note", "...", as_="ida.wikstrom")
    assert line == (
        f"tsk: uppgift {n} har ett formulär: besvara det ('tsk task form {n} --template"
        f" svar-{n}.yaml', sedan 'tsk task done {n} --answers svar-{n}.yaml'), eller ge"
        " --nothing-to-report"
    )
    # The commands of the mail work as they stand: the form written as a file, handed in.
    written = tsk.text("task", "form", str(n), "--template", f"svar-{n}.yaml", as_="ida.wikstrom")
    assert written == f"svar-{n}.yaml: tsk task done {n} --answers svar-{n}.yaml\n"
    template = (here / f"svar-{n}.yaml").read_text(encoding="utf-8")
    filled = {"kategori": "klotter", "ort": "herrljunga", "beskrivning": "Taggar på torget"}
    for key, value in filled.items():
        assert f"\n{key}:\n" in template
        template = template.replace(f"\n{key}:\n", f"\n{key}: {value}\n")
    (here / f"svar-{n}.yaml").write_text(template, encoding="utf-8")
    line = tsk.refused(
        "task", "done", str(n), "--answers", f"svar-{n}.yaml", "--nothing-to-report",
        as_="ida.wikstrom",
    )  # fmt: skip
    assert line.endswith("ge svaren eller --nothing-to-report, inte båda")
    done = tsk.ok("task", "done", str(n), "--answers", f"svar-{n}.yaml", as_="ida.wikstrom")
    assert done["answers"]["kategori"] == "klotter"
    # Nothing to report, said so.
    johanna = tsk.ok("task", "done", str(mine["johanna.falk"]), "--nothing-to-report",
                     as_="johanna.falk")  # fmt: skip
    assert (johanna["status"], johanna["answers"]) == ("done", None)


# ---------------------------------------------------------------- mail details


def test_task_subjects_name_the_cycle_and_invitations_the_place(
    store: Store, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SSPF's and Rättighetsnätverket's 'Sätt dagordningen' mails had the same subject, and a
    meeting's place was the group's name."""
    from tests.enginekit import finish_step, shared_catalog, shared_organisation
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.mail.outbox import compose, latest, rendered

    tsk = Tsk(runner, store, "herrljunga", Clock(local(2027, 2, 1)), monkeypatch)
    tsk.ok("init")
    subjects = []
    for process in ("sspf", "rattighetsnatverket"):
        opened = tsk.ok("cycle", "open", process, "--period", "2027-t1", as_="hanna.nyberg")
        (task,) = opened["tasks"]
        shown = tsk.ok("mail", "show", "--to", "hanna.nyberg", "--task", str(task["id"]))
        subjects.append(shown["subject"])
    assert subjects == [
        "Uppgift: Sätt dagordningen och skicka kallelsen (sspf-2027-t1) – senast måndag 8"
        " februari 2027",
        "Uppgift: Sätt dagordningen och skicka kallelsen (rattighetsnatverket-2027-t1) – senast"
        " måndag 8 februari 2027",
    ]

    # A group's place in the organisation file is the invitation's place and location.
    org = shared_organisation("herrljunga")
    groups = tuple(
        g.model_copy(update={"place": "Kommunhuset, sammanträdesrum Ljungen"})
        if g.key == "est"
        else g
        for g in org.groups
    )
    placed = org.model_copy(update={"groups": groups})
    from pydantic import ValidationError

    from tsk_workflow.organisation.model import Group

    for bad in ("Kommunhuset\r\nBcc: x@example.org", ""):  # one line, and something
        with pytest.raises(ValidationError):
            Group.model_validate({"key": "g", "name": "G", "chair": "a.b", "place": bad})
    engine = Engine(store, shared_catalog(), placed, Clock(local(2027, 3, 1)))
    cycle = engine.open_cycle("jessica.wahlstrom", "est", "2027-03").id
    finish_step(engine, cycle)
    finish_step(engine, cycle)  # each organisation's own lägesbild
    assert finish_step(engine, cycle) == "orsaksanalys"
    with store.reading() as session:
        row = latest(session, "herrljunga", "erik.sundin", template="meeting_invitation")
        assert row is not None
        text = rendered(row, placed).text
        ics = compose(row, placed, "tsk@herrljunga.example.org").ics
    assert "Plats:       Kommunhuset, sammanträdesrum Ljungen\n" in text
    assert ics is not None
    assert "LOCATION:Kommunhuset\\, sammanträdesrum Ljungen" in ics


def test_mail_test_without_a_server_says_no_connection_was_made(runner: CliRunner) -> None:
    """'localhost:25 svarade: Error connecting to ...': nothing answered at all."""
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"TSK_SMTP_HOST": "127.0.0.1", "TSK_SMTP_PORT": str(port)}
    result = runner.invoke(cli, ["mail", "test", "--to", "a@example.org"], env=env)
    assert result.exit_code == 1
    assert result.stdout.startswith(
        f"Ingen anslutning kunde göras till 127.0.0.1:{port}: ingen server tar emot anslutningar"
        " där (anslutningen vägrades) (Error connecting to 127.0.0.1 on port"
    )
    assert "svarade" not in result.stdout
    english = runner.invoke(cli, ["--lang", "en", "mail", "test", "--to", "a@example.org"], env=env)
    assert english.stdout.startswith(
        f"No connection could be made to 127.0.0.1:{port}: no server accepts connections there"
    )
    data = json.loads(
        runner.invoke(cli, ["mail", "test", "--to", "a@example.org", "--json"], env=env).stdout
    )
    assert (data["status"], data["unreachable"]) == ("temporary", "refused")
