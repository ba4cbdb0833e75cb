"""The effect of an action: the incidents of its category at its place, before and after it.

**The windows.** Before: the ``window_days`` (90 unless the action says otherwise) up to the
day the action starts, ``[start - window, start)``. After: as many days from the day it ended,
``[end, end + window)``. The end is the day the action was marked done (``done_on``); for an
action not done, its due date. The day it was done is when the change was in place, which can
be well before or after the due date; an action not done has only its planned end. The days of
the work itself, from the start to the end, belong to neither window. A window is cut at today:
while the after-window has not ended the judgement is "too early", with the figures so far.

**What is counted** is what the lägesbild counts, read by its own rules (``collect``): the
events reported at any time, one incident each on the day it happened, and the answers of the
reporters' tasks (EST), each as many incidents as its answer says. A reporter's answer is about a
whole month ("how many times this month?"), so it is dated on the 15th of its cycle's month
(``MONTH_DAY``). Of these, the incidents of the action's category in its town or area: for a
town, those in the town; for an area, those in the area or in any of its towns. The action's
place in the town ("stationen") is free text and is not matched. Each window also counts the
months whose reporters were asked (that had a reporter cycle): a month without one, EST's July,
is unknown rather than zero, so the judgement cautions when the windows differ in it.

**The judgement** compares incidents per month (``DAYS_PER_MONTH``), so windows of different
lengths compare: "fewer" or "more" when the rate after differs by more than ``SAME_WITHIN``
percent from the rate before, "about the same" within it, and "too little data to judge" when
both windows have fewer than ``MIN_INCIDENTS`` incidents, since a change between a few
incidents says nothing. An action without a category or a town cannot be judged: the effect
says which is missing.

**The survey.** Where the organisation runs the safety survey (``trygghetsundersokning``), the
effect also compares the share of respondents who feel safe, as the chair enters it when taking
out a round's result (``ta_ut_resultat``, version 2: per town and for the whole municipality).
The rounds compared are the last one with figures opened before the action's start and the first
one with figures opened on or after its end (the day the after-window starts). The place is the
action's town; for an area, its towns' figures weighed by their respondents. When the place has
no figure in one of the rounds, or the action has no town, the whole municipality's share is
compared, and the effect says so. "Safer" or "less safe" when the share changed by more than
``SURVEY_SAME_WITHIN`` percentage points, "about the same" within them, and "too little data to
judge" without a round before or after, or with fewer than ``MIN_RESPONDENTS`` respondents (or
none given) in either. Rounds whose result is a document only (version 1) are named, not compared.

    judge(before, after, complete) -> (verdict, change)       pure
    effect_of(engine, view) / effects(engine, views)           read the database
    review(engine) -> Review                                   the styrgrupp's follow-up
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from tsk_workflow import i18n
from tsk_workflow.forms import reporter_forms
from tsk_workflow.i18n import _, ngettext
from tsk_workflow.lagesbild.collect import event_reports, task_reports
from tsk_workflow.lagesbild.model import Report
from tsk_workflow.lagesbild.render import number
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store import cycles as stored_cycles
from tsk_workflow.store import reports as stored_reports

if TYPE_CHECKING:
    from tsk_workflow.engine.action_plans import PlanVersion
    from tsk_workflow.engine.actions import ActionView
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.store.database import Session

MIN_INCIDENTS = 5
"""Below this many incidents in both windows there is too little data to judge."""
SAME_WITHIN = 20.0
"""A change of the monthly rate within this many percent, up or down, is "about the same"."""
DAYS_PER_MONTH = 365.25 / 12
MONTH_DAY = 15
"""A reporter's monthly answer is dated on this day of its month."""
SURVEY_PROCESS = "trygghetsundersokning"
SURVEY_DOCUMENTS = ("enkatresultat", "rapport")
"""The kinds of the survey's documents that hold its result and its analysis."""
MIN_RESPONDENTS = 30
"""Below this many respondents at the place in either round there is too little to judge."""
SURVEY_SAME_WITHIN = 5.0
"""A change of the share who feel safe within this many percentage points is "about the same"."""
SURVEY_TASK = "ta_ut_resultat"
"""The survey's task whose form holds its result in figures, and the questions of that form:"""
SURVEY_SHARE, SURVEY_RESPONDENTS = "andel_trygga", "svarande"
"""per town (``per_town``): the share who feel safe (percent) and the respondents;"""
SURVEY_WHOLE_SHARE, SURVEY_WHOLE_RESPONDENTS = "andel_trygga_kommunen", "svarande_kommunen"
"""the same for the whole municipality."""

Verdict = Literal["fewer", "more", "same", "too_little", "too_early", "missing"]
VERDICTS: tuple[Verdict, ...] = ("fewer", "more", "same", "too_little", "too_early", "missing")


# ---------------------------------------------------------------- the pure part


@dataclass(frozen=True)
class Window:
    """Days ``first`` up to ``end`` (not included) and the incidents counted in them."""

    first: dt.date
    end: dt.date
    count: float
    asked: int = 0
    """In how many of its months the reporters were asked (a month with a reporter cycle)."""

    @property
    def days(self) -> int:
        return max(0, (self.end - self.first).days)

    @property
    def last(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def per_month(self) -> float | None:
        return self.count / self.days * DAYS_PER_MONTH if self.days else None

    def to_dict(self) -> dict[str, Any]:
        rate = self.per_month
        return {
            "first": self.first.isoformat(),
            "last": self.last.isoformat() if self.days else None,
            "days": self.days,
            "incidents": _number(self.count),
            "per_month": round(rate, 2) if rate is not None else None,
            "reporter_months": self.asked,
        }


def judge(
    before: Window, after: Window, complete: bool, minimum: int = MIN_INCIDENTS
) -> tuple[Verdict, float | None]:
    """The verdict on ``after`` against ``before`` (see the module's docstring), and the change
    of the monthly rate in percent (None when there was nothing before, or no days after).
    ``complete``: whether the after-window has ended."""
    rate_before, rate_after = before.per_month, after.per_month
    change = (
        (rate_after - rate_before) / rate_before * 100
        if rate_before and rate_after is not None
        else None
    )
    if not complete:
        return "too_early", change
    if before.count < minimum and after.count < minimum:
        return "too_little", change
    if change is None:
        return ("more" if after.count > 0 else "same"), None
    if change < -SAME_WITHIN:
        return "fewer", change
    if change > SAME_WITHIN:
        return "more", change
    return "same", change


def windows(
    start: dt.date, end: dt.date, days: int, today: dt.date
) -> tuple[Window, Window, dt.date]:
    """The before- and after-windows (without counts) cut at today, and the day after the
    whole after-window (it has ended when that day has come)."""
    cut = today + dt.timedelta(days=1)
    window = dt.timedelta(days=days)
    after_end = end + window
    before = Window(start - window, min(start, cut), 0)
    after = Window(end, max(end, min(after_end, cut)), 0)
    return before, after, after_end


@dataclass(frozen=True)
class Figures:
    """One round's result in figures: the share who feel safe (percent) and the respondents, of
    the whole municipality (``share``, ``respondents``) and by town key."""

    share: float | None
    respondents: int | None
    town_shares: Mapping[str, float]
    town_respondents: Mapping[str, int]

    @classmethod
    def of(cls, answers: Mapping[str, Any]) -> Figures | None:
        """The figures of the result task's answers; None when they hold no share at all."""
        shares = _figures(answers.get(SURVEY_SHARE))
        whole = _figure(answers.get(SURVEY_WHOLE_SHARE))
        if whole is None and not shares:
            return None
        respondents = _figure(answers.get(SURVEY_WHOLE_RESPONDENTS))
        return cls(
            whole,
            int(respondents) if respondents is not None else None,
            shares,
            {k: int(v) for k, v in _figures(answers.get(SURVEY_RESPONDENTS)).items()},
        )

    def at(self, towns: Sequence[str]) -> tuple[float, int | None] | None:
        """The share at ``towns`` and its respondents: one town's figures, or several towns'
        shares weighed by their respondents (their sum); None when none of them has a share
        (or, of several, none has both figures)."""
        known = [t for t in towns if t in self.town_shares]
        if len(towns) == 1:
            return (
                (self.town_shares[known[0]], self.town_respondents.get(known[0])) if known else None
            )
        weighed = [
            (self.town_shares[t], self.town_respondents[t])
            for t in known
            if t in self.town_respondents
        ]
        total = sum(n for _share, n in weighed)
        if not total:
            return None
        return sum(share * n for share, n in weighed) / total, total


SurveyVerdict = Literal["safer", "less_safe", "same", "too_little"]
TooLittle = Literal["no_before", "no_after", "few_respondents"]


@dataclass(frozen=True)
class Share:
    """The share who feel safe in one round at the place compared, and its respondents."""

    ref: str
    share: float
    respondents: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"round": self.ref, "share": _number(self.share), "respondents": self.respondents}


def judge_survey(
    before: Share | None, after: Share | None, minimum: int = MIN_RESPONDENTS
) -> tuple[SurveyVerdict, TooLittle | None, float | None]:
    """The verdict on the share after against the share before, why there is too little to
    judge (or None), and the change in percentage points (None without both rounds)."""
    if before is None:
        return "too_little", "no_before", None
    if after is None:
        return "too_little", "no_after", None
    change = after.share - before.share
    if any(s.respondents is None or s.respondents < minimum for s in (before, after)):
        return "too_little", "few_respondents", change
    if change > SURVEY_SAME_WITHIN:
        return "safer", None, change
    if change < -SURVEY_SAME_WITHIN:
        return "less_safe", None, change
    return "same", None, change


@dataclass(frozen=True)
class Survey:
    """The safety survey around an action: ``before`` the round compared before its start (the
    last with figures, else the last one), ``after`` the first after its end (with figures, else
    the first one), each with its result documents' names; and the comparison of the share who
    feel safe at ``place`` (its name ``place_name``), or in the whole municipality when
    ``whole`` (``place`` is then the place that had no figure, None: the action has none)."""

    process: str
    before: str | None
    after: str | None
    before_documents: tuple[str, ...] = ()
    after_documents: tuple[str, ...] = ()
    verdict: SurveyVerdict = "too_little"
    too_little: TooLittle | None = "no_before"
    place: str | None = None
    place_name: str | None = None
    whole: bool = False
    share_before: Share | None = None
    share_after: Share | None = None
    change: float | None = None
    minimum: int = MIN_RESPONDENTS

    def to_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "comparable": self.too_little is None,
            "verdict": self.verdict,
            "too_little": self.too_little,
            "judgement": self.line(),
            "place": self.place,
            "whole_municipality": self.whole,
            "before": self.before,
            "after": self.after,
            "share_before": self.share_before.to_dict() if self.share_before else None,
            "share_after": self.share_after.to_dict() if self.share_after else None,
            "change_points": round(self.change, 1) if self.change is not None else None,
            "min_respondents": self.minimum,
            "before_documents": list(self.before_documents),
            "after_documents": list(self.after_documents),
        }

    def line(self) -> str:
        """The comparison in plain language, with its figures."""
        if self.too_little in ("no_before", "no_after"):
            return self._no_round()
        assert self.share_before is not None
        assert self.share_after is not None
        before, after = self.share_before, self.share_after
        where = self._where()
        figures = _(
            "{after} feel safe {where} in {after_round} against {before} in {before_round}"
        ).format(
            after=_share(after.share),
            before=_share(before.share),
            where=where,
            after_round=after.ref,
            before_round=before.ref,
        )
        if self.too_little == "few_respondents":
            text = _(
                "too little data to judge: {before} and {after} respondents (at least {minimum}"
                " in each round are needed); {figures}"
            ).format(
                before=_respondents(before.respondents),
                after=_respondents(after.respondents),
                minimum=self.minimum,
                figures=figures,
            )
        else:
            word = {
                "safer": _("safer"),
                "less_safe": _("less safe"),
                "same": _("about as safe"),
            }[self.verdict]
            assert self.change is not None
            text = (
                f"{word}: {figures} ({_points(self.change)}; "
                + _("{before} and {after} respondents").format(
                    before=_respondents(before.respondents), after=_respondents(after.respondents)
                )
                + ")"
            )
        return text + self._fallback()

    def _where(self) -> str:
        if self.whole:
            return _("in the whole municipality")
        return _("in {place}").format(place=self.place_name or self.place)

    def _fallback(self) -> str:
        if not self.whole:
            return ""
        if self.place is None:
            return "; " + _(
                "the action has no town or area, so the whole municipality's share is compared"
            )
        return "; " + _(
            "{place} does not have a figure of its own in both rounds, so the whole"
            " municipality's share is compared"
        ).format(place=self.place_name or self.place)

    def _no_round(self) -> str:
        if self.too_little == "no_before":
            text = _("too little data to judge: no round with figures before the action")
        else:
            text = _("too little data to judge: no round with figures after the action yet")
        rounds = _("the last round before: {before}; the first after: {after}").format(
            before=self.before or "–", after=self.after or _("none yet")
        )
        return f"{text} ({rounds})"


def _figure(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _figures(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): f for k, v in value.items() if (f := _figure(v)) is not None}


def _share(share: float) -> str:
    return f"{number(share, i18n.language())} %"


def _points(change: float) -> str:
    shown = number(abs(change), i18n.language())
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    return _("{change} percentage points").format(change=f"{sign}{shown}")


def _respondents(count: int | None) -> str:
    return str(count) if count is not None else "–"


def summary_line(window_days: int, judgement: str) -> str:
    """``Effect (90 days before and after): JUDGEMENT``."""
    return _("Effect ({days} days before and after): {judgement}").format(
        days=window_days, judgement=judgement
    )


def window_lines(before: Any, after: Any, after_ends: dt.date | None, end_from: str) -> list[str]:
    """The windows compared, each a line: ``before: FIRST – LAST`` and ``after: FIRST – LAST
    (from the day it was done | from its due date)``; none while they are not known. The
    windows need ``first`` and ``last`` (the after-window ``end`` when ``after_ends`` is not
    known): an :class:`Effect`'s, or those the API gives (``tsk action show`` through the
    service)."""
    if before is None or after is None:
        return []
    said_before = _("before: {first} – {last}").format(
        first=before.first.isoformat(), last=before.last.isoformat()
    )
    last = (after_ends or after.end) - dt.timedelta(days=1)
    said_after = _("after: {first} – {last}").format(
        first=after.first.isoformat(), last=last.isoformat()
    )
    reason = _("from the day it was done") if end_from == "done_on" else _("from its due date")
    return [said_before, f"{said_after} ({reason})"]


@dataclass(frozen=True)
class Effect:
    """The effect follow-up of an action: the windows with their incidents, the verdict, the
    change of the monthly rate in percent, and what is missing to judge (``category``,
    ``town``). ``end_from`` names the day the after-window starts from: ``done_on`` or ``due``."""

    action_id: int
    verdict: Verdict
    category: str | None
    town: str | None
    window_days: int
    end_from: Literal["done_on", "due"]
    before: Window | None = None
    after: Window | None = None
    after_ends: dt.date | None = None
    change: float | None = None
    missing: tuple[str, ...] = ()
    survey: Survey | None = None
    minimum: int = MIN_INCIDENTS

    @property
    def summary(self) -> str:
        """``Effect (90 days before and after): JUDGEMENT``: the first line wherever it is shown
        (``tsk action show``, the action's page)."""
        return summary_line(self.window_days, self.judgement)

    def window_lines(self) -> list[str]:
        """The windows compared (see :func:`window_lines`)."""
        return window_lines(self.before, self.after, self.after_ends, self.end_from)

    @property
    def judgement(self) -> str:
        """The verdict in plain language, with its figures."""
        if self.verdict == "missing":
            return _missing(self.missing)
        assert self.before is not None
        assert self.after is not None
        before, after = self.before, self.after
        if self.verdict == "too_early":
            return self._too_early(before, after)
        if self.verdict == "too_little":
            too_little = _(
                "too little data to judge: {before} before and {after} after (at least {minimum}"
                " in one of the windows are needed)"
            ).format(
                before=_incidents(before.count),
                after=_incidents(after.count),
                minimum=self.minimum,
            )
            return too_little + self._asked(before, after)
        word = {"fewer": _("fewer"), "more": _("more"), "same": _("about the same")}[self.verdict]
        figures = _("{after} in the {days} days after against {before} in the {days} days before")
        text = f"{word}: " + figures.format(
            after=_incidents(after.count), before=_incidents(before.count), days=after.days
        )
        if before.days != after.days:
            text = f"{word}: " + _(
                "{after} in {after_days} days ({after_rate} a month) against {before} in"
                " {before_days} days before ({before_rate} a month)"
            ).format(
                after=_incidents(after.count),
                after_days=after.days,
                after_rate=_rate(after.per_month),
                before=_incidents(before.count),
                before_days=before.days,
                before_rate=_rate(before.per_month),
            )
        if self.change is not None:
            text += f" ({_percent(self.change)})"
        return text + self._asked(before, after)

    @staticmethod
    def _asked(before: Window, after: Window) -> str:
        """A caution when the reporters were asked in more months in one window than in the
        other (a month without a cycle, July, is unknown, not zero)."""
        if before.asked == after.asked:
            return ""
        return "; " + _(
            "mind that the reporters were asked in {before} of the months before and {after}"
            " of those after"
        ).format(before=before.asked, after=after.asked)

    def _too_early(self, before: Window, after: Window) -> str:
        last = (self.after_ends or after.end) - dt.timedelta(days=1)
        if not after.days:
            return _(
                "too early: the after-window has not begun (it runs {first} – {last}); before:"
                " {before} in {before_days} days ({before_rate} a month)"
            ).format(
                first=after.first.isoformat(),
                last=last.isoformat(),
                before=_incidents(before.count),
                before_days=before.days,
                before_rate=_rate(before.per_month),
            )
        return _(
            "too early: the after-window has not ended (it ends {last}); so far {after} in"
            " {after_days} days ({after_rate} a month) against {before} in {before_days} days"
            " before ({before_rate} a month)"
        ).format(
            last=last.isoformat(),
            after=_incidents(after.count),
            after_days=after.days,
            after_rate=_rate(after.per_month),
            before=_incidents(before.count),
            before_days=before.days,
            before_rate=_rate(before.per_month),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action_id,
            "verdict": self.verdict,
            "judgement": self.judgement,
            "category": self.category,
            "town": self.town,
            "window_days": self.window_days,
            "end_from": self.end_from,
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict() if self.after else None,
            "after_ends": (self.after_ends - dt.timedelta(days=1)).isoformat()
            if self.after_ends
            else None,
            "complete": self.verdict not in ("too_early", "missing"),
            "change_percent": round(self.change, 1) if self.change is not None else None,
            "minimum": self.minimum,
            "missing": list(self.missing),
            "survey": self.survey.to_dict() if self.survey else None,
        }


def measure(
    view: ActionView,
    incidents: Iterable[tuple[dt.date, Report]],
    org: Organisation,
    today: dt.date,
    survey: Survey | None = None,
    asked: Collection[dt.date] = (),
) -> Effect:
    """The effect of ``view`` from the dated reports ``incidents`` (pure); ``asked``: the days
    the reporters' answers are dated on (the 15th of each month with a reporter cycle)."""
    end_from: Literal["done_on", "due"] = "done_on" if view.done_on is not None else "due"
    end = view.done_on or view.due
    missing = tuple(
        name for name, value in (("category", view.category), ("town", view.town)) if not value
    )
    found = Effect(
        action_id=view.id,
        verdict="missing",
        category=view.category,
        town=view.town,
        window_days=view.window_days,
        end_from=end_from,
        missing=missing,
        survey=survey,
    )
    if view.category is None or view.town is None:
        return found
    before, after, after_ends = windows(view.start, end, view.window_days, today)
    towns = _towns(org, view.town)
    counted = [
        (day, report.count)
        for day, report in incidents
        if view.category in report.categories and (report.town or "") in towns
    ]
    before = _counted(before, counted, asked)
    after = _counted(after, counted, asked)
    verdict, change = judge(before, after, complete=today >= after_ends)
    return replace(
        found, verdict=verdict, before=before, after=after, after_ends=after_ends, change=change
    )


def _counted(
    window: Window, counted: Sequence[tuple[dt.date, float]], asked: Collection[dt.date]
) -> Window:
    total = sum(count for day, count in counted if window.first <= day < window.end)
    months = sum(1 for day in asked if window.first <= day < window.end)
    return Window(window.first, window.end, total, months)


def _towns(org: Organisation, key: str) -> set[str]:
    """The keys an incident's town may have to be at ``key``: an area's own and its towns'."""
    area = next((a for a in org.areas if a.key == key), None)
    return {key, *(area.towns if area is not None else ())}


def _missing(missing: Sequence[str]) -> str:
    if len(missing) == 2:
        return _(
            "cannot be judged: the action has no category and no town or area"
            " (give them with tsk action update --category ... --town ...)"
        )
    if missing == ("category",):
        return _(
            "cannot be judged: the action has no category of the lägesbild"
            " (give it with tsk action update --category ...)"
        )
    return _(
        "cannot be judged: the action has no town or area (give it with tsk action update --town"
        " ...)"
    )


def _number(count: float) -> int | float:
    return int(count) if float(count).is_integer() else round(count, 2)


def _incidents(count: float) -> str:
    shown = _number(count)
    return ngettext("{n} incident", "{n} incidents", round(count)).format(n=shown)


def _rate(rate: float | None) -> str:
    """Incidents a month as the lägesbild writes numbers (one decimal, the language's sign)."""
    return number(rate, i18n.language())


def _percent(change: float) -> str:
    return f"{change:+.0f} %".replace("-", "−")


# ---------------------------------------------------------------- reading the database


def effect_of(engine: Engine, view: ActionView) -> Effect:
    """The effect of one action as the database has it now."""
    return effects(engine, [view])[view.id]


def effects(engine: Engine, views: Sequence[ActionView]) -> dict[int, Effect]:
    """The effect of each of ``views`` by its id, from one reading of the incidents."""
    today = engine.clock().astimezone(engine.cal.zone).date()
    spans = [
        windows(v.start, v.done_on or v.due, v.window_days, today)
        for v in views
        if v.category and v.town
    ]
    with engine.store.reading() as session:
        incidents: list[tuple[dt.date, Report]] = []
        asked: set[dt.date] = set()
        if spans:
            first = min(before.first for before, _after, _ends in spans)
            last = max(after.last for _before, after, _ends in spans)
            if last >= first:
                incidents, asked = read_incidents(session, engine, first, last)
        rounds = _survey_rounds(session, engine)
    return {
        view.id: measure(
            view,
            incidents,
            engine.org,
            today,
            compare_survey(rounds, engine.org, view.town, view.start, view.done_on or view.due)
            if rounds is not None
            else None,
            asked,
        )
        for view in views
    }


def read_incidents(
    session: Session, engine: Engine, first: dt.date, last: dt.date
) -> tuple[list[tuple[dt.date, Report]], set[dt.date]]:
    """The lägesbild's reports from ``first`` to ``last`` with their days: the events on the
    day they happened, the reporters' answers of the cycles of those months on the 15th; and
    the days the answers are dated on, of each month whose reporters were asked."""
    org = engine.org
    found = [(day, report) for day, report in event_reports(session, org, first, last)]
    months = _months(first, last)
    cycles: dict[int, tuple[str, Mapping[tuple[str, str], Any]]] = {}
    for key in org.processes:
        definition = engine.catalog.definitions.get(key)
        forms = reporter_forms(definition) if definition is not None else {}
        if not forms:
            continue
        for cycle in stored_cycles.cycles(session, org.municipality, only_open=False, process=key):
            if cycle.period in months:
                cycles[cycle.id] = (cycle.period, forms)
    asked = {_month_day(period) for period, _forms in cycles.values()}
    for cycle_id, reports in task_reports(session, org, cycles).items():
        day = _month_day(cycles[cycle_id][0])
        found += [(day, r) for r in reports if r.has_incident and first <= day <= last]
    return found, {day for day in asked if first <= day <= last}


def _months(first: dt.date, last: dt.date) -> set[str]:
    months = set()
    day = first.replace(day=1)
    while day <= last:
        months.add(day.strftime("%Y-%m"))
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return months


def _month_day(period: str) -> dt.date:
    year, month = period.split("-")
    return dt.date(int(year), int(month), MONTH_DAY)


# ---------------------------------------------------------------- the survey's rounds


@dataclass(frozen=True)
class Round:
    """One round of the survey: its ref, the day it opened, its result documents' names and its
    result in figures (None: not entered, or a version that kept the result as a document)."""

    ref: str
    opened: dt.date
    documents: tuple[str, ...] = ()
    figures: Figures | None = None


def _survey_rounds(session: Session, engine: Engine) -> list[Round] | None:
    """The rounds of the safety survey, oldest first; None if the organisation runs none."""
    if SURVEY_PROCESS not in engine.org.processes:
        return None
    zone = engine.cal.zone
    cycles = stored_cycles.cycles(
        session, engine.org.municipality, only_open=False, process=SURVEY_PROCESS
    )
    figures = {
        task.cycle_id: Figures.of(task.answers)
        for task in stored_reports.tasks_of(session, [cycle.id for cycle in cycles])
        if task.key == SURVEY_TASK and task.status == "done" and task.answers
    }
    rounds = []
    for cycle in cycles:
        documents = tuple(
            d.filename
            for d in stored_cycles.documents(session, cycle.id)
            if d.kind in SURVEY_DOCUMENTS
        )
        opened = cycle.opened_at.astimezone(zone).date()
        rounds.append(Round(cycle.ref, opened, documents, figures.get(cycle.id)))
    return sorted(rounds, key=lambda r: r.opened)


def compare_survey(
    rounds: Sequence[Round],
    org: Organisation,
    town: str | None,
    start: dt.date,
    end: dt.date,
    minimum: int = MIN_RESPONDENTS,
) -> Survey:
    """The survey's comparison around an action at ``town`` (a town or area key, or None) that
    starts on ``start`` and ends on ``end`` (pure; see the module's docstring)."""
    before = [r for r in rounds if r.opened < start]
    after = [r for r in rounds if r.opened >= end]
    with_before = [r for r in before if r.figures is not None]
    with_after = [r for r in after if r.figures is not None]
    first = with_before[-1] if with_before else (before[-1] if before else None)
    second = with_after[0] if with_after else (after[0] if after else None)
    named = Survey(
        SURVEY_PROCESS,
        first.ref if first else None,
        second.ref if second else None,
        first.documents if first else (),
        second.documents if second else (),
        place=town,
        place_name=places_named(org).get(town or "", town),
        minimum=minimum,
    )
    if not with_before or not with_after:
        return replace(named, too_little="no_after" if with_before else "no_before")
    compared = (with_before[-1], with_after[0])
    towns = _survey_towns(org, town) if town else []
    found = [_at(r, towns) for r in compared]
    whole = any(share is None for share in found)
    if whole:  # the place has no figure in one of the rounds: the whole municipality's
        found = [_at(r, None) for r in compared]
    share_before, share_after = found
    verdict, too_little, change = judge_survey(share_before, share_after, minimum)
    return replace(
        named,
        verdict=verdict,
        too_little=too_little,
        whole=whole,
        share_before=share_before,
        share_after=share_after,
        change=change,
    )


def _at(found: Round, towns: Sequence[str] | None) -> Share | None:
    """The round's share at ``towns`` (None: of the whole municipality), if it has one."""
    assert found.figures is not None
    figures = found.figures
    if towns is None:
        if figures.share is None:
            return None
        return Share(found.ref, figures.share, figures.respondents)
    at = figures.at(towns) if towns else None
    return Share(found.ref, *at) if at is not None else None


def places_named(org: Organisation) -> dict[str, str]:
    """The names of the organisation's towns and areas by key."""
    return {t.key: t.name for t in org.towns} | {a.key: a.name for a in org.areas}


def _survey_towns(org: Organisation, key: str) -> list[str]:
    """The towns whose figures are the place ``key``'s: the town, or an area's towns."""
    area = next((a for a in org.areas if a.key == key), None)
    return list(area.towns) if area is not None else [key]


# ---------------------------------------------------------------- the styrgrupp's follow-up


@dataclass(frozen=True)
class ReviewItem:
    action: ActionView
    effect: Effect

    def to_dict(self) -> dict[str, Any]:
        last = self.action.last_followup
        return {
            "id": self.action.id,
            "title": self.action.title,
            "owner": self.action.owner,
            "status": self.action.status,
            "state": self.action.state,
            "overdue": self.action.overdue,
            "due": self.action.due.isoformat(),
            "done_on": self.action.done_on.isoformat() if self.action.done_on else None,
            "cost": self.action.cost,
            "last_followup": (
                {"at": last.at.isoformat(), "by": last.by, "note": last.note} if last else None
            ),
            "effect": self.effect.to_dict(),
        }


@dataclass(frozen=True)
class Review:
    """The styrgrupp's follow-up of the plan in force (``plan``; None: no plan is in force, and
    the items are every action not cancelled): each action with its effect, and the totals."""

    plan: PlanVersion | None
    items: tuple[ReviewItem, ...]
    cancelled: int

    @property
    def done(self) -> int:
        return sum(1 for item in self.items if item.action.state == "done")

    @property
    def planned(self) -> int:
        return len(self.items)

    @property
    def overdue(self) -> int:
        return sum(1 for item in self.items if item.action.overdue)

    @property
    def cost(self) -> float | None:
        return _sum(item.action.cost for item in self.items)

    @property
    def cost_done(self) -> float | None:
        return _sum(item.action.cost for item in self.items if item.action.state == "done")

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_dict() if self.plan else None,
            "actions": [item.to_dict() for item in self.items],
            "totals": {
                "planned": self.planned,
                "done": self.done,
                "overdue": self.overdue,
                "cancelled": self.cancelled,
                "cost": self.cost,
                "cost_done": self.cost_done,
                "verdicts": {
                    verdict: sum(1 for item in self.items if item.effect.verdict == verdict)
                    for verdict in VERDICTS
                },
            },
        }


def review(engine: Engine) -> Review:
    """The follow-up the styrgrupp reads: the actions of the plan in force (every action when
    none is), active and done ones, each with its effect; cancelled ones only counted."""
    from tsk_workflow.engine.action_plans import in_force
    from tsk_workflow.engine.actions import Actions

    plan = in_force(engine)
    register = Actions(engine)
    every = register.listing(states=None)
    if plan is not None:
        held = set(plan.action_ids)
        every = [view for view in every if view.id in held]
    kept = [view for view in every if view.state != "cancelled"]
    found = effects(engine, kept)
    return Review(
        plan,
        tuple(ReviewItem(view, found[view.id]) for view in kept),
        len(every) - len(kept),
    )


def _sum(values: Iterable[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return sum(known) if known else None
