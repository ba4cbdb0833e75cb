"""Forms on tasks: the shipped forms, checking answers (pure), completing a task with answers in
the engine (both databases: stored, audited, refused whole) and through the CLI (``task form``,
``--template``, ``task done --answers`` / ``--answer``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML
from sqlalchemy import select

from tests.dbfixtures import MakeStore
from tests.enginekit import Clock, Tsk, counts, events, local, make_engine, tasks
from tsk_workflow import audit, forms, i18n
from tsk_workflow.catalog import Catalog, load_catalog, load_organisation
from tsk_workflow.definitions.model import Form, ProcessDefinition
from tsk_workflow.definitions.validate import load_process_file
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Refused
from tsk_workflow.features import build_engine
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditPayload, Task

REPO = Path(__file__).resolve().parent.parent
CHAIR = "jessica.wahlstrom"
REPORTER = "johanna.falk"

GOOD = {
    "kategori": "Klotter",  # a label is taken for its key
    "ort": "herrljunga",
    "plats": "  Resecentrum  ",
    "tidpunkt": "2027-03-02 22:15",
    "antal": "3",
    "beskrivning": "Nya taggar på perrongen.",
    "forslag": "Sanera inom ett dygn",
}
STORED = {
    "kategori": "klotter",
    "ort": "herrljunga",
    "plats": "Resecentrum",
    "tidpunkt": "2027-03-02T22:15",
    "antal": 3,
    "beskrivning": "Nya taggar på perrongen.",
    "forslag": "Sanera inom ett dygn",
}


@pytest.fixture
def english() -> Iterator[None]:
    """The messages in English (the language of the code) for the test."""
    with i18n.speaking("en"):
        yield


@pytest.fixture(scope="module")
def herrljunga() -> Organisation:
    return load_organisation("herrljunga")


@pytest.fixture(scope="module")
def est_form() -> Form:
    form = forms.form_of(load_catalog().definition("est"), "insamling", "rapport")
    assert form is not None
    return form


# ---------------------------------------------------------------- the shipped forms


def test_est_reporter_form_covers_what_reporters_report(est_form: Form) -> None:
    kinds = {q.key: q.type for q in est_form.questions}
    assert kinds == {
        "kategori": "choice",
        "ort": "town",
        "plats": "text",
        "tidpunkt": "datetime",
        "antal": "number",
        "beskrivning": "text",
        "forslag": "text",
    }
    category = est_form.question("kategori")
    assert category is not None
    assert {c.key for c in category.choices} == {
        "skadegorelse", "klotter", "nedskrapning", "hot_vald", "narkotika", "ungdomsgang",
        "otrygg_plats", "annat",
    }  # fmt: skip
    assert category.choice("klotter") is not None
    assert category.choice("klotter").label.en == "Graffiti"  # type: ignore[union-attr]
    assert [q.lagesbild for q in est_form.questions] == [
        "category", "town", "place", "when", "count", "description", "action",
    ]  # fmt: skip
    assert not est_form.required, "a reporter with nothing to report completes without answers"


def test_traffpunkt_has_the_residents_survey() -> None:
    definition = load_process_file(REPO / "processes" / "traffpunkt.yaml")
    form = forms.form_of(definition, "insamling", "sammanstall_enkat")
    assert form is not None
    assert form.title is not None
    assert "trygghetsfrågor" in form.title.sv
    assert {q.key for q in form.questions if q.required} == {
        "antal_svar",
        "andel_trygga",
        "behov_trygghetsvandring",
    }
    share = form.question("andel_trygga")
    assert share is not None
    assert (share.min, share.max) == (0, 100)


# ---------------------------------------------------------------- checking answers (pure)


def test_good_answers_are_stored_in_their_plain_form(
    est_form: Form, herrljunga: Organisation
) -> None:
    answers, problems = forms.check_answers(est_form, GOOD, herrljunga)
    assert problems == []
    assert answers == STORED


@pytest.mark.usefixtures("english")
def test_each_wrong_answer_is_one_problem_in_the_forms_order(
    est_form: Form, herrljunga: Organisation
) -> None:
    given = {
        "beskrivning": "",  # required, so blank is missing
        "antal": 2.5,
        "tidpunkt": "2027-02-30",
        "ort": "Göteborg",
        "kategori": "klottr",
        "platz": "stationen",
    }
    answers, problems = forms.check_answers(est_form, given, herrljunga)
    assert [p.key for p in problems] == [
        "kategori", "ort", "tidpunkt", "antal", "beskrivning", "platz",
    ]  # fmt: skip
    messages = [str(p) for p in problems]
    assert "'klottr' is not one of the choices (skadegorelse, klotter," in messages[0]
    assert "'Göteborg' is not a town of Herrljunga kommun (herrljunga, ljung," in messages[1]
    assert messages[2] == "tidpunkt: 2027-02-30: that date does not exist"
    assert messages[3] == "antal: give a whole number, not 2.5"
    assert messages[4] == "beskrivning: needs an answer (it is required)"
    assert messages[5] == "platz: no such question in the form (did you mean 'plats'?)"
    assert answers == {}


def test_wrong_answers_are_told_in_swedish_by_default(
    est_form: Form, herrljunga: Organisation
) -> None:
    given = {"beskrivning": "", "antal": "noll", "tidpunkt": "2027-02-30 10:00", "platz": "x"}
    _, problems = forms.check_answers(est_form, {**given, "kategori": "klotter"}, herrljunga)
    assert [str(p) for p in problems] == [
        "ort: behöver ett svar (frågan är obligatorisk)",
        "tidpunkt: 2027-02-30: det datumet finns inte",
        "antal: 'noll' är inte ett tal",
        "beskrivning: behöver ett svar (frågan är obligatorisk)",
        "platz: frågan finns inte i formuläret (menade du 'plats'?)",
    ]


@pytest.mark.parametrize(
    ("value", "english", "swedish"),
    [
        (
            "2027-02-30",
            "2027-02-30: that date does not exist",
            "2027-02-30: det datumet finns inte",
        ),
        (
            "2027-13-01",
            "2027-13-01: that date does not exist",
            "2027-13-01: det datumet finns inte",
        ),
        ("30/2", "'30/2' is not a date (YYYY-MM-DD)", "'30/2' är inget datum (ÅÅÅÅ-MM-DD)"),
    ],
)
def test_a_date_that_does_not_exist_says_so(value: str, english: str, swedish: str) -> None:
    form = Form.model_validate({"questions": [{"key": "dag", "type": "date", "label": "Dag"}]})
    org = load_organisation("herrljunga")
    _, problems = forms.check_answers(form, {"dag": value}, org)
    assert [str(p) for p in problems] == [f"dag: {swedish}"]
    with i18n.speaking("en"):
        _, problems = forms.check_answers(form, {"dag": value}, org)
    assert [str(p) for p in problems] == [f"dag: {english}"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "0 is less than the smallest allowed, 1"),
        (1001, "1001 is more than the largest allowed, 1000"),
        ("många", "'många' is not a number"),
        (True, "give a number, not true or false"),
    ],
)
@pytest.mark.usefixtures("english")
def test_numbers_are_checked_against_min_and_max(
    est_form: Form, herrljunga: Organisation, value: object, message: str
) -> None:
    given = {"kategori": "klotter", "ort": "ljung", "beskrivning": "x", "antal": value}
    _, problems = forms.check_answers(est_form, given, herrljunga)
    assert [str(p) for p in problems] == [f"antal: {message}"]


@pytest.mark.usefixtures("english")
def test_several_choices_from_a_list_or_comma_separated() -> None:
    form = Form.model_validate(
        {
            "questions": [
                {
                    "key": "teman",
                    "type": "choices",
                    "label": "Teman",
                    "max": 2,
                    "choices": [
                        {"key": "belysning", "label": "Belysning"},
                        {"key": "trafik", "label": "Trafik"},
                        {"key": "annat", "label": {"sv": "Annat", "en": "Other"}},
                    ],
                },
                {"key": "dag", "type": "date", "label": "Dag"},
                {"key": "omrade", "type": "area", "label": "Område"},
            ]
        }
    )
    org = load_organisation("svenljunga")
    area = org.areas[0]
    good, problems = forms.check_answers(
        form, {"teman": "trafik, Belysning", "dag": "2027-05-04", "omrade": area.name}, org
    )
    assert problems == []
    assert good == {"teman": ["belysning", "trafik"], "dag": "2027-05-04", "omrade": area.key}
    _, problems = forms.check_answers(
        form, {"teman": ["trafik", "belysning", "other"], "dag": "2027-05-04 10:00"}, org
    )
    assert [str(p) for p in problems] == [
        "teman: choose at most 2",
        "dag: '2027-05-04 10:00' is not a date (YYYY-MM-DD)",
    ]
    _, problems = forms.check_answers(form, {"teman": "trafik,cyklar"}, org)
    assert [str(p) for p in problems] == [
        "teman: 'cyklar' is not among the choices (belysning, trafik, annat)"
    ]


@pytest.mark.usefixtures("english")
def test_accept_refuses_missing_or_unexpected_answers(
    est_form: Form, herrljunga: Organisation
) -> None:
    required = est_form.model_copy(update={"required": True})
    with pytest.raises(Refused, match="task 7 has a form that must be answered"):
        forms.accept(required, None, herrljunga, 7)
    with pytest.raises(Refused, match="task 7 has a form that must be answered"):
        forms.accept(required, {"kategori": None, "ort": ""}, herrljunga, 7)  # an empty template
    with pytest.raises(Refused, match="task 7 has a form: answer it"):
        forms.accept(est_form, None, herrljunga, 7)  # optional, but not by saying nothing
    with pytest.raises(Refused, match="task 7 has a form: answer it"):
        forms.accept(est_form, {"kategori": None, "ort": ""}, herrljunga, 7)
    assert forms.accept(est_form, None, herrljunga, 7, nothing_to_report=True) is None
    with pytest.raises(Refused, match="task 7 has no form"):
        forms.accept(None, {"x": "y"}, herrljunga, 7)
    with pytest.raises(forms.InvalidAnswers) as invalid:
        forms.accept(est_form, {"kategori": "nope"}, herrljunga, 7)
    assert [p.key for p in invalid.value.problems] == ["kategori", "ort", "beskrivning"]


def test_the_template_is_yaml_with_every_question_empty(
    est_form: Form, herrljunga: Organisation
) -> None:
    text = forms.template_yaml(est_form, herrljunga, "sv", 12, "Månadsrapport – est-2027-03")
    data = YAML(typ="safe").load(text)
    assert data == dict.fromkeys(q.key for q in est_form.questions)
    assert "#   klotter: Klotter" in text
    assert "#   herrljunga: Herrljunga" in text
    assert "# Vad gäller rapporten? (obligatorisk)" in text
    english = forms.template_yaml(est_form, herrljunga, "en", 12, "Monthly report")
    assert "# What is the report about? (required)" in english
    assert "#   klotter: Graffiti" in english


# ---------------------------------------------------------------- the engine (both databases)


def reporter_task(engine: Engine, person: str = REPORTER) -> int:
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    return next(t.id for t in tasks(engine, cycle) if t.assignees == (person,))


def test_answers_are_stored_and_audited_with_their_digest(engine: Engine, store: Store) -> None:
    task_id = reporter_task(engine)

    engine.complete_task(REPORTER, task_id, "se svaren", GOOD)

    with store.reading() as session:
        task = session.get(Task, task_id)
        assert task is not None
        assert (task.status, task.answers) == ("done", STORED)
        (done,) = events(store, "task.done")
        payload = session.scalars(
            select(AuditPayload.payload).where(AuditPayload.seq == done.seq)
        ).one()
    assert payload["answers"] == STORED
    assert payload["answers_digest"] == audit.digest(STORED)
    with store.reading() as session:
        assert audit.verify(session).ok


@pytest.mark.usefixtures("english")
def test_wrong_answers_change_nothing(engine: Engine, store: Store) -> None:
    task_id = reporter_task(engine)
    before = counts(store)

    with pytest.raises(forms.InvalidAnswers) as refused:
        engine.complete_task(REPORTER, task_id, None, {**GOOD, "antal": -1, "ort": "Borås"})

    message = str(refused.value)
    assert message.startswith(f"the answers to task {task_id} do not fit its form: ")
    assert "ort: 'Borås' is not a town" in message
    assert "antal: -1 is less than the smallest allowed, 1" in message
    assert counts(store) == before
    assert tasks(engine, "est-2027-03")[0].status == "open"


def test_a_task_without_a_form_takes_no_answers(engine: Engine, store: Store) -> None:
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    engine.advance(CHAIR, cycle, "sammanstall", "alla har rapporterat muntligt")
    engine.advance(CHAIR, cycle, "sammanstall_gemensam", "lägesbilderna togs muntligt")
    (compile_task,) = tasks(engine, cycle)
    with pytest.raises(Refused, match=f"uppgift {compile_task.id} har inget formulär"):
        engine.complete_task(CHAIR, compile_task.id, None, {"x": "1"})
    with pytest.raises(Refused, match="gör den utan --nothing-to-report"):
        engine.complete_task(CHAIR, compile_task.id, None, nothing_to_report=True)


def test_an_optional_form_is_answered_or_said_to_have_nothing(engine: Engine, store: Store) -> None:
    """A reporter done with only a note was counted as having nothing to report: now that is
    said with nothing_to_report, and a report never says both."""
    task_id = reporter_task(engine)
    before = counts(store)
    with pytest.raises(Refused, match=f"'tsk task form {task_id} --template svar-"):
        engine.complete_task(REPORTER, task_id, "inget att rapportera")
    with pytest.raises(Refused, match="inte båda"):
        engine.complete_task(REPORTER, task_id, None, GOOD, nothing_to_report=True)
    assert counts(store) == before
    engine.complete_task(REPORTER, task_id, "inget att rapportera", nothing_to_report=True)
    (done,) = tasks(engine, "est-2027-03", status="done")
    assert done.id == task_id


def with_required_form(catalog: Catalog) -> Catalog:
    est = catalog.definition("est")
    data = est.model_dump(by_alias=True, exclude_unset=True)
    data["steps"][0]["tasks"][0]["form"]["required"] = True
    return Catalog({**catalog.definitions, "est": ProcessDefinition.model_validate(data)})


def test_a_required_form_must_be_answered(store: Store, clock: Clock) -> None:
    engine = make_engine(store, "herrljunga", clock)
    engine = build_engine(store, with_required_form(engine.catalog), engine.org, clock)
    task_id = reporter_task(engine)
    before = counts(store)

    with pytest.raises(Refused, match="har ett formulär som måste besvaras"):
        engine.complete_task(REPORTER, task_id, "inget att rapportera")
    with pytest.raises(Refused, match="har ett formulär som måste besvaras"):
        engine.complete_task(REPORTER, task_id, "inget", nothing_to_report=True)
    assert counts(store) == before

    engine.complete_task(REPORTER, task_id, None, GOOD)
    assert tasks(engine, "est-2027-03", status="done")[0].id == task_id


# ---------------------------------------------------------------- the command line


@pytest.fixture
def tsk(runner: CliRunner, make_store: MakeStore, monkeypatch: pytest.MonkeyPatch) -> Tsk:
    """The CLI on SQLite only (the engine tests above cover both databases)."""
    tsk = Tsk(runner, make_store("sqlite"), "herrljunga", Clock(local(2027, 3, 1)), monkeypatch)
    tsk.ok("init")
    return tsk


@pytest.fixture
def cli_task(tsk: Tsk) -> int:
    opened = tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    return int(next(t["id"] for t in opened["tasks"] if t["assignees"] == [REPORTER]))


def test_task_form_prints_the_form_in_swedish_or_english(tsk: Tsk, cli_task: int) -> None:
    swedish = tsk.text("task", "form", str(cli_task))
    assert f"Månadsrapport till EST – est-2027-03, uppgift {cli_task}" in swedish
    assert "kategori (obligatorisk): Vad gäller rapporten?" in swedish
    assert "      klotter              Klotter" in swedish
    assert "      annelund             Annelund" in swedish
    assert "    ett heltal, mellan 1 och 1000" in swedish
    english = tsk.text("task", "form", str(cli_task), "--lang", "en")
    assert "kategori (required): What is the report about?" in english
    assert "      klotter              Graffiti" in english
    data = tsk.ok("task", "form", str(cli_task))
    assert data["task"] == cli_task
    assert data["required"] is False
    first = data["questions"][0]
    assert (first["key"], first["type"], first["required"]) == ("kategori", "choice", True)
    assert {"key": "klotter", "label": "Klotter"} in first["choices"]


def test_template_filled_in_and_given_back(tsk: Tsk, cli_task: int, tmp_path: Path) -> None:
    template = tmp_path / "rapport.yaml"
    tsk.text("task", "form", str(cli_task), "--template", str(template))
    refused = tsk.refused("task", "form", str(cli_task), "--template", str(template))
    assert refused == f"tsk: {template} finns redan: ange --force för att skriva över den"
    args = ("--lang", "en", "task", "form", str(cli_task), "--template", str(template))
    assert tsk.refused(*args) == f"tsk: {template} is there already: give --force to write over it"
    text = template.read_text(encoding="utf-8")
    filled = (
        text.replace("\nkategori:\n", "\nkategori: klotter\n")
        .replace("\nort:\n", "\nort: Herrljunga\n")
        .replace("\nantal:\n", "\nantal: 4\n")
        .replace("\nbeskrivning:\n", "\nbeskrivning: |\n  Taggar på skolan.\n  Igen.\n")
    )
    template.write_text(filled, encoding="utf-8")

    done = tsk.ok("task", "done", str(cli_task), "--answers", str(template), as_=REPORTER)

    assert done["status"] == "done"
    assert done["answers"] == {
        "kategori": "klotter",
        "ort": "herrljunga",
        "antal": 4,
        "beskrivning": "Taggar på skolan.\nIgen.",
    }
    shown = tsk.text("task", "form", str(cli_task))
    assert "    = klotter" in shown


def test_repeated_answer_options_and_a_json_file(tsk: Tsk, cli_task: int, tmp_path: Path) -> None:
    answers = tmp_path / "svar.json"
    answers.write_text(json.dumps({"kategori": "annat", "ort": "od"}), encoding="utf-8")
    done = tsk.ok(
        "task",
        "done",
        str(cli_task),
        "--answers",
        str(answers),
        "--answer",
        "kategori=hot_vald",  # wins over the file
        "--answer",
        "beskrivning=Hot mot personal vid fritidsgården",
        as_=REPORTER,
    )
    assert done["answers"] == {
        "kategori": "hot_vald",
        "ort": "od",
        "beskrivning": "Hot mot personal vid fritidsgården",
    }


def test_bad_answers_file_lists_every_problem_with_its_line(
    tsk: Tsk, cli_task: int, tmp_path: Path
) -> None:
    answers = tmp_path / "svar.yaml"
    answers.write_text(
        "kategori: klottr\nort: herrljunga\nantal: noll\nbeskrivning: Klotter\nextra: 1\n",
        encoding="utf-8",
    )
    before = counts(tsk.store)

    args = ("task", "done", str(cli_task), "--answers", str(answers))
    result = tsk("--lang", "en", *args, as_=REPORTER)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        f"tsk: {answers}:1:1: kategori: 'klottr' is not one of the choices (skadegorelse, "
        "klotter, nedskrapning, hot_vald, narkotika, ungdomsgang, otrygg_plats, annat)",
        f"tsk: {answers}:3:1: antal: 'noll' is not a number",
        f"tsk: {answers}:5:1: extra: no such question in the form (questions: kategori, ort, "
        "plats, tidpunkt, antal, beskrivning, forslag)",
    ]
    swedish = tsk(*args, as_=REPORTER)
    assert swedish.stderr.splitlines() == [
        f"tsk: {answers}:1:1: kategori: 'klottr' är inte ett av alternativen (skadegorelse, "
        "klotter, nedskrapning, hot_vald, narkotika, ungdomsgang, otrygg_plats, annat)",
        f"tsk: {answers}:3:1: antal: 'noll' är inte ett tal",
        f"tsk: {answers}:5:1: extra: frågan finns inte i formuläret (frågor: kategori, ort, "
        "plats, tidpunkt, antal, beskrivning, forslag)",
    ]
    assert counts(tsk.store) == before


def test_bad_answer_options_and_unreadable_files_are_refused(
    tsk: Tsk, cli_task: int, tmp_path: Path
) -> None:
    before = counts(tsk.store)
    result = tsk("task", "done", str(cli_task), "--answer", "kategori", as_=REPORTER)
    assert (result.exit_code, result.stderr) == (
        1,
        "tsk: kategori: ange ett svar som NYCKEL=VÄRDE\n",
    )
    result = tsk(
        "--lang", "en", "task", "done", str(cli_task), "--answer", "kategori", as_=REPORTER
    )
    assert (result.exit_code, result.stderr) == (
        1,
        "tsk: kategori: give an answer as KEY=VALUE\n",
    )
    broken = tmp_path / "trasig.yaml"
    broken.write_text("kategori: [klotter\n", encoding="utf-8")
    line = tsk.refused("task", "done", str(cli_task), "--answers", str(broken), as_=REPORTER)
    assert line.startswith(f"tsk: {broken}:")
    assert "YAML-syntaxfel" in line
    listed = tmp_path / "lista.yaml"
    listed.write_text("- klotter\n", encoding="utf-8")
    line = tsk.refused("task", "done", str(cli_task), "--answers", str(listed), as_=REPORTER)
    assert "förväntade en mappning av nycklar till värden, fann en lista" in line
    impossible = tmp_path / "datum.yaml"
    impossible.write_text("tidpunkt: 2027-02-30\n", encoding="utf-8")
    args = ("task", "done", str(cli_task), "--answers", str(impossible))
    line = tsk.refused(*args, as_=REPORTER)
    assert line.endswith("datum.yaml:1:11: 2027-02-30: det datumet finns inte")
    line = tsk.refused("--lang", "en", *args, as_=REPORTER)
    assert line.endswith("datum.yaml:1:11: 2027-02-30: that date does not exist")
    assert counts(tsk.store) == before


def test_task_without_a_form_has_nothing_to_show(tsk: Tsk) -> None:
    opened = tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    tsk.ok("cycle", "advance", "est-2027-03", "sammanstall", "--note", "muntligt", as_=CHAIR)
    args = ("cycle", "advance", "est-2027-03", "sammanstall_gemensam", "--note", "muntligt")
    tsk.ok(*args, as_=CHAIR)
    shown = tsk.ok("cycle", "show", "est-2027-03")
    compile_task = next(t["id"] for t in shown["tasks"] if t["key"] == "sammanstall_lagesbild")
    assert opened["id"] == shown["id"]
    line = tsk.refused("task", "form", str(compile_task))
    assert line == f"tsk: uppgift {compile_task} (sammanstall_lagesbild) har inget formulär"
    line = tsk.refused("--lang", "en", "task", "form", str(compile_task))
    assert line == f"tsk: task {compile_task} (sammanstall_lagesbild) has no form"
    line = tsk.refused("task", "done", str(compile_task), "--answer", "a=b", as_=CHAIR)
    assert line == f"tsk: uppgift {compile_task} har inget formulär: markera den klar utan svar"
    args = ("--lang", "en", "task", "done", str(compile_task), "--answer", "a=b")
    line = tsk.refused(*args, as_=CHAIR)
    assert line == f"tsk: task {compile_task} has no form: complete it without answers"
