"""The typed, frozen model of a process definition.

Format-neutral: a reader (YAML today) produces plain data, ``ProcessDefinition.model_validate``
turns it into this model, and ``validate.check_definition`` adds the checks that need the whole
definition (reachability, roles, templates). The JSON Schema in ``docs/process.schema.json`` is
generated from these classes.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from tsk_workflow.definitions.durations import PATTERN as DURATION_PATTERN
from tsk_workflow.definitions.durations import Duration as ParsedDuration
from tsk_workflow.definitions.durations import parse_duration
from tsk_workflow.i18n import _

KEY_PATTERN = r"^[a-z][a-z0-9_]*$"
Key = Annotated[str, Field(pattern=KEY_PATTERN, max_length=64)]
"""An ASCII key: lower case letters, digits and underscores (``est``, ``sakerhetschef``)."""

CHAIR = "chair"
"""The pseudo-role that stands for the chair (or deputy) of the group running the cycle."""

DOCUMENT_KINDS = (
    "lagesbild",
    "orsaksanalys",
    "atgardsplan",
    "samverkansoverenskommelse",
    "protokoll",
    "kallelse",
    "rapport",
    "enkatresultat",
    "medborgarlofte",
    "other",
)
DocumentKind = Literal[
    "lagesbild",
    "orsaksanalys",
    "atgardsplan",
    "samverkansoverenskommelse",
    "protokoll",
    "kallelse",
    "rapport",
    "enkatresultat",
    "medborgarlofte",
    "other",
]

CONDITIONS = ("tasks_done", "documents_produced", "actions_recorded", "note_given")
Condition = Literal["tasks_done", "documents_produced", "actions_recorded", "note_given"]
"""Guards on a transition: the source step's required tasks are done; the documents it must
produce are attached; the cycle has actions in the register (from a step with ``actions``);
the act carries a note."""


def _text_to_label(value: Any) -> Any:
    if isinstance(value, str):
        return {"sv": value, "en": value}
    return value


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Label(Frozen):
    """A text in Swedish and English. A plain string is taken as both."""

    sv: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def __str__(self) -> str:
        return self.sv

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.sv


Text = Annotated[Label, BeforeValidator(_text_to_label, json_schema_input_type=str | Label)]


_LINE_BREAK = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]")


def _one_line_text(value: str) -> str:
    if _LINE_BREAK.search(value):
        raise ValueError(_("must be one line: remove the line break"))
    return value


def _one_line(label: Label) -> Label:
    _one_line_text(label.sv)
    _one_line_text(label.en)
    return label


OneLine = Annotated[str, AfterValidator(_one_line_text)]
"""A name: one line (it goes into mail subjects, lists and messages)."""
Title = Annotated[Text, AfterValidator(_one_line)]
"""A title: a ``Text`` on one line."""
Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        description="ISO 8601 duration (P14D, PT2H, P1M) or working days (10wd)",
    ),
    AfterValidator(_check_duration),
]
Keys = Annotated[
    tuple[Key, ...], BeforeValidator(_one_or_many, json_schema_input_type=Key | list[Key])
]


def duration(text: str) -> ParsedDuration:
    """The parsed form of a duration string already checked by the model."""
    return parse_duration(text)


class Escalation(Frozen):
    """Who is told when a task is overdue, and how long after its due time."""

    after: Duration = "1wd"
    to: Key = CHAIR


QUESTION_TYPES = (
    "choice",
    "choices",
    "town",
    "area",
    "date",
    "datetime",
    "number",
    "per_town",
    "text",
)
QuestionType = Literal[
    "choice", "choices", "town", "area", "date", "datetime", "number", "per_town", "text"
]
"""One of a list; several of a list; a town or an area of the municipality; a date; a date with
an optional time; a number; a number for each town of the municipality (answered for some or
all of them: a mapping of town keys to numbers); free text."""

LAGESBILD_PARTS = ("category", "town", "place", "when", "count", "description", "action")
LagesbildPart = Literal["category", "town", "place", "when", "count", "description", "action"]
"""What an answer is in the compiled lägesbild (``tsk lagesbild``)."""


class Choice(Frozen):
    """One allowed answer of a ``choice`` or ``choices`` question."""

    key: Key
    label: Text


class Question(Frozen):
    """One question of a form."""

    key: Key
    type: QuestionType
    label: Text
    help: Text | None = Field(None, description="A hint shown with the question")
    required: bool = Field(False, description="The question must be answered")
    choices: tuple[Choice, ...] = Field((), description="The allowed answers of choice and choices")
    min: float | None = Field(
        None,
        description="number, per_town: the smallest value (of each town); choices: the fewest "
        "choices; text: the shortest length",
    )
    max: float | None = Field(
        None,
        description="number, per_town: the largest value (of each town); choices: the most "
        "choices; text: the longest length",
    )
    integer: bool = Field(False, description="number, per_town: only whole numbers")
    lagesbild: LagesbildPart | None = Field(
        None, description="What the answer is in the compiled lägesbild"
    )

    def choice(self, key: str) -> Choice | None:
        return next((choice for choice in self.choices if choice.key == key), None)


class Form(Frozen):
    """Questions a task is answered with (``tsk task done ID --answers FILE``)."""

    title: Title | None = None
    description: Text | None = None
    required: bool = Field(True, description="The task cannot be completed without answers")
    questions: tuple[Question, ...] = Field(description="At least one question")

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)

    def part(self, part: str) -> Question | None:
        """The question that is ``part`` (category, town, ...) of the lägesbild, if any."""
        return next((q for q in self.questions if q.lagesbild == part), None)


class Task(Frozen):
    """Work a step creates for the people holding ``role``."""

    key: Key
    title: Title
    role: Key
    description: Text | None = None
    due: Duration | None = Field(None, description="Due this long after the step is entered")
    reminders: tuple[Duration, ...] = Field(
        (), description="Reminders this long before the due time (0wd: on the day)"
    )
    escalate: Escalation | None = None
    required: bool = Field(True, description="The step cannot move on by itself until it is done")
    per_person: bool = Field(
        False, description="One task for each person holding the role instead of one shared task"
    )
    template: Key = Field("task_assigned", description="Mail template in notifications/")
    form: Form | None = Field(None, description="Questions the task is answered with")


class Meeting(Frozen):
    """A step that is a meeting: it gets a date, a time and an iCalendar invitation."""

    title: Title
    start: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "13:00"
    length: Duration = "PT2H"
    agenda: tuple[Text, ...] = ()
    within: Duration = Field("P2W", description="Held this long after the step is entered")


class Opens(Frozen):
    """Entering a step opens a cycle of another process (a walk after a dialogue, ...)."""

    process: Key
    within: Duration | None = Field(None, description="The new cycle should be done within this")
    offer: bool = Field(False, description="Only offered: the chair decides whether to open it")


class Step(Frozen):
    """A state of the process."""

    key: Key
    title: Title
    description: Text | None = None
    tasks: tuple[Task, ...] = ()
    produces: tuple[DocumentKind, ...] = Field((), description="Documents the step must produce")
    meeting: Meeting | None = None
    opens: tuple[Opens, ...] = ()
    reports_to: Literal["ks", "kf", "klg", "kommunchef"] | None = Field(
        None, description="The step reports to this body or officer"
    )
    actions: bool = Field(
        False,
        description="The step's plan is made of actions in the register (tsk action add"
        " --cycle): its tasks ask for them, and a transition out with the condition"
        " actions_recorded waits for one",
    )


class Transition(Frozen):
    """A trigger that moves a cycle from one step to another."""

    trigger: Key
    source: Keys = Field(alias="from")
    dest: Key = Field(alias="to")
    by: Keys = Field((CHAIR,), description="Roles that may fire it; chair means chair or deputy")
    conditions: tuple[Condition, ...] = ()
    auto: bool = Field(
        False,
        description="Fired by the engine as soon as the source step's required tasks are done",
    )
    after: Duration | None = Field(
        None, description="Fired by the scheduler this long after the source step is entered"
    )
    title: Title | None = None


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday"]
Month = Annotated[int, Field(ge=1, le=12)]


class ManualSchedule(Frozen):
    """Cycles are opened by hand (or by another process)."""

    kind: Literal["manual"]


class MonthlySchedule(Frozen):
    """Monthly on a day of the month, or on the nth weekday, except some months."""

    kind: Literal["monthly"]
    day: Annotated[int, Field(ge=1, le=28)] | None = None
    weekday: Weekday | None = None
    nth: Annotated[int, Field(ge=-1, le=4)] = 1
    except_months: tuple[Month, ...] = (7, 12)

    @model_validator(mode="after")
    def _day_or_weekday(self) -> MonthlySchedule:
        if (self.day is None) == (self.weekday is None):
            raise ValueError(_("give either day or weekday (with nth)"))
        if self.nth == 0:
            raise ValueError(_("nth is 1..4, or -1 for the last"))
        return self


class TimesAYearSchedule(Frozen):
    """N times a year: in the listed months, or spread evenly over the year."""

    kind: Literal["times_a_year"]
    times: Annotated[int, Field(ge=1, le=12)]
    months: tuple[Month, ...] | None = None
    day: Annotated[int, Field(ge=1, le=28)] = 1

    @model_validator(mode="after")
    def _months_match_times(self) -> TimesAYearSchedule:
        if self.months is not None and len(set(self.months)) != self.times:
            raise ValueError(
                _("times is {times} but {count} months are listed").format(
                    times=self.times, count=len(set(self.months))
                )
            )
        return self


class YearlySchedule(Frozen):
    """Once a year on a date (the survey every November)."""

    kind: Literal["yearly"]
    month: Month
    day: Annotated[int, Field(ge=1, le=28)] = 1


class EveryOtherYearSchedule(Frozen):
    """Every other year (the deeper lägesbild), in even or odd years."""

    kind: Literal["every_other_year"]
    month: Month
    day: Annotated[int, Field(ge=1, le=28)] = 1
    years: Literal["even", "odd"] = "even"


class RotationSchedule(Frozen):
    """``per_year`` cycles a year rotating over the towns, each town at least once per mandate
    period (Tranemo's walks)."""

    kind: Literal["rotation"]
    per_year: Annotated[int, Field(ge=1, le=52)]
    over: Literal["towns", "areas"] = "towns"
    months: tuple[Month, ...] | None = None


class PerAreaSchedule(Frozen):
    """One cycle per area (or town) each year, the openings spread over ``months``."""

    kind: Literal["per_area"]
    over: Literal["towns", "areas"] = "areas"
    months: tuple[Month, ...] = (3, 4, 5, 9, 10)


class DeadlineSchedule(Frozen):
    """Yearly, ``lead`` before a deadline the municipality sets (the yearly report to KF)."""

    kind: Literal["yearly_deadline"]
    deadline: Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")] = "04-30"
    lead: Duration = "P8W"


class RestartSchedule(Frozen):
    """The first cycle is opened by hand; closing a cycle opens the next (Tingsryd's cycle)."""

    kind: Literal["restart"]


Schedule = Annotated[
    ManualSchedule
    | MonthlySchedule
    | TimesAYearSchedule
    | YearlySchedule
    | EveryOtherYearSchedule
    | RotationSchedule
    | PerAreaSchedule
    | DeadlineSchedule
    | RestartSchedule,
    Field(discriminator="kind"),
]


class ProcessDefinition(Frozen):
    """One recurring piece of work, as a state machine of steps."""

    key: Key
    version: Annotated[int, Field(ge=1)]
    title: Title
    description: Text | None = None
    chair: Key = Field(description="The role that chairs the group running the process")
    roles: tuple[Key, ...] = Field(description="The participant roles")
    subject: Literal["period", "town", "area", "case"] = Field(
        "period", description="What one cycle is about: a period, a town, an area or a case"
    )
    schedule: Schedule
    initial: Key | None = Field(None, description="The first step; the first listed by default")
    steps: tuple[Step, ...] = Field(min_length=1)
    transitions: tuple[Transition, ...] = ()
    final: Keys = Field(min_length=1, description="Steps where a cycle ends")

    @property
    def initial_step(self) -> str:
        return self.initial or self.steps[0].key

    @property
    def step_keys(self) -> tuple[str, ...]:
        return tuple(step.key for step in self.steps)

    def step(self, key: str) -> Step:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)

    @property
    def all_roles(self) -> tuple[str, ...]:
        return (self.chair, *self.roles)
