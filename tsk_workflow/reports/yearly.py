"""The yearly report to KF (``tsk report yearly YEAR``), built from the record.

Herrljunga's KS reports to KF "minst årligen" (seed 003); the law asks for a lägesbild, a
decided åtgärdsplan and a samordningsfunktion. The report holds, for ``year``:

- the cycles held, per process (opened in the year: done, still running);
- the lägesbilder of the year: for each process with reporter forms, the incidents per month of
  the year by category (the lägesbild's chart) and each category's total and trend;
- the actions of the register that ran in the year, with their status and effect;
- the decisions taken in the year (body, date, §);
- where the municipality stands against the law (``tsk compliance``), on the day the report is
  made, which the report says;
- what is planned for the year after: the cycles each process will open, the actions due and
  the policy documents to follow up.

A year without data gives a report that says so, section by section.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tsk_workflow import i18n
from tsk_workflow.engine import plan as planning
from tsk_workflow.engine.actions import STATE_WORDS, STATUS_WORDS, Actions, ActionView
from tsk_workflow.engine.compliance import compliance
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.i18n import _
from tsk_workflow.lagesbild.chart import svg
from tsk_workflow.lagesbild.effect import effects
from tsk_workflow.lagesbild.model import TRENDS, Lagesbild, Month
from tsk_workflow.lagesbild.produce import has_reports, lagesbild_of
from tsk_workflow.reports.model import Chart, Paragraph, Report, Section, Table, day, number

if TYPE_CHECKING:
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.store.database import Session
    from tsk_workflow.store.models import Cycle, Decision


def yearly(engine: Engine, year: int, lang: str) -> Report:
    """The yearly report of ``engine``'s municipality for ``year``, in ``lang``."""
    lang = "en" if lang == "en" else "sv"
    with i18n.speaking(lang):
        return _yearly(engine, year, lang)


def _yearly(engine: Engine, year: int, lang: str) -> Report:
    today = engine.clock().astimezone(engine.cal.zone).date()
    with engine.store.reading() as session:
        held = _cycles_of(engine, session, year)
        pictures = _lagesbilder(engine, session, held, year, lang)
        taken = [
            d
            for d in Decisions(engine).listing(session)
            if d.decided_on is not None and d.decided_on.year == year
        ]
        decisions = _decisions(engine, taken)
    actions = _actions_of(engine, year)
    sections = (
        _summary(year, held, pictures, actions, taken),
        _held(engine, _counts(held), year),
        _lagesbild_section(pictures, year),
        _action_section(engine, actions, year),
        decisions,
        _law(engine, year, today),
        _next_year(engine, year + 1),
    )
    return Report(
        lang=lang,
        title=_("Yearly report on the safety and crime-prevention work {year}").format(year=year),
        subtitle=_("To the municipal council (KF), made from the record of tsk-workflow"),
        organisation=engine.org.name,
        made_on=day(today),
        sections=sections,
    )


# ---------------------------------------------------------------- the cycles


def _cycles_of(engine: Engine, session: Session, year: int) -> list[Cycle]:
    """The cycles opened in ``year`` (local time)."""
    zone = engine.cal.zone
    return [
        cycle for cycle in engine.cycles(session) if cycle.opened_at.astimezone(zone).year == year
    ]


def _counts(held: Sequence[Cycle]) -> dict[str, Counter[str]]:
    """Per process: how many cycles were opened, are done (closed) and still running."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for cycle in held:
        counts[cycle.process]["opened"] += 1
        counts[cycle.process]["closed" if cycle.status == "closed" else "open"] += 1
    return counts


def _process_name(engine: Engine, process: str, lang: str) -> str:
    definition = engine.catalog.definitions.get(process)
    if definition is None:
        return process
    return planning.process_title(engine.org, definition).get(lang)


def _held(engine: Engine, counts: dict[str, Counter[str]], year: int) -> Section:
    heading = _("Cycles held")
    if not counts:
        return Section(heading, (Paragraph(_("No cycle was opened in {year}.").format(year=year)),))
    lang = i18n.language()
    rows = tuple(
        (
            _process_name(engine, process, lang),
            number(found["opened"], lang),
            number(found["closed"], lang),
            number(found["open"], lang),
        )
        for process, found in sorted(
            counts.items(), key=lambda p: _process_name(engine, p[0], lang)
        )
    )
    table = Table(
        _("Cycles opened in {year}, per process").format(year=year),
        (_("Process"), _("Cycles opened"), _("Of them closed"), _("Of them running")),
        rows,
        numeric=frozenset({1, 2, 3}),
    )
    return Section(heading, (table,))


# ---------------------------------------------------------------- the lägesbilder


def _lagesbilder(
    engine: Engine, session: Session, held: Sequence[Cycle], year: int, lang: str
) -> list[Lagesbild]:
    """For each process with reporter forms, the lägesbild of its last monthly cycle of the
    year: its chart covers that month and the eleven before it."""
    last: dict[str, Cycle] = {}
    for cycle in held:
        if not cycle.period.startswith(f"{year}-") or len(cycle.period) != 7:
            continue
        if cycle.process not in last or cycle.period > last[cycle.process].period:
            last[cycle.process] = cycle
    found = []
    for process in sorted(last):
        cycle = last[process]
        definition = engine.definition_for(session, process, cycle.process_digest)
        if has_reports(definition):
            now = engine.clock()
            found.append(lagesbild_of(session, engine.org, definition, cycle, lang=lang, now=now))
    return found


def _lagesbild_section(pictures: Sequence[Lagesbild], year: int) -> Section:
    heading = _("Situation reports and trends")
    if not pictures:
        empty = _("No situation report (lägesbild) was compiled from reports in {year}.")
        return Section(heading, (Paragraph(empty.format(year=year)),))
    lang = i18n.language()
    return Section(
        heading,
        (
            Paragraph(
                _(
                    "The incidents the reporters and the public reported, month by month, as"
                    " the monthly situation reports compiled them."
                )
            ),
        ),
        tuple(_one_lagesbild(picture, year, lang) for picture in pictures),
    )


def _one_lagesbild(picture: Lagesbild, year: int, lang: str) -> Section:
    months = tuple(m for m in picture.months if m.period.startswith(f"{year}-"))
    chart = Chart(
        str(svg(months, picture.categories, lang)),
        _("Reported incidents per month, {year}").format(year=year),
        chart_text(months, picture, lang),
    )
    totals: defaultdict[str, float] = defaultdict(float)
    for month in months:
        for key, count in month.by_category:
            totals[key] += count
    trend = {row.key: row.trend for row in picture.by_category}
    rows = tuple(
        (
            category.label,
            number(totals[category.key], lang),
            _(TRENDS[trend[category.key]]) if category.key in trend else "–",
        )
        for category in picture.categories
        if totals[category.key] or category.key in trend
    )
    blocks: list[Paragraph | Table | Chart] = [chart]
    if rows:
        blocks.append(
            Table(
                _("Incidents per category in {year}").format(year=year),
                (
                    _("Category"),
                    _("Incidents in the year"),
                    _("{month} against the months before").format(month=picture.period_label),
                ),
                rows,
                numeric=frozenset({1}),
            )
        )
    unreported = [m.label for m in months if not m.reported]
    if unreported:
        blocks.append(
            Paragraph(
                _("No reports were asked for in: {months}.").format(months=", ".join(unreported)),
                note=True,
            )
        )
    return Section(picture.process, tuple(blocks))


def chart_text(months: Sequence[Month], picture: Lagesbild, lang: str) -> str:
    """What the chart shows, in words: each month's total."""
    said = [f"{m.label}: {number(m.total, lang)}" for m in months if m.reported]
    return _("Reported incidents per month, {process}: {months}").format(
        process=picture.process, months="; ".join(said) or "–"
    )


# ---------------------------------------------------------------- the actions


def _actions_of(engine: Engine, year: int) -> list[ActionView]:
    """The actions that ran some time in ``year``: begun by its end, not done or cancelled
    before it began."""
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    every = Actions(engine).listing(states=None)
    return [
        view
        for view in every
        if view.start <= last
        and (view.done_on is None or view.done_on >= first)
        and not (view.state == "cancelled" and view.updated_at.date() < first)
    ]


def _action_section(engine: Engine, actions: Sequence[ActionView], year: int) -> Section:
    heading = _("Actions, their status and effect")
    if not actions:
        empty = _("No action of the register ran in {year}.")
        return Section(heading, (Paragraph(empty.format(year=year)),))
    found = effects(engine, actions)
    states = Counter(view.state for view in actions)
    overdue = sum(1 for view in actions if view.overdue)
    said = _(
        "Actions that ran in {year}: {n}. Done: {done}; active: {active}, of them past their"
        " due date: {overdue}; cancelled: {cancelled}."
    ).format(
        n=len(actions),
        year=year,
        done=states["done"],
        active=states["active"],
        overdue=overdue,
        cancelled=states["cancelled"],
    )
    rows = tuple(
        (
            f"#{view.id}",
            view.title,
            _owner(engine, view.owner),
            _(STATUS_WORDS.get(view.status, view.status)),
            _(STATE_WORDS.get(view.state, view.state)),
            day(view.due),
            found[view.id].judgement,
        )
        for view in actions
    )
    table = Table(
        _("The action register in {year}").format(year=year),
        (_("No."), _("Action"), _("Owner"), _("Status"), _("State"), _("Due"), _("Effect")),
        rows,
        short=frozenset({0, 5}),
    )
    today = engine.clock().astimezone(engine.cal.zone).date()
    as_of = _("Status, state and effect as on {day}, the day this report was made.")
    return Section(heading, (Paragraph(said), table, Paragraph(as_of.format(day=day(today)), True)))


def _owner(engine: Engine, person: str) -> str:
    found = engine.org.person(person)
    return found.name if found is not None else person


# ---------------------------------------------------------------- the decisions


def _decisions(engine: Engine, taken: Sequence[Decision]) -> Section:
    heading = _("Decisions taken")
    if not taken:
        return Section(heading, (Paragraph(_("No decision was recorded in the year.")),))
    bodies: dict[str, str] = {key: body.name for key, body in engine.org.bodies.items()}
    rows = tuple(
        (
            d.title,
            bodies.get(d.body or "", (d.body or "").upper()),
            day(d.decided_on),
            d.paragraph or "–",
            _(d.status),
        )
        for d in sorted(taken, key=lambda d: (d.decided_on or dt.date.min, d.id))
    )
    table = Table(
        _("Decisions recorded in the year"),
        (_("Decision"), _("Body"), _("Date"), _("§"), _("Outcome")),
        rows,
        short=frozenset({2, 3}),
    )
    return Section(heading, (table,))


# ---------------------------------------------------------------- the law


def _law(engine: Engine, year: int, today: dt.date) -> Section:
    heading = _("What the law asks (lag 2023:196)")
    found = compliance(engine)
    when = (
        _("Where the municipality stands at the end of {year}.").format(year=year)
        if today == dt.date(year, 12, 31)
        else _("Where the municipality stands on {day}, the day this report was made.").format(
            day=day(today)
        )
    )
    rows = tuple(
        (item.title, _(STATUS_WORDS.get(item.level, item.level)), item.reason, item.law)
        for item in found.items
    )
    table = Table(
        _("The law's requirements"), (_("Requirement"), _("Level"), _("Why"), _("Law")), rows
    )
    return Section(heading, (Paragraph(when), table))


# ---------------------------------------------------------------- the year after


def _next_year(engine: Engine, year: int) -> Section:
    heading = _("Planned for {year}").format(year=year)
    lang = i18n.language()
    items = planning.year_plan(engine.org, engine.catalog.definitions, year, engine.cal)
    openings: dict[str, list[dt.date]] = defaultdict(list)
    for item in items:
        if item.kind == "cycle_open" and item.process is not None:
            openings[item.process].append(item.date)
    blocks: list[Paragraph | Table | Chart] = []
    if openings:
        rows = tuple(
            (
                _process_name(engine, process, lang),
                number(len(days), lang),
                day(min(days)),
            )
            for process, days in sorted(
                openings.items(), key=lambda p: _process_name(engine, p[0], lang)
            )
        )
        blocks.append(
            Table(
                _("Cycles the calendar opens in {year}").format(year=year),
                (_("Process"), _("Cycles"), _("First")),
                rows,
                numeric=frozenset({1}),
                short=frozenset({2}),
            )
        )
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    due = [v for v in Actions(engine).listing() if first <= v.due <= last]
    if due:
        blocks.append(
            Table(
                _("Actions due in {year}").format(year=year),
                (_("No."), _("Action"), _("Owner"), _("Due")),
                tuple((f"#{v.id}", v.title, _owner(engine, v.owner), day(v.due)) for v in due),
                short=frozenset({0, 3}),
            )
        )
    reviews = [i for i in items if i.kind == "review"]
    if reviews:
        blocks.append(
            Table(
                _("Policy documents to follow up or revise in {year}").format(year=year),
                (_("Date"), _("What")),
                tuple((day(i.date), i.title.get(lang)) for i in reviews),
                short=frozenset({0}),
            )
        )
    if not blocks:
        blocks.append(Paragraph(_("Nothing is planned for {year} yet.").format(year=year)))
    return Section(heading, tuple(blocks))


# ---------------------------------------------------------------- the summary


def _summary(
    year: int,
    held: Sequence[Cycle],
    pictures: Sequence[Lagesbild],
    actions: Sequence[ActionView],
    taken: Sequence[Decision],
) -> Section:
    heading = _("Summary")
    if not (held or actions or taken):
        said = _(
            "The record holds nothing of {year}: no cycle was opened, no action ran and no"
            " decision was recorded. The sections below say so one by one."
        ).format(year=year)
        return Section(heading, (Paragraph(said),))
    lang = i18n.language()
    figures = (
        (_("Cycles opened"), len(held)),
        (_("Processes that ran"), len({cycle.process for cycle in held})),
        (_("Processes with monthly situation reports"), len(pictures)),
        (_("Actions that ran"), len(actions)),
        (_("Of them done"), sum(1 for view in actions if view.state == "done")),
        (_("Decisions recorded"), len(taken)),
    )
    table = Table(
        _("The year in figures"),
        (_("What"), _("Number")),
        tuple((what, number(count, lang)) for what, count in figures),
        numeric=frozenset({1}),
    )
    return Section(heading, (table,))
