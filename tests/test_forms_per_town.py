"""A ``per_town`` question: a number for each town of the organisation. The safety survey's
result (``trygghetsundersokning`` v2, ``ta_ut_resultat``) is entered with two of them. Checking
answers (pure: unknown town, out of range, not a number, given as a mapping or ``KEY.TOWN``),
the definition's checks, the template and ``task done --answer`` (CLI), and the task's web page
(one labelled number per town, each wrong figure shown by its field)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from tests.dbfixtures import MakeStore
from tests.enginekit import Clock, Tsk, local, tasks
from tests.webkit import demo_sign_in, herrljunga, service_client
from tsk_workflow import forms, i18n
from tsk_workflow.catalog import load_catalog, load_organisation
from tsk_workflow.definitions.model import Form, Question
from tsk_workflow.definitions.validate import check_definition
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store.database import Store

CHAIR = "hanna.nyberg"  # Herrljunga's folkhälsostrateg chairs the survey


@pytest.fixture
def english() -> Iterator[None]:
    with i18n.speaking("en"):
        yield


@pytest.fixture(scope="module")
def org() -> Organisation:
    return load_organisation("herrljunga")


@pytest.fixture(scope="module")
def survey_form() -> Form:
    definition = load_catalog().definition("trygghetsundersokning")
    assert definition.version == 2
    form = forms.form_of(definition, "enkaten_oppen", "ta_ut_resultat")
    assert form is not None
    return form


GOOD = {"andel_trygga_kommunen": "71,5", "svarande_kommunen": "412"}


def test_the_survey_result_is_entered_as_figures(survey_form: Form) -> None:
    kinds = {q.key: (q.type, q.required, q.min, q.max, q.integer) for q in survey_form.questions}
    assert kinds == {
        "andel_trygga_kommunen": ("number", True, 0, 100, False),
        "svarande_kommunen": ("number", True, 0, None, True),
        "andel_trygga": ("per_town", False, 0, 100, False),
        "svarande": ("per_town", False, 0, None, True),
    }


def test_figures_per_town_as_a_mapping_or_key_dot_town(
    survey_form: Form, org: Organisation
) -> None:
    given = {
        **GOOD,
        "andel_trygga": {"Mörlanda": 80, "herrljunga": "66,5", "od": None},  # od: no figure
        "andel_trygga.ljung": " 74 ",
        "svarande.herrljunga": "150",
        "svarande.morlanda": "",  # an empty field of the web form
    }
    answers, problems = forms.check_answers(survey_form, given, org)
    assert problems == []
    assert answers == {
        "andel_trygga_kommunen": 71.5,
        "svarande_kommunen": 412,
        "andel_trygga": {"herrljunga": 66.5, "ljung": 74, "morlanda": 80},  # the towns' order
        "svarande": {"herrljunga": 150},
    }
    assert list(answers["andel_trygga"]) == ["herrljunga", "ljung", "morlanda"]
    # a town given both ways: KEY.TOWN wins
    both = {**GOOD, "andel_trygga": {"ljung": 10}, "andel_trygga.ljung": 20}
    assert forms.check_answers(survey_form, both, org)[0]["andel_trygga"] == {"ljung": 20}
    # an unfilled template's mapping answers nothing
    empty = {"andel_trygga": dict.fromkeys(("herrljunga", "ljung"))}
    assert not forms.answered(empty)


@pytest.mark.usefixtures("english")
def test_each_wrong_figure_is_a_problem_named_by_its_town(
    survey_form: Form, org: Organisation
) -> None:
    given = {
        **GOOD,
        "andel_trygga": {"Göteborg": 50, "herrljunga": "många", "ljung": 101, "od": True},
        "svarande.annelund": "12,5",
        "svarande.eggvena": "-3",
    }
    answers, problems = forms.check_answers(survey_form, given, org)
    assert answers["andel_trygga_kommunen"] == 71.5
    assert "andel_trygga" not in answers
    assert "svarande" not in answers
    assert [str(p) for p in problems] == [
        "andel_trygga.Göteborg: 'Göteborg' is not a town of Herrljunga kommun"
        " (herrljunga, ljung, annelund, morlanda, eggvena, od)",
        "andel_trygga.herrljunga: 'många' is not a number",
        "andel_trygga.ljung: 101 is more than the largest allowed, 100",
        "andel_trygga.od: give a number, not true or false",
        "svarande.annelund: give a whole number, not 12.5",
        "svarande.eggvena: -3 is less than the smallest allowed, 0",
    ]
    flat = forms.check_answers(survey_form, {**GOOD, "andel_trygga": "70"}, org)[1]
    assert [str(p) for p in flat] == [
        "andel_trygga: give a number for each town: a mapping of towns to numbers in a file,"
        " or andel_trygga.TOWN=NUMBER"
    ]
    with pytest.raises(forms.InvalidAnswers, match=r"andel_trygga\.ljung: 101 is more"):
        forms.accept(survey_form, {**GOOD, "andel_trygga.ljung": 101}, org, 5)


def test_swedish_says_which_town(survey_form: Form, org: Organisation) -> None:
    problems = forms.check_answers(survey_form, {**GOOD, "andel_trygga.od": "120"}, org)[1]
    assert [str(p) for p in problems] == [
        "andel_trygga.od: 120 är större än det största tillåtna, 100"
    ]


@pytest.mark.usefixtures("english")
def test_a_per_town_question_is_bounded_like_a_number() -> None:
    definition = load_catalog().definition("trygghetsundersokning")
    step = definition.steps[0]
    task = next(t for t in step.tasks if t.key == "ta_ut_resultat")
    assert task.form is not None
    wrong = Question.model_validate(
        {"key": "andel", "type": "per_town", "label": "Andel", "min": 100, "max": 0}
    )
    changed = task.form.model_copy(update={"questions": (wrong,)})
    tasks_ = tuple(
        t.model_copy(update={"form": changed}) if t.key == task.key else t for t in step.tasks
    )
    steps = (step.model_copy(update={"tasks": tasks_}), *definition.steps[1:])
    changed_definition = definition.model_copy(update={"steps": steps})
    problems = [message for _path, message in check_definition(changed_definition)]
    assert "question 'andel': max (0) is less than min (100)" in problems
    assert check_definition(definition) == []


def test_the_template_has_a_key_per_town(survey_form: Form, org: Organisation) -> None:
    text = forms.template_yaml(survey_form, org, "sv", 9, "Resultat")
    assert "andel_trygga:\n  herrljunga:  # Herrljunga\n  ljung:  # Ljung\n" in text
    assert "\n  morlanda:  # Mörlanda\n" in text
    assert "# ett tal för varje ort (lämna en ort utan siffra tom), mellan 0 och 100" in text
    data = YAML(typ="safe").load(text)
    assert data["svarande"] == dict.fromkeys(t.key for t in org.towns)
    shown = forms.form_json(survey_form, org, "en")["questions"][2]
    assert shown["type"] == "per_town"
    assert {"key": "morlanda", "label": "Mörlanda"} in shown["choices"]


# ---------------------------------------------------------------- the CLI and the web page


@pytest.fixture
def tsk(runner: CliRunner, make_store: MakeStore, monkeypatch: pytest.MonkeyPatch) -> Tsk:
    tsk = Tsk(runner, make_store("sqlite"), "herrljunga", Clock(local(2027, 11, 2)), monkeypatch)
    tsk.ok("init")
    return tsk


def result_task(opened: dict[str, Any]) -> int:
    return int(next(t["id"] for t in opened["tasks"] if t["key"] == "ta_ut_resultat"))


def test_tsk_task_done_takes_the_figures_from_a_file_and_answers(tsk: Tsk, tmp_path: Path) -> None:
    opened = tsk.ok("cycle", "open", "trygghetsundersokning", "--period", "2027", as_=CHAIR)
    task = result_task(opened)
    template = tmp_path / "resultat.yaml"
    tsk.text("task", "form", str(task), "--template", str(template))
    filled = (
        template.read_text(encoding="utf-8")
        .replace("\nandel_trygga_kommunen:\n", "\nandel_trygga_kommunen: 70\n")
        .replace("\nsvarande_kommunen:\n", "\nsvarande_kommunen: 380\n")
        .replace("\nandel_trygga:\n  herrljunga:", "\nandel_trygga:\n  herrljunga: 64")
    )
    template.write_text(filled, encoding="utf-8")
    bad = tsk.refused(
        "--lang",
        "en",
        "task",
        "done",
        str(task),
        "--answers",
        str(template),
        "--answer",
        "andel_trygga.ljung=140",
        as_=CHAIR,
    )
    assert "andel_trygga.ljung: 140 is more than the largest allowed, 100" in bad
    done = tsk.ok(
        "task",
        "done",
        str(task),
        "--answers",
        str(template),
        "--answer",
        "svarande.herrljunga=160",
        as_=CHAIR,
    )
    assert done["answers"] == {
        "andel_trygga_kommunen": 70,
        "svarande_kommunen": 380,
        "andel_trygga": {"herrljunga": 64},
        "svarande": {"herrljunga": 160},
    }
    assert "    = herrljunga 64" in tsk.text("task", "form", str(task))


def test_the_task_page_has_a_number_per_town(store: Store, clock: Clock) -> None:
    clock.set(local(2027, 11, 2, 9))
    engine = herrljunga(store, clock)
    cycle = engine.open_cycle(CHAIR, "trygghetsundersokning", "2027")
    task = next(t for t in tasks(engine, cycle.ref) if t.key == "ta_ut_resultat")
    with service_client(store, clock) as client:
        csrf = demo_sign_in(client, CHAIR)
        page = client.get(f"/tasks/{task.id}")
        assert page.status_code == 200
        assert '<label for="f-andel_trygga-morlanda">Mörlanda</label>' in page.text
        assert 'name="a.andel_trygga.morlanda" type="number"' in page.text
        assert 'name="a.svarande.od" type="number"' in page.text
        base = {"a.andel_trygga_kommunen": "70", "a.svarande_kommunen": "400"}
        wrong = client.post(
            f"/tasks/{task.id}",
            data={
                **base,
                "a.andel_trygga.ljung": "140",
                "a.andel_trygga.od": "61",
                "csrf_token": csrf,
            },
        )
        assert wrong.status_code == 422
        assert 'id="e-andel_trygga-ljung"' in wrong.text
        assert "140 är större än det största tillåtna, 100" in wrong.text
        assert 'value="61"' in wrong.text  # what was given is kept
        done = client.post(
            f"/tasks/{task.id}",
            data={**base, "a.andel_trygga.ljung": "74", "a.svarande.ljung": "", "csrf_token": csrf},
        )
        assert done.status_code == 303
        shown = client.get(done.headers["location"]).text
        assert "<dt>Andel som känner sig trygga, per ort (%)</dt><dd>Ljung 74</dd>" in shown
    [shown] = [t for t in tasks(engine, cycle.ref, status="done") if t.id == task.id]
    with store.reading() as session:
        stored = engine.find_task(session, task.id).answers
    assert stored == {
        "andel_trygga_kommunen": 70,
        "svarande_kommunen": 400,
        "andel_trygga": {"ljung": 74},
    }
    assert shown.key == "ta_ut_resultat"
