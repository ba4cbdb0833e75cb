"""What the engine's mails say: every queued event renders in Swedish and English, the yearly
report's notice, and templates overridden per municipality (``mail.templates``, a folder under
the administrator's ``TSK_TEMPLATE_ROOT``), which cannot run code: a template that tries is held
back, with the reason, and nothing is sent with it (on SQLite and PostgreSQL, to a real SMTP
server)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.dbfixtures import MakeStore
from tests.enginekit import Clock
from tests.smtp_server import SmtpServer
from tsk_workflow import i18n
from tsk_workflow.catalog import Catalog, load_catalog, load_organisation
from tsk_workflow.cli import cli
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.ticker import Ticker
from tsk_workflow.errors import DefinitionError
from tsk_workflow.features import build_engine
from tsk_workflow.mail import outbox
from tsk_workflow.mail.message import sender_address
from tsk_workflow.mail.render import Held, render, shipped_templates
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


def templates_line(path: Path) -> int:
    """The line of ``mail.templates`` in an organisation file made by ``org_file``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith("  templates:"))


def folder(root: Path, name: str, files: dict[str, str]) -> Path:
    """``root/name`` holding ``files`` (``sv/task_assigned.subject.txt``: text)."""
    for relative, text in files.items():
        (root / name / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / name / relative).write_text(text, encoding="utf-8")
    (root / name).mkdir(parents=True, exist_ok=True)
    return root / name


def naming(org: Organisation, name: str) -> Organisation:
    """``org`` with ``mail.templates: name``."""
    return org.model_copy(update={"mail": org.mail.model_copy(update={"templates": name})})


# ------------------------------------------------------------------ every event, both languages


def test_every_mail_the_engine_queues_renders_in_both_languages(
    sqlite: Store, catalog: Catalog, herrljunga: Organisation
) -> None:
    clock = Clock(OPENED)
    engine = build_engine(sqlite, catalog, herrljunga, clock=clock)
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")
    ticker = Ticker({"herrljunga": engine}, worker="test")
    for days in (5, 20):  # a reminder, then overdue notices and escalations
        clock.now = OPENED + dt.timedelta(days=days)
        ticker.tick(clock.now)
    decision, _route = Decisions(engine).propose("hanna.nyberg", cycle.ref, "Belysning", 350_000)
    clock.now = dt.datetime(2027, 4, 7, 15, 0, tzinfo=TZ)  # KS meets, the first Wednesday
    Decisions(engine).record(
        "nina.bergqvist", decision.id, "ks", dt.date(2027, 4, 7), "§ 41", "approved"
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
    engine = build_engine(sqlite, catalog, herrljunga, clock=Clock(OPENED))
    engine.open_cycle(CHAIR, "est", "2027-03")
    row = next(r for r in queued(sqlite, "task_assigned") if r.recipient == "jonas.ek")
    mail = outbox.compose(row, herrljunga, herrljunga.mail.sender)
    assert mail.subject == (
        "Uppgift: Månadsrapport till EST (est-2027-03) – senast onsdag 10 mars 2027"
    )
    lines = mail.text.splitlines()
    assert lines[0] == "Hej Jonas Ek!"
    assert "Uppgift:     Månadsrapport till EST" in lines
    assert "Roll:        inrapportor" in lines
    assert "Omgång:      EST – månatlig lägesbild 2027-03 (est-2027-03)" in lines
    assert "Klar senast: onsdag 10 mars 2027, vecka 10, kl. 17:00" in lines
    run, n = "tsk --org herrljunga --as jonas.ek task", row.task_id
    assert f"    {run} form {n} --template svar-{n}.yaml" in lines
    assert f"    {run} done {n} --nothing-to-report" in lines


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
    assert swedish.subject == "Uppgift: Läs (est-2027-03)"
    assert "    tsk task done 1" in swedish.text  # no form: the command that completes it
    assert "Klar senast: ingen tidsgräns" in swedish.text
    assert "ingen tidsgräns" in swedish.html
    assert "Due:         no deadline" in render("task_assigned", "en", context).text


def test_opening_the_yearly_report_tells_its_writer_when_it_is_due(
    sqlite: Store, catalog: Catalog, herrljunga: Organisation
) -> None:
    now = dt.datetime(2027, 2, 22, 8, 0, tzinfo=TZ)
    engine = build_engine(sqlite, catalog, herrljunga, clock=Clock(now))
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


def test_a_municipality_overrides_a_template_from_its_folder_under_the_root(
    tmp_path: Path, sqlite: Store, catalog: Catalog
) -> None:
    root = tmp_path / "mallrot"
    folder(
        root,
        "herrljunga-mallar",
        {
            "sv/task_assigned.subject.txt": (
                "[Trygg Herrljunga] {{ task.title }} senast {{ task.due|langdatum }}\n"
            ),
            "sv/_footer.txt": "\n-- \nSäkerhetsenheten, Herrljunga kommun\n",
        },
    )
    env = {"TSK_TEMPLATE_ROOT": str(root)}
    org = load_organisation(str(org_file(tmp_path, "herrljunga-mallar")), catalog)
    assert org.mail.templates == "herrljunga-mallar"  # a name, kept as it is
    assert outbox.override_dir(org, env) == (root / "herrljunga-mallar").resolve()
    build_engine(sqlite, catalog, org, clock=Clock(OPENED)).open_cycle(CHAIR, "est", "2027-03")
    rows = {r.recipient: r for r in queued(sqlite, "task_assigned")}
    swedish = outbox.compose(rows["ida.wikstrom"], org, org.mail.sender, env)
    assert (
        swedish.subject
        == "[Trygg Herrljunga] Månadsrapport till EST senast onsdag 10 mars 2027, vecka 10"
    )
    assert swedish.text.endswith("-- \nSäkerhetsenheten, Herrljunga kommun\n")
    assert "Klar senast:" in swedish.text  # the body still comes from the shipped templates
    english = outbox.compose(rows["rachel.moore"], org, org.mail.sender, env)
    assert english.subject.startswith("Task: Monthly report to EST")  # no English override


def test_the_default_override_folder_is_the_municipalitys_own(
    tmp_path: Path, herrljunga: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert outbox.override_dir(herrljunga) is None  # none shipped
    (tmp_path / "herrljunga" / "notifications" / "sv").mkdir(parents=True)
    monkeypatch.setattr(outbox, "municipalities_dir", lambda: tmp_path)
    assert outbox.override_dir(herrljunga) == tmp_path / "herrljunga" / "notifications"


@pytest.mark.parametrize("name", ["../x", "/etc", "a/b", "a\\b", "..", "~root", "C:x", "-x"])
def test_mail_templates_is_a_folder_name_not_a_path(
    tmp_path: Path, catalog: Catalog, name: str
) -> None:
    path = org_file(tmp_path, f"'{name}'")
    with pytest.raises(DefinitionError) as caught:
        load_organisation(str(path), catalog)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:{templates_line(path)}:")  # file:line:column
    assert problem.endswith(
        "mail.templates måste vara namnet på en mapp under TSK_TEMPLATE_ROOT (bokstäver, siffror,"
        f" '.', '_' och '-'), inte en sökväg: {name!r}"
    )


def test_a_folder_next_to_the_organisation_file_is_not_used(
    tmp_path: Path, catalog: Catalog
) -> None:
    """The name is not resolved against the organisation file (organisations may be text in the
    database): only against TSK_TEMPLATE_ROOT, which the administrator sets."""
    folder(tmp_path, "mallar", {"sv/_footer.txt": "-- \nfrån bredvid filen\n"})
    org = load_organisation(str(org_file(tmp_path, "mallar")), catalog)
    with pytest.raises(Held, match="TSK_TEMPLATE_ROOT är inte satt"):
        outbox.override_dir(org, {})
    elsewhere = tmp_path / "mallrot"
    elsewhere.mkdir()
    with pytest.raises(Held, match=f"det finns ingen {elsewhere / 'mallar'}$"):
        outbox.override_dir(org, {"TSK_TEMPLATE_ROOT": str(elsewhere)})
    with i18n.speaking("en"), pytest.raises(Held, match=f"there is no {elsewhere / 'mallar'}$"):
        outbox.override_dir(org, {"TSK_TEMPLATE_ROOT": str(elsewhere)})


@pytest.mark.parametrize(
    ("files", "message", "english"),
    [
        (
            ["sv/task_assigend.subject.txt"],
            "okänd e-postmall 'sv/task_assigend.subject.txt' i .* \\(menade du"
            " 'task_assigned.subject.txt'\\?\\)$",
            "did you mean 'task_assigned.subject.txt'",
        ),
        (
            ["de/task_assigned.txt"],
            "'de' i .*: här ska bara mapparna sv/ och en/ finnas",
            "'de' in .*: expected only folders sv/ and en/",
        ),
        (
            ["sv/task_assigned.txt/x"],
            "'sv/task_assigned.txt' i .* är inte en fil",
            "'sv/task_assigned.txt' in .* is not a file",
        ),
        # what the shipped folder has that is not a template, and its old layout
        (["en/README.md"], "okänd e-postmall 'en/README.md' i .*$", "unknown mail template"),
        (["sv/sv/_footer.txt"], "okänd e-postmall 'sv/sv' i ", "unknown mail template 'sv/sv' in"),
    ],
)
def test_a_bad_template_folder_holds_the_mail_with_the_reason(
    tmp_path: Path, herrljunga: Organisation, files: list[str], message: str, english: str
) -> None:
    root = tmp_path / "mallrot"
    folder(root, "mallar", dict.fromkeys(files, "x"))
    org, env = naming(herrljunga, "mallar"), {"TSK_TEMPLATE_ROOT": str(root)}
    with pytest.raises(Held, match=message):
        outbox.override_dir(org, env)
    with i18n.speaking("en"), pytest.raises(Held, match=english):
        outbox.override_dir(org, env)


def test_a_folder_may_hold_every_shipped_template_in_each_language(
    tmp_path: Path, herrljunga: Organisation
) -> None:
    """The shipped set is one folder; a municipality's has it per language, whole if it likes."""
    root = tmp_path / "mallrot"
    files = {f"{lang}/{name}": "x" for lang in ("sv", "en") for name in shipped_templates()}
    mallar = folder(root, "mallar", files)
    env = {"TSK_TEMPLATE_ROOT": str(root)}
    assert outbox.override_dir(naming(herrljunga, "mallar"), env) == mallar.resolve()


@pytest.mark.parametrize("link", ["mallar", "mallar/sv", "mallar/sv/_footer.txt"])
def test_a_symlink_out_of_the_root_is_refused(
    tmp_path: Path, herrljunga: Organisation, link: str
) -> None:
    outside = folder(tmp_path, "utanfor", {"sv/_footer.txt": "-- \nhemlig fil\n"})
    root = tmp_path / "mallrot"
    (root / link).parent.mkdir(parents=True)
    (root / link).symlink_to(outside / Path(link).relative_to("mallar"))
    with pytest.raises(Held, match="leder utanför TSK_TEMPLATE_ROOT"):
        outbox.override_dir(naming(herrljunga, "mallar"), {"TSK_TEMPLATE_ROOT": str(root)})


def test_a_symlink_inside_the_root_is_followed(tmp_path: Path, herrljunga: Organisation) -> None:
    root = tmp_path / "mallrot"
    shared = folder(root, "gemensamma", {"sv/_footer.txt": "-- \nGemensam signatur\n"})
    (root / "mallar").symlink_to(shared)
    found = outbox.override_dir(naming(herrljunga, "mallar"), {"TSK_TEMPLATE_ROOT": str(root)})
    assert found == shared.resolve()


def test_a_root_that_is_not_a_folder_holds_the_mail(
    tmp_path: Path, herrljunga: Organisation
) -> None:
    env = {"TSK_TEMPLATE_ROOT": str(tmp_path / "finns-inte")}
    with pytest.raises(Held, match="finns-inte är inte en mapp"):
        outbox.override_dir(naming(herrljunga, "mallar"), env)


# ------------------------------------------------------------------ templates cannot run code

ATTACK = '{{{{ cycler.__init__.__globals__.os.popen("touch {marker}").read() }}}}\n'


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_env(smtp: SmtpServer) -> dict[str, str]:
    return {"TSK_SMTP_HOST": smtp.host, "TSK_SMTP_PORT": str(smtp.port), "TSK_SMTP_TIMEOUT": "5"}


def text_part(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def mail_status(runner: CliRunner, store: Store, *args: str) -> str:
    result = runner.invoke(cli, ["--db", store.url, "mail", "status", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_template_that_tries_to_run_a_command_is_held_and_nothing_is_sent(
    tmp_path: Path,
    store: Store,
    catalog: Catalog,
    herrljunga: Organisation,
    smtp: SmtpServer,
    smtp_env: dict[str, str],
    runner: CliRunner,
) -> None:
    marker = tmp_path / "pwned"
    root = tmp_path / "mallrot"
    subject = folder(root, "mallar", {"sv/task_assigned.subject.txt": ATTACK.format(marker=marker)})
    org = naming(herrljunga, "mallar")
    env = {**smtp_env, "TSK_TEMPLATE_ROOT": str(root)}
    build_engine(store, catalog, org, clock=Clock(OPENED)).open_cycle(CHAIR, "est", "2027-03")
    pending = [r for r in queued(store) if r.status == "pending"]
    evil = {r.id for r in pending if (r.template, r.language) == ("task_assigned", "sv")}
    assert 0 < len(evil) < len(pending)

    result = outbox.deliver(store, {"herrljunga": org}, env, OPENED)

    assert not marker.exists()  # the command did not run
    assert (result.sent, result.failed, result.held) == (len(pending) - len(evil), 0, len(evil))
    reason = (  # said in the language spoken, Swedish by default
        "kvarhållet: mallen mallar/sv/task_assigned.subject.txt:1 försökte något som sandlådan"
        " inte tillåter (access to attribute '__init__' of 'type' object is unsafe)"
    )
    held = [r for r in queued(store) if r.id in evil]
    assert {(r.status, r.attempts, r.last_reply) for r in held} == {("held", 0, reason)}
    arrived = {m.message["Message-ID"] for m in smtp.messages}
    assert len(arrived) == len(pending) - len(evil)
    assert not arrived & {r.message_id for r in held}  # nothing sent with it

    status = json.loads(mail_status(runner, store, "--json"))
    assert status["held"] == len(evil)
    assert [(h["id"], h["reply"]) for h in status["held_mail"]] == [(r.id, reason) for r in held]
    lines = mail_status(runner, store).splitlines()
    assert f", kvarhållna {len(evil)}, " in lines[0]
    first = held[0]
    assert f"  {first.id:>6} {first.email} task_assigned: {reason}" in lines

    # fixed, then released: sent (once) with the municipality's template
    (subject / "sv" / "task_assigned.subject.txt").write_text("Trygg Herrljunga: {{ task.title }}")
    released = runner.invoke(cli, ["--db", store.url, "mail", "retry", "--json"])
    assert json.loads(released.stdout) == {"requeued": len(evil)}
    again = outbox.deliver(store, {"herrljunga": org}, env, OPENED)
    assert (again.sent, again.held) == (len(evil), 0)
    subjects = {m.message["Subject"] for m in smtp.messages[len(arrived) :]}
    assert subjects == {"Trygg Herrljunga: Månadsrapport till EST"}
    assert not marker.exists()


def test_a_named_folder_without_a_root_holds_the_mail_until_the_root_is_set(
    tmp_path: Path,
    store: Store,
    catalog: Catalog,
    herrljunga: Organisation,
    smtp: SmtpServer,
    smtp_env: dict[str, str],
    runner: CliRunner,
) -> None:
    org = naming(herrljunga, "mallar")
    build_engine(store, catalog, org, clock=Clock(OPENED)).open_cycle(CHAIR, "est", "2027-03")
    pending = [r for r in queued(store) if r.status == "pending"]
    result = outbox.deliver(store, {"herrljunga": org}, smtp_env, OPENED)
    assert (result.sent, result.failed, result.held) == (0, 0, len(pending))
    assert smtp.messages == []  # not sent with the shipped templates instead
    reason = (
        "kvarhållet: mail.templates anger mappen 'mallar', men TSK_TEMPLATE_ROOT är inte satt:"
        " administratören sätter TSK_TEMPLATE_ROOT för tjänsten till mappen som innehåller den"
    )
    assert {(r.status, r.last_reply) for r in queued(store) if r.id in {p.id for p in pending}} == {
        ("held", reason)
    }
    assert reason in mail_status(runner, store)

    root = tmp_path / "mallrot"
    folder(root, "mallar", {"sv/_footer.txt": "\n-- \nSäkerhetsenheten\n"})
    env = {**smtp_env, "TSK_TEMPLATE_ROOT": str(root)}
    first = pending[0].id
    one = runner.invoke(cli, ["--db", store.url, "mail", "retry", str(first)])
    assert (one.exit_code, one.stdout) == (0, "1 meddelande köat igen\n")
    assert outbox.deliver(store, {"herrljunga": org}, env, OPENED).sent == 1
    runner.invoke(cli, ["--db", store.url, "mail", "retry"])
    assert outbox.deliver(store, {"herrljunga": org}, env, OPENED).sent == len(pending) - 1
    assert len(smtp.messages) == len(pending)
    texts = [text_part(m.message) for m in smtp.messages]
    swedish = [text for text in texts if text.startswith("Hej ")]
    assert swedish
    assert all(text.endswith("-- \nSäkerhetsenheten\n") for text in swedish)


def test_mail_test_reports_templates_that_would_be_held(
    tmp_path: Path, catalog: Catalog, smtp: SmtpServer, smtp_env: dict[str, str], runner: CliRunner
) -> None:
    path = org_file(tmp_path, "mallar")
    args = ["--org", str(path), "mail", "test", "--to", "anna.berg@example.org"]
    swedish = runner.invoke(cli, args, env={**smtp_env, "TSK_TEMPLATE_ROOT": ""})
    assert swedish.exit_code == 1
    assert swedish.stderr.startswith("tsk: inget testmejl skickat, kvarhållet: ")
    english = ["--lang", "en", *args]  # the test mail, and what is said of it, in English
    unset = runner.invoke(cli, english, env={**smtp_env, "TSK_TEMPLATE_ROOT": ""})
    assert unset.exit_code == 1
    assert unset.stderr.startswith("tsk: no test mail sent, held: mail.templates names the folder")
    swedish = runner.invoke(cli, args, env={**smtp_env, "TSK_TEMPLATE_ROOT": ""})
    assert swedish.exit_code == 1
    assert "mail.templates anger mappen 'mallar', men TSK_TEMPLATE_ROOT är inte satt" in (
        swedish.stderr
    )
    marker = tmp_path / "pwned"
    root = tmp_path / "mallrot"
    attack = ATTACK.format(marker=marker)
    folder(root, "mallar", {"en/test_mail.subject.txt": attack, "sv/test_mail.txt": attack})
    evil = runner.invoke(cli, english, env={**smtp_env, "TSK_TEMPLATE_ROOT": str(root)})
    assert evil.exit_code == 1
    assert evil.stderr == (
        "tsk: no test mail sent, held: the template mallar/en/test_mail.subject.txt:1 tried"
        " something the sandbox does not allow (access to attribute '__init__' of 'type' object"
        " is unsafe)\n"
    )
    evil = runner.invoke(cli, args, env={**smtp_env, "TSK_TEMPLATE_ROOT": str(root)})
    assert evil.exit_code == 1
    assert evil.stderr.startswith("tsk: inget testmejl skickat, kvarhållet: ")
    assert "mallen mallar/sv/test_mail.txt:1 försökte något som sandlådan inte tillåter" in (
        evil.stderr
    )
    assert not marker.exists()
    assert smtp.messages == []
    (root / "mallar" / "en" / "test_mail.subject.txt").write_text(
        "Trial from {{ municipality.name }}"
    )
    (root / "mallar" / "sv" / "test_mail.txt").write_text("Prov från {{ municipality.name }}\n")
    fine = runner.invoke(cli, english, env={**smtp_env, "TSK_TEMPLATE_ROOT": str(root)})
    assert fine.exit_code == 0, fine.output
    assert smtp.messages[0].message["Subject"] == "Trial from Herrljunga kommun"
    fine = runner.invoke(cli, args, env={**smtp_env, "TSK_TEMPLATE_ROOT": str(root)})
    assert fine.exit_code == 0, fine.output
    assert smtp.messages[1].message["Subject"] == "Testmejl från tsk-workflow (Herrljunga kommun)"
    assert text_part(smtp.messages[1].message) == "Prov från Herrljunga kommun\n"


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
    # The file's sender has no name: From carries the municipality's.
    sender = sender_address(settings.sender)
    assert (sender.display_name, sender.addr_spec) == (
        "Herrljunga kommun – Trygg och säker",
        "trygghet@herrljunga.example.org",
    )
    own = {"TSK_MAIL_FROM": "Trygghet <t@herrljunga.se>", "TSK_SMTP_PASSWORD": "hemligt"}
    named = outbox.smtp_settings(org, own).sender
    assert named == "Trygghet <t@herrljunga.se>"  # a name of its own is kept
    env = {"TSK_SMTP_HOST": "relay.example.org", "TSK_SMTP_STARTTLS": "false", "TSK_SMTP_USER": ""}
    settings = outbox.smtp_settings(org, {**env, "TSK_SMTP_PASSWORD": "hemligt"})
    assert (settings.host, settings.port, settings.starttls) == ("relay.example.org", 25, False)
