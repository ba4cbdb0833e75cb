"""Loading a definition: read, validate with the model, then check the whole machine.

Every problem becomes a ``Problem`` with file, line and column. Nothing here does I/O except
``load_process_file``; the checks are pure functions of the model and the document.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tsk_workflow.definitions.model import CHAIR, Form, ProcessDefinition, Question, Step
from tsk_workflow.definitions.reader import Document, Problem, ReadError, read_file
from tsk_workflow.errors import DefinitionError

Found = tuple[tuple[str | int, ...], str]
"""A problem found by a check: the path of the value at fault and the message."""

M = TypeVar("M", bound=BaseModel)

DURATION_FIELDS = {"due", "reminders", "after", "length", "within", "lead"}


def model_problems(document: Document, model: type[M]) -> tuple[M | None, list[Problem]]:
    """Validate ``document.data`` with ``model``; each pydantic error becomes a located problem."""
    try:
        return model.model_validate(document.data), []
    except ValidationError as exc:
        problems = [_pydantic_problem(document, error, model) for error in exc.errors()]
        return None, _unique(problems)


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _pydantic_problem(document: Document, error: Any, model: type[BaseModel]) -> Problem:
    path, rest = _data_path(document.data, error["loc"])
    if error["type"] == "union_tag_invalid":
        path = _with_discriminator(document.data, path, error)
    return document.problem(path, _message(error, path, rest, model))


def _with_discriminator(data: Any, path: list[str | int], error: Any) -> list[str | int]:
    """``path`` extended by the discriminator key (``kind``) when the value has it."""
    discriminator = str(error.get("ctx", {}).get("discriminator", "")).strip("'")
    node = data
    for part in path:
        node = node[part]
    return [*path, discriminator] if isinstance(node, dict) and discriminator in node else path


def _data_path(data: Any, loc: Sequence[str | int]) -> tuple[list[str | int], list[str | int]]:
    """The part of ``loc`` that names values present in ``data``, and the part that does not.

    Pydantic puts union tags (``monthly``) and validator names into ``loc``; they are skipped.
    """
    path: list[str | int] = []
    rest: list[str | int] = []
    node = data
    for element in loc:
        child = _child(node, element)
        if child is _ABSENT:
            rest.append(element)
        else:
            node = child
            path.append(element)
    return path, rest


_ABSENT = object()


def _child(node: Any, element: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(element, _ABSENT)
    if isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node):
        return node[element]
    return _ABSENT


def _message(
    error: Any, path: list[str | int], rest: list[str | int], model: type[BaseModel]
) -> str:
    kind = error["type"]
    where = _dotted(path)
    if kind == "missing":
        return f"missing key '{rest[-1] if rest else path[-1]}'" + (f" in {where}" if where else "")
    if kind == "extra_forbidden":
        return f"unknown key '{path[-1]}'{_did_you_mean(str(path[-1]), model)}"
    if kind == "string_pattern_mismatch":
        return _pattern_message(path, error.get("input"))
    ctx = error.get("ctx", {})
    if kind == "union_tag_invalid":
        name = str(ctx.get("discriminator", "kind")).strip("'")
        tag, expected = ctx.get("tag"), ctx.get("expected_tags", "")
        return _at(where, f"unknown {name} {tag!r}, expected one of {expected}")
    if kind == "union_tag_not_found":
        return f"missing key {ctx.get('discriminator', '')}" + (f" in {where}" if where else "")
    found = _kind_of(error.get("input"))
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        if ctx.get("class_name") == "Label":
            return _at(where, f"expected a text, or sv: and en: texts, found {found}")
        return _at(where, f"expected a mapping of keys to values, found {found}")
    if kind in {"tuple_type", "list_type"}:
        return _at(where, f"expected a list, found {found}")
    if kind == "string_type":
        return _at(where, f"expected a text, found {found}")
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return _at(where, f"expected a whole number, found {found}")
    if kind in {"bool_type", "bool_parsing"}:
        return _at(where, f"expected true or false, found {found}")
    return _at(where, str(error["msg"]).removeprefix("Value error, "))


def _at(where: str, message: str) -> str:
    return f"{where}: {message}" if where else message


def _kind_of(value: Any) -> str:
    """What a value is, in words for people rather than Python type names."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _pattern_message(path: list[str | int], value: Any) -> str:
    names = {part for part in path if isinstance(part, str)}
    where = _dotted(path)
    if names & DURATION_FIELDS:
        return (
            f"{where}: {value!r} is not a duration: use ISO 8601 (P14D, PT2H, P1M) "
            "or working days (10wd)"
        )
    if path and path[-1] in {"start"}:
        return f"{where}: {value!r} is not a time of day (HH:MM)"
    if path and path[-1] in {"deadline"}:
        return f"{where}: {value!r} is not a date of the year (MM-DD)"
    return f"{where}: {value!r} is not a valid key: use lower-case ASCII letters, digits and _"


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _did_you_mean(name: str, model: type[BaseModel]) -> str:
    close = difflib.get_close_matches(name, sorted(_field_names(model)), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _field_names(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(info.alias or name)
        for sub in _models_in(info.annotation):
            names |= _field_names(sub, seen)
    return names


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()):
        yield from _models_in(arg)
    for meta in getattr(annotation, "__metadata__", ()):
        yield from _models_in(meta)


# ---------------------------------------------------------------- checks of the whole machine


def check_definition(
    definition: ProcessDefinition,
    template_exists: Callable[[str], bool] = lambda _name: True,
    known_processes: Callable[[str], bool] = lambda _key: True,
) -> list[Found]:
    """Checks that need the whole definition; each returns ``(path, message)``."""
    checks: list[Callable[[ProcessDefinition], Iterable[Found]]] = [
        _duplicates,
        _step_references,
        _roles,
        _reachability,
        _dead_ends,
        _auto_transitions,
        _document_conditions,
        _subject_schedule,
        _forms,
    ]
    found = [problem for check in checks for problem in check(definition)]
    found += _templates(definition, template_exists)
    found += _opened_processes(definition, known_processes)
    return found


def _duplicates(definition: ProcessDefinition) -> Iterator[Found]:
    yield from _duplicate_keys([s.key for s in definition.steps], "steps", "step")
    for i, step in enumerate(definition.steps):
        yield from _duplicate_keys([t.key for t in step.tasks], ("steps", i, "tasks"), "task")
    seen: set[tuple[str, str]] = set()
    for index, transition in enumerate(definition.transitions):
        for source in transition.source:
            if (transition.trigger, source) in seen:
                yield (
                    ("transitions", index, "trigger"),
                    f"trigger '{transition.trigger}' is defined twice from step '{source}'",
                )
            seen.add((transition.trigger, source))


def _duplicate_keys(
    keys: list[str], base: str | tuple[str | int, ...], what: str
) -> Iterator[Found]:
    prefix = (base,) if isinstance(base, str) else base
    seen: set[str] = set()
    for index, key in enumerate(keys):
        if key in seen:
            yield ((*prefix, index, "key"), f"{what} '{key}' is defined twice")
        seen.add(key)


def _step_references(definition: ProcessDefinition) -> Iterator[Found]:
    steps = set(definition.step_keys)
    if definition.initial is not None and definition.initial not in steps:
        yield (("initial",), f"initial step '{definition.initial}' is not a step")
    for index, key in enumerate(definition.final):
        if key not in steps:
            yield (("final", index), f"final step '{key}' is not a step")
    for index, transition in enumerate(definition.transitions):
        for source in transition.source:
            if source not in steps:
                yield (
                    ("transitions", index, "from"),
                    f"transition '{transition.trigger}' starts from unknown step '{source}'",
                )
        if transition.dest not in steps:
            yield (
                ("transitions", index, "to"),
                f"transition '{transition.trigger}' goes to unknown step '{transition.dest}'",
            )


def _roles(definition: ProcessDefinition) -> Iterator[Found]:
    declared = {CHAIR, *definition.all_roles}
    for i, step in enumerate(definition.steps):
        for j, task in enumerate(step.tasks):
            if task.role not in declared:
                yield (("steps", i, "tasks", j, "role"), _undeclared(task.role))
            if task.escalate is not None and task.escalate.to not in declared:
                yield (("steps", i, "tasks", j, "escalate", "to"), _undeclared(task.escalate.to))
    for index, transition in enumerate(definition.transitions):
        for role in transition.by:
            if role not in declared:
                yield (("transitions", index, "by"), _undeclared(role))


def _undeclared(role: str) -> str:
    return f"role '{role}' is not declared: add it to 'roles' (or use 'chair')"


def _successors(definition: ProcessDefinition) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {key: set() for key in definition.step_keys}
    for transition in definition.transitions:
        for source in transition.source:
            graph.setdefault(source, set()).add(transition.dest)
    return graph


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _reachability(definition: ProcessDefinition) -> Iterator[Found]:
    graph = _successors(definition)
    reached = _reachable(graph, definition.initial_step)
    for index, step in enumerate(definition.steps):
        if step.key not in reached:
            yield (
                ("steps", index, "key"),
                f"step '{step.key}' cannot be reached from the initial step "
                f"'{definition.initial_step}'",
            )
    if not reached & set(definition.final):
        yield (("final",), f"no final step can be reached from '{definition.initial_step}'")


def _dead_ends(definition: ProcessDefinition) -> Iterator[Found]:
    graph = _successors(definition)
    final = set(definition.final)
    for index, step in enumerate(definition.steps):
        if step.key not in final and not graph[step.key]:
            yield (
                ("steps", index, "key"),
                f"step '{step.key}' is not final and has no transition out of it",
            )
        if step.key in final and graph[step.key]:
            yield (("steps", index, "key"), f"final step '{step.key}' has a transition out of it")


def _auto_transitions(definition: ProcessDefinition) -> Iterator[Found]:
    autos: dict[str, int] = {}
    steps = {step.key: step for step in definition.steps}
    for index, transition in enumerate(definition.transitions):
        if not transition.auto:
            continue
        for source in transition.source:
            autos[source] = autos.get(source, 0) + 1
            step = steps.get(source)
            if step is not None and not _required_tasks(step):
                yield (
                    ("transitions", index, "auto"),
                    f"automatic transition '{transition.trigger}' leaves step '{source}', "
                    "which has no required tasks, so it would fire at once",
                )
            if autos[source] == 2:
                yield (
                    ("transitions", index, "auto"),
                    f"step '{source}' has more than one automatic transition",
                )


def _required_tasks(step: Step) -> bool:
    return any(task.required for task in step.tasks)


def _document_conditions(definition: ProcessDefinition) -> Iterator[Found]:
    steps = {step.key: step for step in definition.steps}
    for index, transition in enumerate(definition.transitions):
        if "documents_produced" not in transition.conditions:
            continue
        for source in transition.source:
            if source in steps and not steps[source].produces:
                yield (
                    ("transitions", index, "conditions"),
                    f"condition documents_produced, but step '{source}' produces no documents",
                )


def _subject_schedule(definition: ProcessDefinition) -> Iterator[Found]:
    over = getattr(definition.schedule, "over", None)
    wanted = {"towns": "town", "areas": "area"}.get(over or "")
    if wanted is not None and definition.subject != wanted:
        # Point at 'subject' when the file gives one, else at the schedule that needs it.
        path = ("subject",) if "subject" in definition.model_fields_set else ("schedule", "kind")
        yield (path, f"schedule '{definition.schedule.kind}' over {over} needs subject: {wanted}")


CHOICE_TYPES = {"choice", "choices"}
BOUNDED_TYPES = {"number", "choices", "text"}
LAGESBILD_TYPES = {
    "category": {"choice", "choices"},
    "town": {"town", "area"},
    "place": {"text"},
    "when": {"date", "datetime"},
    "count": {"number"},
    "description": {"text"},
    "action": {"text"},
}


def _forms(definition: ProcessDefinition) -> Iterator[Found]:
    for i, step in enumerate(definition.steps):
        for j, task in enumerate(step.tasks):
            if task.form is not None:
                yield from _form_problems(task.form, ("steps", i, "tasks", j, "form"))


def _form_problems(form: Form, base: tuple[str | int, ...]) -> Iterator[Found]:
    questions = (*base, "questions")
    if not form.questions:
        yield (questions, "a form needs at least one question")
    yield from _duplicate_keys([q.key for q in form.questions], questions, "question")
    for label, where in ((form.title, "title"), (form.description, "description")):
        if label is not None and not (label.sv.strip() and label.en.strip()):
            yield ((*base, where), f"form {where} is blank")
    parts: dict[str, str] = {}
    for index, question in enumerate(form.questions):
        path = (*questions, index)
        yield from _question_problems(question, path)
        part = question.lagesbild
        if part is None:
            continue
        if part in parts:
            yield (
                (*path, "lagesbild"),
                f"questions '{parts[part]}' and '{question.key}' are both the lägesbild's {part}",
            )
        parts.setdefault(part, question.key)
        wanted = LAGESBILD_TYPES[part]
        if question.type not in wanted:
            yield (
                (*path, "lagesbild"),
                f"question '{question.key}' is of type {question.type}, but the lägesbild's "
                f"{part} needs {' or '.join(sorted(wanted))}",
            )


def _question_problems(question: Question, path: tuple[str | int, ...]) -> Iterator[Found]:
    key, kind = question.key, question.type
    if not (question.label.sv.strip() and question.label.en.strip()):
        yield ((*path, "label"), f"question '{key}' has a blank label")
    if kind in CHOICE_TYPES:
        if len(question.choices) < 2:
            yield (
                (*path, "choices") if question.choices else (*path, "type"),
                f"question '{key}' of type {kind} needs at least two choices",
            )
        seen: set[str] = set()
        for index, choice in enumerate(question.choices):
            if choice.key in seen:
                yield (
                    (*path, "choices", index, "key"),
                    f"choice '{choice.key}' of question '{key}' is defined twice",
                )
            seen.add(choice.key)
        yield from _choice_labels(question, path)
    elif question.choices:
        yield (
            (*path, "choices"),
            f"question '{key}' is of type {kind}: only choice and choices have choices",
        )
    if question.integer and kind != "number":
        yield ((*path, "integer"), f"question '{key}' is of type {kind}: integer is for numbers")
    yield from _bounds(question, path)


def _choice_labels(question: Question, path: tuple[str | int, ...]) -> Iterator[Found]:
    seen: dict[str, str] = {}
    for index, choice in enumerate(question.choices):
        where = (*path, "choices", index, "label")
        if not (choice.label.sv.strip() and choice.label.en.strip()):
            yield (where, f"choice '{choice.key}' of question '{question.key}' has a blank label")
            continue
        for text in {choice.label.sv.strip().casefold(), choice.label.en.strip().casefold()}:
            other = seen.get(text)
            if other is not None and other != choice.key:
                yield (
                    where,
                    f"choices '{other}' and '{choice.key}' of question '{question.key}' have "
                    f"the same label '{text}'",
                )
            seen.setdefault(text, choice.key)


def _bounds(question: Question, path: tuple[str | int, ...]) -> Iterator[Found]:
    key, kind = question.key, question.type
    given = [
        (name, value)
        for name, value in (("min", question.min), ("max", question.max))
        if value is not None
    ]
    if not given:
        return
    if kind not in BOUNDED_TYPES:
        name = given[0][0]
        yield (
            (*path, name),
            f"question '{key}' is of type {kind}: min and max are only for number, choices and text",
        )
        return
    if kind != "number":
        what = "choices" if kind == "choices" else "characters"
        for name, value in given:
            if value < 0 or value != int(value):
                yield (
                    (*path, name),
                    f"question '{key}': {name} counts {what}, so it is a whole number of at least 0",
                )
        if kind == "choices" and question.choices:
            for name, value in given:
                if value > len(question.choices):
                    yield (
                        (*path, name),
                        f"question '{key}': {name} is {_number(value)} but there are only "
                        f"{len(question.choices)} choices",
                    )
    if question.min is not None and question.max is not None and question.min > question.max:
        yield (
            (*path, "max"),
            f"question '{key}': max ({_number(question.max)}) is less than min "
            f"({_number(question.min)})",
        )


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _templates(definition: ProcessDefinition, exists: Callable[[str], bool]) -> Iterator[Found]:
    for i, step in enumerate(definition.steps):
        for j, task in enumerate(step.tasks):
            if not exists(task.template):
                yield (
                    ("steps", i, "tasks", j, "template"),
                    f"mail template '{task.template}' does not exist in notifications/sv and /en",
                )


def _opened_processes(
    definition: ProcessDefinition, known: Callable[[str], bool]
) -> Iterator[Found]:
    for i, step in enumerate(definition.steps):
        for j, opens in enumerate(step.opens):
            if not known(opens.process):
                yield (("steps", i, "opens", j, "process"), f"unknown process '{opens.process}'")


# ---------------------------------------------------------------- files


def load_process_document(
    document: Document,
    template_exists: Callable[[str], bool] = lambda _name: True,
    known_processes: Callable[[str], bool] = lambda _key: True,
) -> tuple[ProcessDefinition | None, list[Problem]]:
    definition, problems = model_problems(document, ProcessDefinition)
    if definition is None:
        return None, problems
    found = check_definition(definition, template_exists, known_processes)
    problems = _unique(document.problem(path, message) for path, message in found)
    return (definition if not problems else None), problems


def load_process_file(path: Path, **checks: Callable[[str], bool]) -> ProcessDefinition:
    """Load one definition file or raise ``DefinitionError`` listing every problem."""
    try:
        document = read_file(path)
    except ReadError as exc:
        raise DefinitionError([str(exc.problem)]) from None
    definition, problems = load_process_document(document, **checks)
    if definition is None:
        raise DefinitionError([str(problem) for problem in problems])
    return definition
