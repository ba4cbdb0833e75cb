"""The definition model: durations, labels, immutability, the JSON Schemas, the compiled machine,
the diagrams, and a walk of every shipped definition along its happy path."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from pydantic import TypeAdapter, ValidationError

from tests.walk import happy_path, walk
from tsk_workflow import i18n
from tsk_workflow import schemas as schema
from tsk_workflow.catalog import shipped_process_files
from tsk_workflow.definitions.compile import compile_process
from tsk_workflow.definitions.diagram import draw
from tsk_workflow.definitions.durations import parse_duration
from tsk_workflow.definitions.model import Label, ProcessDefinition, Task, Text
from tsk_workflow.definitions.reader import read_file
from tsk_workflow.definitions.validate import load_process_file

REPO = Path(__file__).resolve().parent.parent
EST = REPO / "processes" / "est.yaml"
MINIMAL = Path(__file__).resolve().parent / "corpus" / "good" / "minimal.yaml"
SHIPPED = shipped_process_files()
REGENERATE = "python -m tsk_workflow.schemas docs"


@pytest.fixture(scope="module")
def est() -> ProcessDefinition:
    return load_process_file(EST)


# ---------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("P14D", relativedelta(days=14)),
        ("P2W", relativedelta(days=14)),
        ("PT2H", relativedelta(hours=2)),
        ("PT90M", relativedelta(hours=1, minutes=30)),
        ("P1M", relativedelta(months=1)),
        ("P3Y", relativedelta(years=3)),
        ("P1Y2M3DT4H", relativedelta(years=1, months=2, days=3, hours=4)),
        ("P0D", relativedelta()),
    ],
)
def test_iso_durations(text: str, delta: relativedelta) -> None:
    duration = parse_duration(text)
    assert duration.delta == delta
    assert duration.working_days is None
    assert duration.text == text
    assert duration.is_zero == (delta == relativedelta())


@pytest.mark.parametrize(("text", "days"), [("10wd", 10), ("0wd", 0), ("1 wd", 1), (" 3wd ", 3)])
def test_working_day_durations(text: str, days: int) -> None:
    duration = parse_duration(text)
    assert duration.working_days == days
    assert duration.delta is None
    assert duration.is_zero == (days == 0)


@pytest.mark.parametrize(
    "text",
    ["10 days", "P", "PT", "P1DT", "p14d", "14D", "P1.5D", "-1wd", "1000wd", "wd", "", "P-1D"],
)
def test_bad_durations_are_refused_with_a_message(text: str) -> None:
    with pytest.raises(ValueError, match="är ingen tidslängd: använd ISO 8601"):
        parse_duration(text)
    with i18n.speaking("en"), pytest.raises(ValueError, match="is not a duration: use ISO 8601"):
        parse_duration(text)


def test_the_model_refuses_a_bad_duration() -> None:
    with pytest.raises(ValidationError):
        Task.model_validate({"key": "t", "title": "T", "role": "r", "due": "10 days"})
    with pytest.raises(ValidationError):
        Task.model_validate({"key": "t", "title": "T", "role": "r", "reminders": ["PT"]})


# ---------------------------------------------------------------- labels and immutability


def test_label_from_a_plain_string_is_both_languages() -> None:
    label = TypeAdapter(Text).validate_python("Lägesbild")
    assert label == Label(sv="Lägesbild", en="Lägesbild")
    task = Task.model_validate({"key": "t", "title": "Rapport", "role": "r"})
    assert task.title.get("sv") == task.title.get("en") == "Rapport"
    assert str(task.title) == "Rapport"


def test_label_in_two_languages(est: ProcessDefinition) -> None:
    assert est.title.get("sv") == "EST – månatlig lägesbild"
    assert est.title.get("en") == "EST – monthly situation report"
    assert str(est.title) == est.title.sv


@pytest.mark.parametrize("value", [{"sv": "Bara svenska"}, {"sv": "", "en": "x"}, None, ["a"]])
def test_incomplete_label_is_refused(value: Any) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Text).validate_python(value)


def test_the_model_is_frozen(est: ProcessDefinition) -> None:
    with pytest.raises(ValidationError):
        est.key = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        est.steps[0].title = Label(sv="x", en="x")  # type: ignore[misc]
    with pytest.raises(ValidationError):
        est.title.sv = "x"  # type: ignore[misc]
    assert isinstance(est.steps, tuple)
    assert isinstance(est.transitions[0].source, tuple)
    assert est.key == "est"


def test_the_model_refuses_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="reminder"):
        Task.model_validate({"key": "t", "title": "T", "role": "r", "reminder": ["1wd"]})


def test_defaults_of_the_model(est: ProcessDefinition) -> None:
    minimal = load_process_file(MINIMAL)
    assert minimal.initial is None
    assert minimal.initial_step == "start"
    assert minimal.subject == "period"
    assert minimal.transitions[0].auto is False
    task = minimal.steps[0].tasks[0]
    assert (task.required, task.per_person, task.template) == (True, False, "task_assigned")
    assert est.all_roles[0] == "sakerhetschef"
    assert est.step("beslut").key == "beslut"
    with pytest.raises(KeyError):
        est.step("nope")


# ---------------------------------------------------------------- JSON Schemas


@pytest.mark.parametrize(
    ("file", "generate"),
    [
        ("process.schema.json", schema.process_schema),
        ("organisation.schema.json", schema.organisation_schema),
    ],
)
def test_shipped_schemas_match_the_models(file: str, generate: Any) -> None:
    shipped = REPO / "docs" / file
    assert shipped.is_file(), f"docs/{file} is missing: run `{REGENERATE}`"
    assert shipped.read_text(encoding="utf-8") == schema.render(generate()), (
        f"docs/{file} is out of date with the model: run `{REGENERATE}`"
    )


def _yaml_data(path: Path) -> Any:
    return read_file(path).data


def test_the_schema_validates_est_with_jsonschema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(_yaml_data(EST), schema.process_schema())


def _definition_of(process_schema: dict[str, Any], ref: str) -> dict[str, Any]:
    node: dict[str, Any] = process_schema["$defs"][ref]
    return node


def test_the_schema_describes_est() -> None:
    """Checks by hand, without jsonschema: every key est uses is in the schema, and the patterns
    of keys and durations accept est's values."""
    process = schema.process_schema()
    data = _yaml_data(EST)
    assert process["$schema"] == schema.SCHEMA_DIALECT
    assert process["additionalProperties"] is False
    assert set(process["required"]) == {
        "key", "version", "title", "chair", "roles", "schedule", "steps", "final",
    }  # fmt: skip
    assert set(data) <= set(process["properties"])
    step_schema, task_schema = _definition_of(process, "Step"), _definition_of(process, "Task")
    transition_schema = _definition_of(process, "Transition")
    assert {"from", "to", "trigger"} <= set(transition_schema["required"])
    for part in (step_schema, task_schema, transition_schema):
        assert part["additionalProperties"] is False
    key_pattern = re.compile(process["properties"]["key"]["pattern"])
    due = task_schema["properties"]["due"]["anyOf"][0]
    duration_pattern = re.compile(due["pattern"])
    for step in data["steps"]:
        assert set(step) <= set(step_schema["properties"])
        assert key_pattern.match(step["key"])
        for task in step.get("tasks", []):
            assert set(task) <= set(task_schema["properties"])
            for value in [task.get("due", "1wd"), *task.get("reminders", [])]:
                assert duration_pattern.match(value), value
    for transition in data["transitions"]:
        assert set(transition) <= set(transition_schema["properties"])
    mapping = process["properties"]["schedule"]["discriminator"]["mapping"]
    assert data["schedule"]["kind"] in mapping
    json.dumps(process)  # plain JSON


# ---------------------------------------------------------------- the compiled machine


def test_allowed_triggers(est: ProcessDefinition) -> None:
    compiled = compile_process(est)
    assert compiled.allowed_triggers("insamling") == ["sammanstall"]
    assert compiled.allowed_triggers("aterkoppling") == ["avsluta"]
    assert compiled.allowed_triggers("avslutad") == []
    assert compiled.allowed_triggers("no_such_step") == []


def test_transition(est: ProcessDefinition) -> None:
    compiled = compile_process(est)
    transition = compiled.transition("insamling", "sammanstall")
    assert transition is not None
    assert transition.dest == "egna_lagesbilder"  # each organisation's own, then the common one
    assert transition.by == ("chair", "samordnare")
    common = compiled.transition("egna_lagesbilder", "sammanstall_gemensam")
    assert common is not None
    assert common.dest == "sammanstallning"
    assert compiled.transition("insamling", "avsluta") is None  # a trigger of another step
    assert compiled.transition("insamling", "no_such_trigger") is None
    assert compiled.transition("avslutad", "sammanstall") is None


def test_transition_with_several_sources() -> None:
    definition = ProcessDefinition.model_validate(
        {
            "key": "several",
            "version": 1,
            "title": "Several",
            "chair": "ordforande",
            "roles": [],
            "schedule": {"kind": "manual"},
            "steps": [{"key": key, "title": key.upper()} for key in ("a", "b", "c")],
            "transitions": [
                {"trigger": "next", "from": "a", "to": "b"},
                {"trigger": "stop", "from": ["a", "b"], "to": "c"},
            ],
            "final": "c",
        }
    )
    compiled = compile_process(definition)
    assert compiled.allowed_triggers("a") == ["next", "stop"]
    assert compiled.allowed_triggers("b") == ["stop"]
    stop = compiled.transition("b", "stop")
    assert stop is not None
    assert stop.dest == "c"
    assert compiled.transition("c", "stop") is None
    assert definition.final == ("c",)


def test_auto_transition(est: ProcessDefinition) -> None:
    compiled = compile_process(est)
    auto = compiled.auto_transition("insamling")
    assert auto is not None
    assert auto.trigger == "sammanstall"
    assert compiled.auto_transition("avslutad") is None
    manual = compile_process(load_process_file(MINIMAL))
    assert manual.auto_transition("start") is None


def test_is_final(est: ProcessDefinition) -> None:
    compiled = compile_process(est)
    assert compiled.is_final("avslutad")
    assert not compiled.is_final("insamling")
    assert not compiled.is_final("no_such_step")


# ---------------------------------------------------------------- diagrams


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_diagram_has_every_step_and_trigger(est: ProcessDefinition, fmt: Any) -> None:
    source = draw(est, fmt)
    for step in est.step_keys:
        assert step in source
    for transition in est.transitions:
        assert transition.trigger in source
    assert ("stateDiagram" in source) == (fmt == "mermaid")
    assert ("digraph" in source) == (fmt == "dot")


def test_diagram_marks_the_current_step_and_keeps_the_initial_arrow(est: ProcessDefinition) -> None:
    source = draw(est, "mermaid", current="beslut")
    assert "Class beslut s_active" in source
    assert "Class insamling s_active" not in source
    assert "[*] --> insamling" in source
    dot = draw(est, "dot", current="beslut")
    assert re.search(r"beslut \[[^\]]*darksalmon", dot)


# ---------------------------------------------------------------- happy path of every definition


@pytest.mark.parametrize("path", SHIPPED, ids=[path.stem for path in SHIPPED])
def test_every_shipped_definition_walks_its_happy_path(path: Path) -> None:
    definition = load_process_file(path)
    triggers = happy_path(definition)
    assert triggers, f"{definition.key}: the initial step is final"
    assert walk(definition, triggers) in definition.final
    compiled = compile_process(definition)
    state = definition.initial_step
    for trigger in triggers:
        transition = compiled.transition(state, trigger)
        assert transition is not None
        state = transition.dest
    assert compiled.is_final(state)


def test_happy_path_of_est(est: ProcessDefinition) -> None:
    # The month's way through is its automatic transitions; inga_nya_atgarder is the chair's
    # way round an action plan without new actions.
    assert happy_path(est) == [t.trigger for t in est.transitions if t.auto]
    assert walk(est, happy_path(est)) == "avslutad"
