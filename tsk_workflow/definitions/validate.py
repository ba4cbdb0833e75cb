"""Loading a definition: read, validate with the model, then check the whole machine.

Every problem becomes a ``Problem`` with file, line and column. Nothing here does I/O except
``load_process_file``; the checks are pure functions of the model and the document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tsk_workflow.definitions.model import CHAIR, Form, ProcessDefinition, Question, Step
from tsk_workflow.definitions.reader import Document, Problem, ReadError, read_file
from tsk_workflow.errors import DefinitionError, did_you_mean
from tsk_workflow.i18n import N_, _, ngettext

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
        return _missing(str(rest[-1] if rest else path[-1]), where)
    if kind == "extra_forbidden":
        return _("unknown key '{key}'").format(key=path[-1]) + _did_you_mean(str(path[-1]), model)
    if kind == "string_pattern_mismatch":
        return _pattern_message(path, error.get("input"))
    ctx = error.get("ctx", {})
    if kind == "union_tag_invalid":
        name = str(ctx.get("discriminator", "kind")).strip("'")
        tag, expected = ctx.get("tag"), ctx.get("expected_tags", "")
        message = _("unknown {name} {tag}, expected one of {expected}")
        return _at(where, message.format(name=name, tag=repr(tag), expected=expected))
    if kind == "union_tag_not_found":
        return _missing(str(ctx.get("discriminator", "")), where, quoted=False)
    found = _kind_of(error.get("input"))
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        if ctx.get("class_name") == "Label":
            return _at(where, _("expected a text, or sv: and en: texts, found {found}"), found)
        return _at(where, _("expected a mapping of keys to values, found {found}"), found)
    if kind in {"tuple_type", "list_type"}:
        return _at(where, _("expected a list, found {found}"), found)
    if kind == "string_type":
        return _at(where, _("expected a text, found {found}"), found)
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return _at(where, _("expected a whole number, found {found}"), found)
    if kind in {"bool_type", "bool_parsing"}:
        return _at(where, _("expected true or false, found {found}"), found)
    return _at(where, error_text(error))


def error_text(error: Any) -> str:
    """Pydantic's message of ``error`` in the language spoken: its usual bounds and literals
    translated (in English as pydantic words them), a validator's own message as it is."""
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace(" or ", _(" or "))
        return _("Input should be {expected}").format(expected=expected)
    if kind in BOUNDS:
        name, message = BOUNDS[kind]
        return _(message).format(limit=ctx.get(name))
    if kind in {"string_too_short", "string_too_long"}:
        n = int(ctx.get("min_length" if kind == "string_too_short" else "max_length", 0))
        message = (
            ngettext(
                "String should have at least {n} character",
                "String should have at least {n} characters",
                n,
            )
            if kind == "string_too_short"
            else ngettext(
                "String should have at most {n} character",
                "String should have at most {n} characters",
                n,
            )
        )
        return message.format(n=n)
    if kind == "too_short" and ctx.get("min_length") == 1:
        return _("needs at least one value")
    return str(error["msg"]).removeprefix("Value error, ")


BOUNDS = {
    "greater_than_equal": ("ge", N_("Input should be greater than or equal to {limit}")),
    "greater_than": ("gt", N_("Input should be greater than {limit}")),
    "less_than_equal": ("le", N_("Input should be less than or equal to {limit}")),
    "less_than": ("lt", N_("Input should be less than {limit}")),
}
"""Pydantic's bounds on numbers: the limit in the error's context, and the message."""


def _missing(key: str, where: str, *, quoted: bool = True) -> str:
    """``missing key 'x' in steps[0]`` (a discriminator is named without quotes)."""
    shown = f"'{key}'" if quoted else key
    if where:
        return _("missing key {key} in {where}").format(key=shown, where=where)
    return _("missing key {key}").format(key=shown)


def _at(where: str, message: str, found: str | None = None) -> str:
    """``message`` (with what was ``found`` filled in) after the place it is about."""
    if found is not None:
        message = message.format(found=found)
    return f"{where}: {message}" if where else message


def _kind_of(value: Any) -> str:
    """What a value is, in words for people rather than Python type names."""
    if value is None:
        return _("nothing")
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, int | float):
        return _("the number {value}").format(value=value)
    if isinstance(value, str):
        return _("the text {value}").format(value=repr(value))
    if isinstance(value, dict):
        return _("a mapping")
    if isinstance(value, list | tuple):
        return _("a list")
    return type(value).__name__


def _pattern_message(path: list[str | int], value: Any) -> str:
    names = {part for part in path if isinstance(part, str)}
    where = _dotted(path)
    if names & DURATION_FIELDS:
        message = NOT_A_DURATION
    elif path and path[-1] in {"start"}:
        message = N_("{value} is not a time of day (HH:MM)")
    elif path and path[-1] in {"deadline"}:
        message = N_("{value} is not a date of the year (MM-DD)")
    else:
        message = N_("{value} is not a valid key: use lower-case ASCII letters, digits and _")
    return f"{where}: " + _(message).format(value=repr(value))


NOT_A_DURATION = N_(
    "{value} is not a duration: use ISO 8601 (P14D, PT2H, P1M) or working days (10wd)"
)


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _did_you_mean(name: str, model: type[BaseModel]) -> str:
    return did_you_mean(name, _field_names(model))


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
        _action_conditions,
        _subject_schedule,
        _forms,
    ]
    found = [problem for check in checks for problem in check(definition)]
    found += _templates(definition, template_exists)
    found += _opened_processes(definition, known_processes)
    return found


def _duplicates(definition: ProcessDefinition) -> Iterator[Found]:
    yield from _duplicate_keys([s.key for s in definition.steps], "steps", TWICE["step"])
    for i, step in enumerate(definition.steps):
        keys = [t.key for t in step.tasks]
        yield from _duplicate_keys(keys, ("steps", i, "tasks"), TWICE["task"])
    seen: set[tuple[str, str]] = set()
    for index, transition in enumerate(definition.transitions):
        for source in transition.source:
            if (transition.trigger, source) in seen:
                yield (
                    ("transitions", index, "trigger"),
                    _("trigger '{trigger}' is defined twice from step '{step}'").format(
                        trigger=transition.trigger, step=source
                    ),
                )
            seen.add((transition.trigger, source))


TWICE = {
    "step": N_("step '{key}' is defined twice"),
    "task": N_("task '{key}' is defined twice"),
    "question": N_("question '{key}' is defined twice"),
}
"""What a key given twice says, by what it names (translated when found)."""


def _duplicate_keys(
    keys: list[str], base: str | tuple[str | int, ...], message: str
) -> Iterator[Found]:
    prefix = (base,) if isinstance(base, str) else base
    seen: set[str] = set()
    for index, key in enumerate(keys):
        if key in seen:
            yield ((*prefix, index, "key"), _(message).format(key=key))
        seen.add(key)


def _step_references(definition: ProcessDefinition) -> Iterator[Found]:
    steps = set(definition.step_keys)
    if definition.initial is not None and definition.initial not in steps:
        message = _("initial step '{step}' is not a step").format(step=definition.initial)
        yield (("initial",), message)
    for index, key in enumerate(definition.final):
        if key not in steps:
            yield (("final", index), _("final step '{step}' is not a step").format(step=key))
    for index, transition in enumerate(definition.transitions):
        for source in transition.source:
            if source not in steps:
                yield (
                    ("transitions", index, "from"),
                    _("transition '{trigger}' starts from unknown step '{step}'").format(
                        trigger=transition.trigger, step=source
                    ),
                )
        if transition.dest not in steps:
            yield (
                ("transitions", index, "to"),
                _("transition '{trigger}' goes to unknown step '{step}'").format(
                    trigger=transition.trigger, step=transition.dest
                ),
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
    return _("role '{role}' is not declared: add it to 'roles' (or use 'chair')").format(role=role)


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
                _("step '{step}' cannot be reached from the initial step '{initial}'").format(
                    step=step.key, initial=definition.initial_step
                ),
            )
    if not reached & set(definition.final):
        message = _("no final step can be reached from '{initial}'")
        yield (("final",), message.format(initial=definition.initial_step))


def _dead_ends(definition: ProcessDefinition) -> Iterator[Found]:
    graph = _successors(definition)
    final = set(definition.final)
    for index, step in enumerate(definition.steps):
        if step.key not in final and not graph[step.key]:
            yield (
                ("steps", index, "key"),
                _("step '{step}' is not final and has no transition out of it").format(
                    step=step.key
                ),
            )
        if step.key in final and graph[step.key]:
            message = _("final step '{step}' has a transition out of it").format(step=step.key)
            yield (("steps", index, "key"), message)


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
                    _(
                        "automatic transition '{trigger}' leaves step '{step}', "
                        "which has no required tasks, so it would fire at once"
                    ).format(trigger=transition.trigger, step=source),
                )
            if autos[source] == 2:
                yield (
                    ("transitions", index, "auto"),
                    _("step '{step}' has more than one automatic transition").format(step=source),
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
                    _(
                        "condition documents_produced, but step '{step}' produces no documents"
                    ).format(step=source),
                )


def _action_conditions(definition: ProcessDefinition) -> Iterator[Found]:
    steps = {step.key: step for step in definition.steps}
    for index, transition in enumerate(definition.transitions):
        if "actions_recorded" not in transition.conditions:
            continue
        for source in transition.source:
            if source in steps and not steps[source].actions:
                yield (
                    ("transitions", index, "conditions"),
                    _(
                        "condition actions_recorded, but step '{step}' makes no actions"
                        " (actions: true)"
                    ).format(step=source),
                )


def _subject_schedule(definition: ProcessDefinition) -> Iterator[Found]:
    over = getattr(definition.schedule, "over", None)
    wanted = {"towns": "town", "areas": "area"}.get(over or "")
    if wanted is not None and definition.subject != wanted:
        # Point at 'subject' when the file gives one, else at the schedule that needs it.
        path = ("subject",) if "subject" in definition.model_fields_set else ("schedule", "kind")
        message = _("schedule '{kind}' over {over} needs subject: {subject}")
        yield (path, message.format(kind=definition.schedule.kind, over=over, subject=wanted))


CHOICE_TYPES = {"choice", "choices"}
BOUNDED_TYPES = {"number", "per_town", "choices", "text"}
NUMBER_TYPES = {"number", "per_town"}
"""The types whose answers are numbers: ``min``, ``max`` and ``integer`` bound each number."""
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
        yield (questions, _("a form needs at least one question"))
    yield from _duplicate_keys([q.key for q in form.questions], questions, TWICE["question"])
    blank = {"title": N_("form title is blank"), "description": N_("form description is blank")}
    for label, where in ((form.title, "title"), (form.description, "description")):
        if label is not None and not (label.sv.strip() and label.en.strip()):
            yield ((*base, where), _(blank[where]))
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
                _("questions '{first}' and '{second}' are both the lägesbild's {part}").format(
                    first=parts[part], second=question.key, part=part
                ),
            )
        parts.setdefault(part, question.key)
        wanted = LAGESBILD_TYPES[part]
        if question.type not in wanted:
            yield (
                (*path, "lagesbild"),
                _(
                    "question '{key}' is of type {type}, but the lägesbild's {part} needs {types}"
                ).format(
                    key=question.key,
                    type=question.type,
                    part=part,
                    types=_(" or ").join(sorted(wanted)),
                ),
            )


def _question_problems(question: Question, path: tuple[str | int, ...]) -> Iterator[Found]:
    key, kind = question.key, question.type
    if not (question.label.sv.strip() and question.label.en.strip()):
        yield ((*path, "label"), _("question '{key}' has a blank label").format(key=key))
    if kind in CHOICE_TYPES:
        if len(question.choices) < 2:
            yield (
                (*path, "choices") if question.choices else (*path, "type"),
                _("question '{key}' of type {type} needs at least two choices").format(
                    key=key, type=kind
                ),
            )
        seen: set[str] = set()
        for index, choice in enumerate(question.choices):
            if choice.key in seen:
                yield (
                    (*path, "choices", index, "key"),
                    _("choice '{choice}' of question '{key}' is defined twice").format(
                        choice=choice.key, key=key
                    ),
                )
            seen.add(choice.key)
        yield from _choice_labels(question, path)
    elif question.choices:
        yield (
            (*path, "choices"),
            _("question '{key}' is of type {type}: only choice and choices have choices").format(
                key=key, type=kind
            ),
        )
    if question.integer and kind not in NUMBER_TYPES:
        message = _("question '{key}' is of type {type}: integer is for numbers")
        yield ((*path, "integer"), message.format(key=key, type=kind))
    yield from _bounds(question, path)


def _choice_labels(question: Question, path: tuple[str | int, ...]) -> Iterator[Found]:
    seen: dict[str, str] = {}
    for index, choice in enumerate(question.choices):
        where = (*path, "choices", index, "label")
        if not (choice.label.sv.strip() and choice.label.en.strip()):
            message = _("choice '{choice}' of question '{key}' has a blank label")
            yield (where, message.format(choice=choice.key, key=question.key))
            continue
        for text in {choice.label.sv.strip().casefold(), choice.label.en.strip().casefold()}:
            other = seen.get(text)
            if other is not None and other != choice.key:
                yield (
                    where,
                    _(
                        "choices '{first}' and '{second}' of question '{key}' have "
                        "the same label '{label}'"
                    ).format(first=other, second=choice.key, key=question.key, label=text),
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
            _(
                "question '{key}' is of type {type}: "
                "min and max are only for number, per_town, choices and text"
            ).format(key=key, type=kind),
        )
        return
    if kind not in NUMBER_TYPES:
        counts = (
            N_("question '{key}': {name} counts choices, so it is a whole number of at least 0")
            if kind == "choices"
            else N_(
                "question '{key}': {name} counts characters, so it is a whole number of at least 0"
            )
        )
        for name, value in given:
            if value < 0 or value != int(value):
                yield ((*path, name), _(counts).format(key=key, name=name))
        if kind == "choices" and question.choices:
            for name, value in given:
                if value > len(question.choices):
                    yield (
                        (*path, name),
                        _(
                            "question '{key}': {name} is {value} but there are only {count} choices"
                        ).format(
                            key=key, name=name, value=_number(value), count=len(question.choices)
                        ),
                    )
    if question.min is not None and question.max is not None and question.min > question.max:
        yield (
            (*path, "max"),
            _("question '{key}': max ({max}) is less than min ({min})").format(
                key=key, max=_number(question.max), min=_number(question.min)
            ),
        )


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _templates(definition: ProcessDefinition, exists: Callable[[str], bool]) -> Iterator[Found]:
    for i, step in enumerate(definition.steps):
        for j, task in enumerate(step.tasks):
            if not exists(task.template):
                yield (
                    ("steps", i, "tasks", j, "template"),
                    _("mail template '{template}' does not exist in notifications/").format(
                        template=task.template
                    ),
                )


def _opened_processes(
    definition: ProcessDefinition, known: Callable[[str], bool]
) -> Iterator[Found]:
    for i, step in enumerate(definition.steps):
        for j, opens in enumerate(step.opens):
            if not known(opens.process):
                message = _("unknown process '{process}'").format(process=opens.process)
                yield (("steps", i, "opens", j, "process"), message)


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
