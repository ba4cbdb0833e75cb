"""Forms on tasks: checking answers against a form, and showing a form to people.

A task of a process definition may carry a ``form`` (``definitions.model.Form``). Its answers
are a mapping of question keys to values; ``check_answers`` turns what people gave (a YAML or
JSON file, or ``KEY=VALUE`` pairs) into the stored form of each answer, with one problem per
wrong answer. The engine checks again inside its act (``accept``): it is the authority.

Stored answers: ``choice``, ``town`` and ``area`` as their key; ``choices`` as a list of keys in
the form's order; ``date`` as ``YYYY-MM-DD``; ``datetime`` as ``YYYY-MM-DD`` or
``YYYY-MM-DDTHH:MM`` (local time); ``number`` as an integer when whole, else a float;
``per_town`` as a mapping of town keys to such numbers, in the organisation's order of its towns
(the towns without a figure left out); ``text`` as the text with surrounding white space
removed. Unanswered questions are left out.

A ``per_town`` question is given as a mapping of towns (key or name) to numbers, or as one
``KEY.TOWN`` name per town (``--answer andel_trygga.mjoback=81``, the web form's fields); a
problem with one town's figure is named ``KEY.TOWN``.

Pure functions of their inputs, except ``read_answers_file``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tsk_workflow import i18n
from tsk_workflow.canonical import digest
from tsk_workflow.definitions.model import Form, Label, ProcessDefinition, Question
from tsk_workflow.definitions.model import Task as TaskDef
from tsk_workflow.definitions.reader import Document, ReadError, read_file
from tsk_workflow.errors import Refused
from tsk_workflow.i18n import N_, _, ngettext
from tsk_workflow.organisation.model import Organisation

MAX_TEXT = 10_000
"""No free-text answer is longer than this, whatever the form says."""

# ---------------------------------------------------------------- problems


@dataclass(frozen=True)
class AnswerProblem:
    """One wrong answer: the question (or given key) and what is wrong with it."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class InvalidAnswers(Refused):
    """The answers do not fit the form; ``problems`` has one entry per wrong answer."""

    def __init__(self, task_id: int | None, problems: Sequence[AnswerProblem]) -> None:
        self.task_id = task_id
        self.problems = list(problems)
        listed = "; ".join(map(str, self.problems))
        if task_id is None:
            message = _("the answers do not fit its form: {problems}").format(problems=listed)
        else:
            message = _("the answers to task {id} do not fit its form: {problems}").format(
                id=task_id, problems=listed
            )
        super().__init__(message)


# ---------------------------------------------------------------- the form of a task


def task_definition(definition: ProcessDefinition, step: str, key: str) -> TaskDef | None:
    """The definition of the task ``key`` of ``step``, or None if the definition lost it."""
    if step not in definition.step_keys:
        return None
    return next((t for t in definition.step(step).tasks if t.key == key), None)


def form_of(definition: ProcessDefinition, step: str, key: str) -> Form | None:
    task = task_definition(definition, step, key)
    return task.form if task is not None else None


def reporter_forms(definition: ProcessDefinition) -> dict[tuple[str, str], Form]:
    """The forms of the process's reporter tasks by ``(step, task key)``: the tasks whose form
    has a question that is the lägesbild's category (``lagesbild: category``)."""
    return {
        (step.key, task.key): task.form
        for step in definition.steps
        for task in step.tasks
        if task.form is not None and task.form.part("category") is not None
    }


def lagesbild_categories(definitions: Iterable[ProcessDefinition]) -> dict[str, Label]:
    """The lägesbild's categories: the choices of the category question of the reporter forms
    of ``definitions``, by key, in the forms' order (the first label of a key wins)."""
    found: dict[str, Label] = {}
    for definition in definitions:
        for form in reporter_forms(definition).values():
            question = form.part("category")
            assert question is not None
            for choice in question.choices:
                found.setdefault(choice.key, choice.label)
    return found


# ---------------------------------------------------------------- checking answers


def check_answers(
    form: Form, given: Mapping[str, Any], org: Organisation
) -> tuple[dict[str, Any], list[AnswerProblem]]:
    """The stored answers and the problems, one per wrong answer (in the form's order)."""
    answers: dict[str, Any] = {}
    problems: list[AnswerProblem] = []
    keys = [q.key for q in form.questions]
    given = folded(form, given)
    for name in given:
        if str(name) not in keys:
            problems.append(AnswerProblem(str(name), _unknown(str(name), keys)))
    for question in form.questions:
        value = given.get(question.key)
        if _empty(value):
            if question.required:
                problems.append(AnswerProblem(question.key, _("needs an answer (it is required)")))
            continue
        if question.type == "per_town":
            figures, wrong_towns = _per_town(question, value, org)
            problems += wrong_towns
            if not wrong_towns:
                answers[question.key] = figures
            continue
        try:
            answers[question.key] = _answer(question, value, org)
        except _Wrong as wrong:
            problems.append(AnswerProblem(question.key, str(wrong)))
    order = {key: index for index, key in enumerate(keys)}
    problems.sort(key=lambda p: order.get(p.key.partition(".")[0], len(order)))
    return answers, problems


def folded(form: Form, given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` with each ``KEY.TOWN`` name of a ``per_town`` question KEY folded into KEY's
    mapping of towns (a town given both ways: the ``KEY.TOWN`` one wins)."""
    per_town = {q.key for q in form.questions if q.type == "per_town"}
    found: dict[str, Any] = {}
    towns: dict[str, dict[Any, Any]] = {}
    for name, value in given.items():
        key, dot, town = str(name).partition(".")
        if dot and key in per_town:
            towns.setdefault(key, {})[town] = value
        else:
            found[str(name)] = value
    for key, figures in towns.items():
        whole = found.get(key)
        found[key] = {**whole, **figures} if isinstance(whole, Mapping) else figures
    return found


def text_answers(form: Form | None, answers: Mapping[str, Any] | None) -> dict[str, Any]:
    """The answers to the *text* questions of ``form``, by key: what a person wrote freely."""
    if form is None or not answers:
        return {}
    keys = {question.key for question in form.questions if question.type == "text"}
    return {key: value for key, value in answers.items() if key in keys}


def accept(
    form: Form | None,
    given: Mapping[str, Any] | None,
    org: Organisation,
    task_id: int,
    nothing_to_report: bool = False,
) -> dict[str, Any] | None:
    """What the engine stores for a task completed with ``given``, or ``InvalidAnswers`` /
    ``Refused``: answers to a task without a form, no answers to a task whose form is required.

    A task whose form is not required is done without answers only when ``nothing_to_report``
    says so (``task done --nothing-to-report``): a reporter who ran ``task done N --note ...``
    as the mail once said was recorded as having nothing to report. ``nothing_to_report``
    with answers, or on a task without a form, is refused too.
    """
    present = answered(given)
    if form is None:
        if present:
            raise Refused(
                _("task {id} has no form: complete it without answers").format(id=task_id)
            )
        if nothing_to_report:
            raise Refused(
                _("task {id} has no form: complete it without --nothing-to-report").format(
                    id=task_id
                )
            )
        return None
    if present and nothing_to_report:
        raise Refused(
            _("task {id}: give the answers or --nothing-to-report, not both").format(id=task_id)
        )
    if not present:
        if form.required:
            raise Refused(
                _(
                    "task {id} has a form that must be answered: give --answers FILE or "
                    "--answer KEY=VALUE (see 'tsk task form {id}')"
                ).format(id=task_id)
            )
        if not nothing_to_report:
            file = answers_file(task_id)
            raise Refused(
                _(
                    "task {id} has a form: answer it ('tsk task form {id} --template {file}',"
                    " then 'tsk task done {id} --answers {file}'), or give --nothing-to-report"
                ).format(id=task_id, file=file)
            )
        return None
    assert given is not None
    answers, problems = check_answers(form, given, org)
    if problems:
        raise InvalidAnswers(task_id, problems)
    return answers


def answers_file(task_id: int) -> str:
    """The file a person writes the answers to task ``task_id`` in, named in their language."""
    return _("answers-{id}.yaml").format(id=task_id)


def answered(given: Mapping[str, Any] | None) -> bool:
    """Whether ``given`` answers anything at all (an unfilled template does not)."""
    return given is not None and any(not _empty(value) for value in given.values())


def answers_digest(answers: Mapping[str, Any] | None) -> str | None:
    """The SHA-256 of the stored answers (canonical JSON), kept in the audit event."""
    return None if answers is None else digest(dict(answers))


class _Wrong(Exception):
    pass


def _empty(value: Any) -> bool:
    """Whether ``value`` leaves the question unanswered (nothing, blank, an empty list)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, Mapping):
        return all(_empty(item) for item in value.values())
    if isinstance(value, list | tuple):
        return not value
    return False


def _unknown(name: str, keys: list[str]) -> str:
    close = difflib.get_close_matches(name, keys, n=1)
    if close:
        return _("no such question in the form (did you mean '{key}'?)").format(key=close[0])
    return _("no such question in the form (questions: {keys})").format(keys=", ".join(keys))


def _answer(question: Question, value: Any, org: Organisation) -> Any:
    kind = question.type
    if kind == "choice":
        return _one_choice(question, _scalar_text(value))
    if kind == "choices":
        return _several(question, value)
    if kind == "town":
        return _place(value, [(t.key, t.name) for t in org.towns], PLACE_WORDS["town"], org)
    if kind == "area":
        return _place(value, [(a.key, a.name) for a in org.areas], PLACE_WORDS["area"], org)
    if kind == "date":
        return _date(value).isoformat()
    if kind == "datetime":
        return _datetime(value, org)
    if kind == "number":
        return _number(question, value)
    return _text(question, value)


def _scalar_text(value: Any) -> str:
    if isinstance(value, list | dict | tuple):
        raise _Wrong(_("give one value, not a list"))
    return str(value).strip()


def _one_choice(question: Question, text: str) -> str:
    wanted = text.casefold()
    for choice in question.choices:
        if wanted in {
            choice.key.casefold(),
            choice.label.sv.strip().casefold(),
            choice.label.en.strip().casefold(),
        }:
            return choice.key
    allowed = ", ".join(c.key for c in question.choices)
    raise _Wrong(
        _("{value} is not one of the choices ({allowed})").format(value=repr(text), allowed=allowed)
    )


def _several(question: Question, value: Any) -> list[str]:
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, list | tuple):
        items = [_scalar_text(item) for item in value]
    else:
        items = [_scalar_text(value)]
    items = [item for item in items if item]
    chosen: set[str] = set()
    wrong: list[str] = []
    for item in items:
        try:
            chosen.add(_one_choice(question, item))
        except _Wrong:
            wrong.append(repr(item))
    if wrong:
        allowed = ", ".join(c.key for c in question.choices)
        raise _Wrong(
            ngettext(
                "{values} is not among the choices ({allowed})",
                "{values} are not among the choices ({allowed})",
                len(wrong),
            ).format(values=", ".join(wrong), allowed=allowed)
        )
    ordered = [c.key for c in question.choices if c.key in chosen]
    low, high = question.min, question.max
    if low is not None and len(ordered) < low:
        raise _Wrong(_("choose at least {n}").format(n=int(low)))
    if high is not None and len(ordered) > high:
        raise _Wrong(_("choose at most {n}").format(n=int(high)))
    return ordered


def _per_town(
    question: Question, value: Any, org: Organisation
) -> tuple[dict[str, int | float], list[AnswerProblem]]:
    """The figure of each town given (a mapping of town keys or names to numbers) in the
    organisation's order, and a problem for each town that is not one or whose figure is wrong
    (named ``KEY.TOWN``)."""
    if not isinstance(value, Mapping):
        return {}, [
            AnswerProblem(
                question.key,
                _(
                    "give a number for each town: a mapping of towns to numbers in a file, or"
                    " {key}.TOWN=NUMBER"
                ).format(key=question.key),
            )
        ]
    known = [(t.key, t.name) for t in org.towns]
    found: dict[str, int | float] = {}
    problems: list[AnswerProblem] = []
    for name, figure in value.items():
        try:
            town = _place(name, known, PLACE_WORDS["town"], org)
        except _Wrong as wrong:
            problems.append(AnswerProblem(f"{question.key}.{name}", str(wrong)))
            continue
        if _empty(figure):
            continue
        try:
            found[town] = _number(question, figure)
        except _Wrong as wrong:
            problems.append(AnswerProblem(f"{question.key}.{town}", str(wrong)))
    return {key: found[key] for key, _name in known if key in found}, problems


PLACE_WORDS = {
    "town": (N_("{org} has no towns listed"), N_("{value} is not a town of {org} ({keys})")),
    "area": (N_("{org} has no areas listed"), N_("{value} is not an area of {org} ({keys})")),
}
"""What a town or area answer says when it is not one: none listed, or not among them."""


def _place(
    value: Any, known: list[tuple[str, str]], words: tuple[str, str], org: Organisation
) -> str:
    text = _scalar_text(value)
    wanted = text.casefold()
    for key, name in known:
        if wanted in {key.casefold(), name.casefold()}:
            return key
    none_listed, not_one = words
    if not known:
        raise _Wrong(_(none_listed).format(org=org.name))
    keys = ", ".join(key for key, _name in known)
    raise _Wrong(_(not_one).format(value=repr(text), org=org.name, keys=keys))


def _date(value: Any) -> dt.date:
    from tsk_workflow.calendar import parse_date  # here: the calendar imports dateutil

    if isinstance(value, dt.datetime):
        raise _Wrong(_("give a date (YYYY-MM-DD) without a time"))
    if isinstance(value, dt.date):
        return value
    try:
        return parse_date(_scalar_text(value))
    except ValueError as wrong:
        raise _Wrong(str(wrong)) from None


def _datetime(value: Any, org: Organisation) -> str:
    from tsk_workflow.calendar import ISO_DATE, parse_date

    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        return value.isoformat()
    else:
        text = _scalar_text(value)
        if ISO_DATE.fullmatch(text[:10]):
            try:  # a date that does not exist says so, with or without a time
                day = parse_date(text[:10])
            except ValueError as wrong:
                raise _Wrong(str(wrong)) from None
            if len(text) == 10:
                return day.isoformat()
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise _Wrong(
                _("{value} is not a date and time (YYYY-MM-DD HH:MM, or just YYYY-MM-DD)").format(
                    value=repr(text)
                )
            ) from None
    if moment.tzinfo is not None:
        from zoneinfo import ZoneInfo

        moment = moment.astimezone(ZoneInfo(org.calendar.timezone)).replace(tzinfo=None)
    return moment.replace(second=0, microsecond=0).isoformat(timespec="minutes")


def _number(question: Question, value: Any) -> int | float:
    if isinstance(value, bool):
        raise _Wrong(_("give a number, not true or false"))
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = _scalar_text(value).replace(" ", "").replace("\u00a0", "")
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            raise _Wrong(_("{value} is not a number").format(value=repr(text))) from None
    if not math.isfinite(number):
        raise _Wrong(_("give a finite number"))
    if question.integer and number != int(number):
        raise _Wrong(_("give a whole number, not {value}").format(value=_shown(number)))
    if question.min is not None and number < question.min:
        raise _Wrong(
            _("{value} is less than the smallest allowed, {least}").format(
                value=_shown(number), least=_shown(question.min)
            )
        )
    if question.max is not None and number > question.max:
        raise _Wrong(
            _("{value} is more than the largest allowed, {most}").format(
                value=_shown(number), most=_shown(question.max)
            )
        )
    return int(number) if number == int(number) and abs(number) < 2**53 else number


def _shown(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)


def _text(question: Question, value: Any) -> str:
    if isinstance(value, list | dict | tuple):
        raise _Wrong(_("give a text, not a list or mapping"))
    text = value.isoformat() if isinstance(value, dt.date) else str(value).strip()
    longest = min(int(question.max), MAX_TEXT) if question.max is not None else MAX_TEXT
    if len(text) > longest:
        raise _Wrong(
            _("is {length} characters long; at most {most} are allowed").format(
                length=len(text), most=longest
            )
        )
    if question.min is not None and len(text) < question.min:
        raise _Wrong(
            _("is {length} characters long; at least {least} are needed").format(
                length=len(text), least=int(question.min)
            )
        )
    return text


# ---------------------------------------------------------------- reading answers


def parse_pairs(pairs: Iterable[str]) -> tuple[dict[str, str], list[AnswerProblem]]:
    """``KEY=VALUE`` pairs as a mapping (a later pair for the same key wins)."""
    found: dict[str, str] = {}
    problems = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            problems.append(AnswerProblem(pair, _("give an answer as KEY=VALUE")))
            continue
        found[key.strip()] = value
    return found, problems


def read_answers_file(path: Path) -> Document:
    """A YAML (or JSON) file of answers: a mapping of question keys to values, with positions.

    Raises ``Refused`` naming the file, line and column when it cannot be read as one.
    """
    try:
        return read_file(path)
    except ReadError as exc:
        raise Refused(str(exc.problem)) from None
    except ValueError as exc:  # a date YAML reads but the calendar has not (2027-13-01)
        raise Refused(
            _("{path}:1:1: cannot read the answers: {error}").format(path=path, error=exc)
        ) from None


def located(problems: Iterable[AnswerProblem], document: Document | None) -> list[str]:
    """Each problem as a line; with ``file:line:column`` when it is about a key of the file."""
    lines = []
    for problem in problems:
        key, dot, town = problem.key.partition(".")
        paths = [(key, town), (key,)] if dot else [(key,)]
        path = next((p for p in paths if document is not None and p in document.positions), None)
        if document is not None and path is not None:
            lines.append(f"{document.problem(path, str(problem))}")
        else:
            lines.append(str(problem))
    return lines


# ---------------------------------------------------------------- showing a form


TEXTS = {
    "required": N_("required"),
    "optional": N_("optional"),
    "form_required": N_("The form must be answered before the task can be completed."),
    "form_optional": N_(
        "The form is optional: with nothing to report, run tsk task done {id} --nothing-to-report"
    ),
    "choice": N_("one of"),
    "choices": N_("one or more of (a list, or comma-separated with --answer)"),
    "town": N_("a town"),
    "area": N_("an area"),
    "date": N_("a date (YYYY-MM-DD)"),
    "datetime": N_("date and time (YYYY-MM-DD HH:MM), or just the date"),
    "number": N_("a number"),
    "integer": N_("a whole number"),
    "per_town": N_("a number for each town (leave a town without a figure empty)"),
    "per_town_integer": N_("a whole number for each town (leave a town without a figure empty)"),
    "text": N_("free text"),
    "between": N_("between {low} and {high}"),
    "at_least": N_("at least {low}"),
    "at_most": N_("at most {high}"),
    "chars": N_("characters"),
    "how": N_("Answer with: tsk task done {id} --answers FILE  or  --answer KEY=VALUE"),
    "fill": N_("Fill in the answers after the colons and give them with:"),
    "blank": N_("Leave a question empty if you do not answer it."),
    "multiline": N_(
        "Several lines: write | after the colon and the text indented on the lines below."
    ),
}
"""The fixed words of a shown form, translated when shown (``_t``)."""


def _t(lang: str) -> dict[str, str]:
    """``TEXTS`` in ``lang`` (English for "en", else Swedish): a form may be shown in another
    language than the command line speaks (``form_json`` for the web)."""
    with i18n.speaking("en" if lang == "en" else "sv"):
        return {name: _(text) for name, text in TEXTS.items()}


def allowed_values(question: Question, org: Organisation, lang: str) -> list[tuple[str, str]]:
    """``(key, label)`` of each value a choice, town or area question allows, and the towns a
    per_town question has a figure for."""
    if question.type in {"choice", "choices"}:
        return [(c.key, c.label.get(lang)) for c in question.choices]
    if question.type in {"town", "per_town"}:
        return [(t.key, t.name) for t in org.towns]
    if question.type == "area":
        return [(a.key, a.name) for a in org.areas]
    return []


def expects(question: Question, lang: str) -> str:
    """What kind of answer the question expects, in words."""
    texts = _t(lang)
    kind: str = question.type
    if question.integer:
        kind = {"number": "integer", "per_town": "per_town_integer"}.get(kind, kind)
    what = texts[kind]
    low, high = question.min, question.max
    if low is None and high is None:
        return what
    values = {
        "low": _shown(low) if low is not None else "",
        "high": _shown(high) if high is not None else "",
    }
    if low is not None and high is not None:
        bound = texts["between"].format(**values)
    elif low is not None:
        bound = texts["at_least"].format(**values)
    else:
        bound = texts["at_most"].format(**values)
    if question.type == "text":
        bound += f" {texts['chars']}"
    return f"{what}, {bound}"


def form_json(form: Form, org: Organisation, lang: str) -> dict[str, Any]:
    """The form as JSON, with texts in ``lang`` and the allowed values spelt out."""
    return {
        "title": _label(form.title, lang),
        "description": _label(form.description, lang),
        "required": form.required,
        "questions": [
            {
                "key": q.key,
                "type": q.type,
                "label": q.label.get(lang),
                "help": _label(q.help, lang),
                "required": q.required,
                "min": q.min,
                "max": q.max,
                "integer": q.integer,
                "expects": expects(q, lang),
                "choices": [{"key": k, "label": v} for k, v in allowed_values(q, org, lang)],
            }
            for q in form.questions
        ],
    }


def _label(value: Label | None, lang: str) -> str | None:
    return value.get(lang) if value is not None else None


def form_text(
    form: Form,
    org: Organisation,
    lang: str,
    task_id: int,
    answers: Mapping[str, Any] | None = None,
) -> str:
    """The form for people: its title, then each question with what it allows (and the answer
    given, for a task already done with answers)."""
    return json_form_text(form_json(form, org, lang), lang, task_id, answers)


def json_form_text(
    form: Mapping[str, Any], lang: str, task_id: int, answers: Mapping[str, Any] | None = None
) -> str:
    """:func:`form_text` of the form as JSON (:func:`form_json`, what the service's API
    answers)."""
    texts = _t(lang)
    lines = []
    if form["title"] is not None:
        lines.append(form["title"])
    if form["description"] is not None:
        lines.append(form["description"])
    lines.append(texts["form_required" if form["required"] else "form_optional"].format(id=task_id))
    for question in form["questions"]:
        flag = texts["required" if question["required"] else "optional"]
        lines += ["", f"{question['key']} ({flag}): {question['label']}"]
        if question["help"] is not None:
            lines.append(f"    {question['help']}")
        lines.append(f"    {question['expects']}")
        for choice in question["choices"]:
            lines.append(f"      {choice['key']:<20} {choice['label']}")
        if answers and question["key"] in answers:
            lines.append(f"    = {_answer_text(answers[question['key']])}")
    if not answers:
        lines += ["", texts["how"].format(id=task_id)]
    return "\n".join(lines)


def template_yaml(form: Form, org: Organisation, lang: str, task_id: int, heading: str) -> str:
    """A YAML file ready to fill in: every question as an empty key, with comments."""
    return json_template_yaml(form_json(form, org, lang), lang, task_id, heading)


def json_template_yaml(form: Mapping[str, Any], lang: str, task_id: int, heading: str) -> str:
    """:func:`template_yaml` of the form as JSON (:func:`form_json`)."""
    texts = _t(lang)
    lines = [f"# {heading}"]
    if form["description"] is not None:
        lines += [f"# {line}" for line in str(form["description"]).splitlines()]
    lines += [
        f"# {texts['form_required' if form['required'] else 'form_optional'].format(id=task_id)}",
        f"# {texts['fill']}",
        f"#   tsk task done {task_id} --answers FILE",
        f"# {texts['blank']}",
    ]
    for question in form["questions"]:
        flag = texts["required" if question["required"] else "optional"]
        lines += ["", f"# {question['label']} ({flag})"]
        if question["help"] is not None:
            lines.append(f"# {question['help']}")
        lines.append(f"# {question['expects']}")
        maximum = question["max"]
        if question["type"] == "text" and (maximum is None or maximum > 300):
            lines.append(f"# {texts['multiline']}")
        if question["type"] == "per_town":  # a key to fill in for each town
            lines.append(f"{question['key']}:")
            for choice in question["choices"]:
                key, label = choice["key"], choice["label"]
                lines.append(f"  {key}:" + (f"  # {label}" if key != label else ""))
            continue
        for choice in question["choices"]:
            key, label = choice["key"], choice["label"]
            lines.append(f"#   {key}: {label}" if key != label else f"#   {key}")
        lines.append(f"{question['key']}:")
    return "\n".join(lines) + "\n"


def _answer_text(value: Any) -> str:
    if isinstance(value, Mapping):  # a per_town answer
        return ", ".join(f"{key} {figure}" for key, figure in value.items())
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return " ".join(str(value).split())
