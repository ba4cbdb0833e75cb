"""How an action of the register reads on the command line, from the engine's ``ActionView``
(``tsk action``) or from the service's JSON made into one (``cli/remote.py``)."""

from __future__ import annotations

from typing import Any

from tsk_workflow.i18n import _


def status_word(status: str) -> str:
    return {"green": _("green"), "yellow": _("yellow"), "red": _("red")}.get(status, status)


def state_word(state: str) -> str:
    return {"active": _("active"), "done": _("done"), "cancelled": _("cancelled")}.get(state, state)


def line_of(view: Any, owner_name: str) -> str:
    """``tsk_workflow.cli.action.action_line`` with the owner's name given (through the
    service, from its JSON)."""
    parts = [
        f"#{view.id} [{status_word(view.status)}] {view.title}",
        owner_name,
        f"{view.start.isoformat()} – {view.due.isoformat()}",
    ]
    if view.state != "active":
        parts.append(state_word(view.state))
    elif view.overdue:
        parts.append(_("overdue"))
    return " · ".join(parts)


def lines_of(
    view: Any, *, owner_name: str, category: str | None, town: str | None, zone: Any
) -> list[str]:
    """``tsk_workflow.cli.action.action_lines`` with the names given (through the service,
    from its JSON)."""
    from tsk_workflow.routing import sek  # not on the way of every command: it loads pydantic

    rows: list[tuple[str, str | None]] = [
        (_("Action"), f"#{view.id} {view.title}"),
        (
            _("Status"),
            f"{status_word(view.status)}, {state_word(view.state)}"
            + (", " + _("overdue") if view.overdue else ""),
        ),
        (_("Cause"), view.cause),
        (_("Operative goal"), view.goal),
        (_("When"), f"{view.start.isoformat()} – {view.due.isoformat()}"),
        (
            _("Who"),
            owner_name + (f", {view.owner_organisation}" if view.owner_organisation else ""),
        ),
        (_("Follow-up"), view.followup_plan),
        (_("Cost"), sek(view.cost) if view.cost is not None else None),
    ]
    if view.category:
        rows.append((_("Category"), category or view.category))
    if view.town:
        where = town or view.town
        if view.place:
            where += f", {view.place}"
        if view.point:
            where += f" ({view.point[0]}, {view.point[1]})"
        rows.append((_("Place"), where))
    if view.cycle_id:
        rows.append((_("From cycle"), str(view.cycle_id)))
    if view.decision_id:
        rows.append((_("Decision"), str(view.decision_id)))
    if view.promise_cycle_id:
        rows.append((_("Medborgarlöfte"), str(view.promise_cycle_id)))
    width = max(len(label) for label, _value in rows) + 2
    lines = [f"{(label + ':').ljust(width)}{value}" for label, value in rows if value]
    if view.followups:
        lines.append(_("Follow-ups:"))
        for found in view.followups:
            when = found.at.astimezone(zone).strftime("%Y-%m-%d")
            lines.append(
                f"  {when} {found.by} [{status_word(found.status)}"
                + (f", {state_word(found.state)}" if found.state != "active" else "")
                + "]"
                + (f" {found.note}" if found.note else "")
            )
    return lines


def effect_lines(effect: Any) -> list[str]:
    """The effect follow-up of an action, as ``tsk action show`` ends."""
    from tsk_workflow.lagesbild.effect import summary_line, window_lines

    windows = window_lines(effect.before, effect.after, effect.after_ends, effect.end_from)
    lines = [summary_line(effect.window_days, effect.judgement), *("  " + w for w in windows)]
    if effect.survey is not None:
        lines.append("  " + _("Safety survey: {text}").format(text=effect.survey.line()))
    return lines
