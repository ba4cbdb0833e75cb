"""What the engine's mails say: every queued event renders in Swedish and English, the yearly
report's notice, and templates overridden per municipality (``mail.templates``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.dbfixtures import MakeStore
from tests.enginekit import Clock
from tsk_workflow.catalog import Catalog, load_catalog, load_organisation
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.service import Engine
from tsk_workflow.engine.ticker import Ticker
from tsk_workflow.errors import DefinitionError
from tsk_workflow.mail import outbox
from tsk_workflow.mail.render import render
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.resources import municipalities_dir
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import OutboxMessage

TZ = ZoneInfo("Europe/Stockholm")
OPENED = dt.datetime(2027, 3, 1, 7, 0, tzinfo=TZ)
CHAIR = "jessica.wahlstrom"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def herrljunga(catalog: Catalog) -> Organisation:
    return load_organisation("herrljunga", catalog)


@pytest.fixture
def sqlite(make_store: MakeStore) -> Store:
    return make_store("sqlite")


def queued(store: Store, template: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if template:
        query = query.where(OutboxMessage.template == template)
    with store.reading() as session:
        return list(session.scalars(query))


def org_file(tmp_path: Path, templates: str | None) -> Path:
    """Herrljunga's organisation file, copied to ``tmp_path`` with ``mail.templates`` set."""
    text = (municipalities_dir() / "herrljunga.yaml").read_text(encoding="utf-8")
    if templates is not None:
        text = text.replace("  digest: false\n", f"  digest: false\n  templates: {templates}\n", 1)
    path = tmp_path / "herrljunga.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ every event, both languages


def test_every_mail_the_engine_queues_renders_in_both_languages(
    sqlite: Store, catalog: Catalog, herrljunga: Organisation
) -> None:
    clock = Clock(OPENED)
    engine = Engine(sqlite, catalog, herrljunga, clock=clock)
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")
    ticker = Ticker({"herrljunga": engine}, worker="test")
    for days in (5, 20):  # a reminder, then overdue notices and escalations
        clock.now = OPENED + dt.timedelta(days=days)
        ticker.tick(clock.now)
    decision, _route = Decisions(engine).propose("hanna.nyberg", cycle.ref, "Belysning", 350_000)
    Decisions(engine).record(
        "nina.bergqvist", decision.id, "ks", dt.date(2027, 3, 17), "§ 41", "approved"
    )
    engine.close_cycle(CHAIR, cycle.ref, "Stängd i förtid", force=True)
    clock.now = dt.datetime(2027, 2, 22, 8, 0, tzinfo=TZ)
    engine.open_cycle("marie.lind", "arsrapport", "2027")
    templates = {row.template for row in queued(sqlite)}
    assert templates >= {
        "cycle_opened",
        "task_assigned",
        "task_reminder",
        "task_overdue",
        "task_escalated",
        "decision_routed",
        "decision_recorded",
        "cycle_closed",
        "yearly_report_due",
    }
    for row in queued(sqlite):
        for lang in ("sv", "en"):
            row.language = lang
            mail = outbox.compose(row, herrljunga, herrljunga.mail.sender)
            assert mail.subject
            assert "{{" not in mail.subject + mail.text + mail.html
            assert str(row.context["person"]["name"]) in mail.text
            if "command" in row.context and row.template != "decision_recorded":
                assert f"--as {row.recipient} " in mail.text


def test_a_task_mail_says_what_of_whom_in_which_cycle_by_when_and_how(
    sqlite: Store, catalog: Catalog, herrljunga: Organisation
) -> None:
    engine = Engine(sqlite, catalog, herrljunga, clock=Clock(OPENED))
    engine.open_cycle(CHAIR, "est", "2027-03")
    row = next(r for r in queued(sqlite, "task_assigned") if r.recipient == "jonas.ek")
    mail = outbox.compose(row, herrljunga, herrljunga.mail.sender)
    assert mail.subject == "Uppgift: Månadsrapport till EST – senast onsdag 10 mars 2027"
    lines = mail.text.splitlines()
    assert lines[0] == "Hej Jonas Ek!"
    assert "Uppgift:     Månadsrapport till EST" in lines
    assert "Roll:        inrapportor" in lines
    assert "Omgång:      EST – månatlig lägesbild 2027-03 (est-2027-03)" in lines
    assert "Klar senast: onsdag 10 mars 2027, vecka 10, kl. 17:00" in lines
    assert f'    tsk --org herrljunga --as jonas.ek task done {row.task_id} --note "..."' in lines


def test_a_task_without_a_due_time_says_so() -> None:
    context = {
        "person": {"name": "Anna Berg"},
        "municipality": {"name": "Herrljunga kommun"},
        "task": {"id": 1, "key": "k", "title": "Läs", "description": "", "role": "r", "due": None},
        "cycle": {"id": 3, "ref": "est-2027-03", "title": "EST", "period": "", "subject": ""},
        "process": {"title": "EST"},
        "command": "tsk task done 1",
    }
    swedish = render("task_assigned", "sv", context)
    assert swedish.subject == "Uppgift: Läs"
    assert "Klar senast: ingen tidsgräns" in swedish.text
    assert "ingen tidsgräns" in swedish.html
    assert "Due:         no deadline" in render("task_assigned", "en", context).text


def test_opening_the_yearly_report_tells_its_writer_when_it_is_due(
    sqlite: Store, catalog: Catalog, herrljunga: Organisation
) -> None:
    now = dt.datetime(2027, 2, 22, 8, 0, tzinfo=TZ)
    engine = Engine(sqlite, catalog, herrljunga, clock=Clock(now))
    cycle = engine.open_cycle("marie.lind", "arsrapport", "2027")
    rows = queued(sqlite, "yearly_report_due")
    assert [r.recipient for r in rows] == ["marie.lind", "jessica.wahlstrom"]  # chair, deputy
    report = rows[0].context["report"]
    assert report == {
        "title": {
            "sv": "Årlig rapport om trygghetsarbetet till kommunfullmäktige",
            "en": "Yearly report on the safety work to the council",
        },
        "year": 2027,
        "from_body": "KS",
        "to_body": "KF",
        "due": "2027-05-31",
        "meeting_date": "2027-04-20",  # KF's last meeting before the deadline
    }
    mail = outbox.compose(rows[0], herrljunga, herrljunga.mail.sender)
    assert mail.subject == "Årlig rapport 2027: KS till KF – senast måndag 31 maj 2027"
    assert "Klar senast: måndag 31 maj 2027, vecka 22" in mail.text
    assert "Tas upp på:  KF:s sammanträde tisdag 20 april 2027, vecka 16" in mail.text
    assert f"tsk --org herrljunga --as marie.lind cycle show {cycle.ref}" in mail.text
    assert queued(sqlite, "cycle_opened")  # and the group hears of the cycle as for any other


# ------------------------------------------------------------------ per-municipality templates


def test_a_municipality_overrides_a_template_from_its_own_folder(
    tmp_path: Path, sqlite: Store, catalog: Catalog
) -> None:
    mine = tmp_path / "mallar" / "sv"
    mine.mkdir(parents=True)
    (mine / "task_assigned.subject.txt").write_text(
        "[Trygg Herrljunga] {{ task.title }} senast {{ task.due|langdatum }}\n", encoding="utf-8"
    )
    (mine / "_footer.txt").write_text("\n-- \nSäkerhetsenheten, Herrljunga kommun\n")
    org = load_organisation(str(org_file(tmp_path, "mallar")), catalog)
    assert org.mail.templates == str((tmp_path / "mallar").resolve())
    assert outbox.override_dir(org) == (tmp_path / "mallar").resolve()
    Engine(sqlite, catalog, org, clock=Clock(OPENED)).open_cycle(CHAIR, "est", "2027-03")
    rows = {r.recipient: r for r in queued(sqlite, "task_assigned")}
    swedish = outbox.compose(rows["ida.wikstrom"], org, org.mail.sender)
    assert (
        swedish.subject
        == "[Trygg Herrljunga] Månadsrapport till EST senast onsdag 10 mars 2027, vecka 10"
    )
    assert swedish.text.endswith("-- \nSäkerhetsenheten, Herrljunga kommun\n")
    assert "Klar senast:" in swedish.text  # the body still comes from the shipped templates
    english = outbox.compose(rows["rachel.moore"], org, org.mail.sender)
    assert english.subject.startswith("Task: Monthly report to EST")  # no English override


def test_the_default_override_folder_is_the_municipalitys_own(
    tmp_path: Path, herrljunga: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert outbox.override_dir(herrljunga) is None  # none shipped
    (tmp_path / "herrljunga" / "notifications" / "sv").mkdir(parents=True)
    monkeypatch.setattr(outbox, "municipalities_dir", lambda: tmp_path)
    assert outbox.override_dir(herrljunga) == tmp_path / "herrljunga" / "notifications"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([], "mail template folder 'mallar' does not exist"),
        (["sv/task_assigend.subject.txt"], "did you mean 'task_assigned.subject.txt'"),
        (["de/task_assigned.txt"], "expected only folders sv/ and en/"),
    ],
)
def test_a_bad_template_folder_is_refused_with_the_line(
    tmp_path: Path, catalog: Catalog, files: list[str], message: str
) -> None:
    for name in files:
        (tmp_path / "mallar" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "mallar" / name).write_text("x")
    with pytest.raises(DefinitionError, match=message) as caught:
        load_organisation(str(org_file(tmp_path, "mallar")), catalog)
    assert "herrljunga.yaml:26:" in str(caught.value)  # the line of mail.templates


def test_the_organisation_files_mail_settings_and_the_environment_over_them(
    herrljunga: Organisation,
) -> None:
    mail = herrljunga.mail.model_copy(
        update={"smtp_host": "smtp.herrljunga.se", "smtp_starttls": True, "smtp_user": "tsk"}
    )
    org = herrljunga.model_copy(update={"mail": mail})
    settings = outbox.smtp_settings(org, {"TSK_SMTP_PASSWORD": "hemligt"})
    assert (settings.host, settings.port, settings.starttls, settings.user) == (
        "smtp.herrljunga.se",
        587,
        True,
        "tsk",
    )
    assert settings.sender == "trygghet@herrljunga.example.org"
    env = {"TSK_SMTP_HOST": "relay.example.org", "TSK_SMTP_STARTTLS": "false", "TSK_SMTP_USER": ""}
    settings = outbox.smtp_settings(org, {**env, "TSK_SMTP_PASSWORD": "hemligt"})
    assert (settings.host, settings.port, settings.starttls) == ("relay.example.org", 25, False)
