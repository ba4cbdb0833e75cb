"""``tsk action``: the action register (add, list, show, update, follow up) and the decided
åtgärdsplan (``tsk action plan``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.action_views import effect_lines, line_of, lines_of
from tsk_workflow.cli.context import TskGroup, emit_json, json_option, settings
from tsk_workflow.i18n import N_, _


@click.group(
    cls=TskGroup,
    help=N_(
        "The action register: what the meetings decide to do, who does it by when, how it went."
    ),
)
def action() -> None:
    pass


def _field_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options that set an action's fields (``add`` and ``update``)."""
    options = [
        click.option("--title", help=N_("What is to be done")),
        click.option("--cause", help=N_("The cause it answers")),
        click.option("--goal", help=N_("The operative goal")),
        click.option(
            "--start", metavar="YYYY-MM-DD", help=N_("When it starts (today if not given)")
        ),
        click.option("--due", metavar="YYYY-MM-DD", help=N_("When it is to be done")),
        click.option("--owner", metavar="PERSON", help=N_("Who answers for it (a person)")),
        click.option(
            "--organisation",
            "owner_organisation",
            help=N_("The owner's organisation (their department if not given)"),
        ),
        click.option("--followup-plan", "followup_plan", help=N_("How it is followed up")),
        click.option("--cost", metavar="KR", help=N_("Its cost in kronor")),
        click.option("--category", help=N_("The lägesbild's category its effect is measured on")),
        click.option("--town", help=N_("The town or area it acts on")),
        click.option("--place", help=N_("Where in the town, e.g. 'stationen'")),
        click.option("--lat", "latitude", help=N_("Latitude of a point, WGS 84")),
        click.option("--lon", "longitude", help=N_("Longitude of a point, WGS 84")),
        click.option(
            "--window",
            "window_days",
            metavar="DAYS",
            help=N_("The effect follow-up's window before and after, in days (90)"),
        ),
        click.option("--cycle", metavar="CYCLE", help=N_("The cycle it came from")),
        click.option("--decision", metavar="ID", help=N_("The decision that took it")),
        click.option(
            "--promise", metavar="CYCLE", help=N_("The medborgarlöfte (its cycle) it serves")
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


@action.command(help=N_("Add an action to the register."))
@_field_options
@click.option("--status", help=N_("green, yellow or red (green if not given)"))
@json_option
@click.pass_context
def add(ctx: click.Context, /, as_json: bool, **values: Any) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.action_add(ctx, _given(values), as_json=as_json)
        return
    from tsk_workflow.engine.actions import Actions

    engine = runtime.engine(ctx)
    made = Actions(engine).add(runtime.actor(ctx, engine), _given(values))
    if as_json:
        emit_json(made.to_dict())
        return
    click.echo(_("Action {id} added.").format(id=made.id))
    click.echo("  " + action_line(engine, made))


@action.command(help=N_("Change fields of an action (its status changes with a follow-up)."))
@click.argument("action_id", type=int)
@_field_options
@json_option
@click.pass_context
def update(ctx: click.Context, /, action_id: int, as_json: bool, **values: Any) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.action_update(ctx, action_id, _given(values), as_json=as_json)
        return
    from tsk_workflow.engine.actions import Actions

    engine = runtime.engine(ctx)
    made = Actions(engine).update(runtime.actor(ctx, engine), action_id, _given(values))
    if as_json:
        emit_json(made.to_dict())
        return
    click.echo(_("Action {id} changed.").format(id=made.id))
    click.echo("  " + action_line(engine, made))


@action.command(help=N_("Follow up an action: how it goes, its status, done or cancelled."))
@click.argument("action_id", type=int)
@click.option("--status", help=N_("green, yellow or red"))
@click.option("--done", "state", flag_value="done", help=N_("The action is done"))
@click.option("--cancel", "state", flag_value="cancelled", help=N_("The action is cancelled"))
@click.option("--reopen", "state", flag_value="active", help=N_("The action goes on again"))
@click.option("--note", help=N_("How it goes, and why the status changes"))
@json_option
@click.pass_context
def followup(
    ctx: click.Context,
    action_id: int,
    status: str | None,
    state: str | None,
    note: str | None,
    as_json: bool,
) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.action_followup(
            ctx, action_id, status=status, state=state, note=note, as_json=as_json
        )
        return
    from tsk_workflow.engine.actions import Actions

    engine = runtime.engine(ctx)
    made = Actions(engine).followup(
        runtime.actor(ctx, engine), action_id, status=status, state=state, note=note
    )
    if as_json:
        emit_json(made.to_dict())
        return
    click.echo(_("Action {id} followed up.").format(id=made.id))
    click.echo("  " + action_line(engine, made))


@action.command("list", help=N_("The register: the active actions, by due date."))
@click.option(
    "--state",
    type=click.Choice(["active", "done", "cancelled", "all"]),
    default="active",
    show_default=True,
    help=N_("Which actions"),
)
@click.option("--owner", metavar="PERSON", help=N_("Only this person's"))
@click.option("--mine", is_flag=True, help=N_("Only yours"))
@click.option("--cycle", metavar="CYCLE", help=N_("Only those from this cycle"))
@click.option(
    "--promise", metavar="CYCLE", help=N_("Only those serving this medborgarlöfte (its cycle)")
)
@click.option("--status", help=N_("Only green, yellow or red"))
@click.option("--overdue", is_flag=True, help=N_("Only those past their due date"))
@json_option
@click.pass_context
def list_(
    ctx: click.Context,
    state: str,
    owner: str | None,
    mine: bool,
    cycle: str | None,
    promise: str | None,
    status: str | None,
    overdue: bool,
    as_json: bool,
) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.action_list(
            ctx,
            state=state,
            owner=owner,
            mine=mine,
            cycle=cycle,
            status=status,
            overdue=overdue,
            as_json=as_json,
            promise=promise,
        )
        return
    from tsk_workflow.engine.actions import Actions

    engine = runtime.engine(ctx)
    person = runtime.actor(ctx, engine)
    found = Actions(engine).listing(
        states=None if state == "all" else (state,),
        owner=person if mine else owner,
        cycle=cycle,
        status=status,
        overdue=overdue,
        promise=promise,
    )
    if as_json:
        emit_json([a.to_dict() for a in found])
        return
    for view in found:
        click.echo(action_line(engine, view))
    if not found:
        click.echo(_("No actions."))


@action.command(help=N_("An action in full: its columns, links, follow-ups and effect."))
@click.argument("action_id", type=int)
@json_option
@click.pass_context
def show(ctx: click.Context, action_id: int, as_json: bool) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.action_show(ctx, action_id, as_json=as_json)
        return
    from tsk_workflow.engine.actions import Actions
    from tsk_workflow.lagesbild.effect import effect_of

    engine = runtime.engine(ctx)
    runtime.actor(ctx, engine)
    view = Actions(engine).show(action_id)
    effect = effect_of(engine, view)
    if as_json:
        emit_json(view.to_dict() | {"effect": effect.to_dict()})
        return
    for line in action_lines(engine, view):
        click.echo(line)
    for line in effect_lines(effect):
        click.echo(line)


@action.command(
    help=N_(
        "The styrgrupp's follow-up: the actions of the plan in force, how they go, their"
        " effect, and how many are done."
    )
)
@json_option
@click.pass_context
def review(ctx: click.Context, as_json: bool) -> None:
    from tsk_workflow.lagesbild.effect import review as review_of

    engine = runtime.engine(ctx)
    runtime.actor(ctx, engine)
    found = review_of(engine)
    if as_json:
        emit_json(found.to_dict())
        return
    for line in review_lines(engine, found):
        click.echo(line)


# ---------------------------------------------------------------- the åtgärdsplan


@action.group(
    "plan",
    cls=TskGroup,
    help=N_("The åtgärdsplan: a set of actions adopted by a body, through a decision."),
)
def plan() -> None:
    pass


@plan.command(
    "propose",
    help=N_("Propose a new version of the åtgärdsplan from a cycle, for a body to adopt."),
)
@click.argument("cycle_ref")
@click.option("--title", required=True, help=N_("What is to be decided"))
@click.option(
    "--actions",
    "numbers",
    metavar="ID,ID,...",
    help=N_("The actions it holds (every active action if not given)"),
)
@click.option(
    "--attr",
    "attrs",
    multiple=True,
    metavar="KEY=VALUE",
    help=N_("An attribute the routing rules read, e.g. strategisk=ja (repeatable)"),
)
@json_option
@click.pass_context
def plan_propose(
    ctx: click.Context,
    cycle_ref: str,
    title: str,
    numbers: str | None,
    attrs: tuple[str, ...],
    as_json: bool,
) -> None:
    from tsk_workflow.cli.decision import _attrs
    from tsk_workflow.engine.action_plans import propose

    engine = runtime.engine(ctx)
    made, found = propose(
        engine,
        runtime.actor(ctx, engine),
        cycle_ref,
        title,
        _numbers(numbers),
        _attrs(attrs),
    )
    if as_json:
        emit_json(made.to_dict() | {"reason": found.reason(settings(ctx).lang)})
        return
    click.echo(
        _("Åtgärdsplan version {version}: {n} actions, decision {decision}").format(
            version=made.version, n=len(made.action_ids), decision=made.decision_id
        )
    )
    click.echo(
        "  "
        + _("to {body} by the rule '{rule}': {reason}").format(
            body=found.body.upper(), rule=found.rule, reason=found.reason(settings(ctx).lang)
        )
    )


@plan.command("list", help=N_("Every version of the åtgärdsplan, and which is in force."))
@json_option
@click.pass_context
def plan_list(ctx: click.Context, as_json: bool) -> None:
    from tsk_workflow.engine.action_plans import versions

    engine = runtime.engine(ctx)
    runtime.actor(ctx, engine)
    found = versions(engine)
    if as_json:
        emit_json([v.to_dict() for v in found])
        return
    for version in found:
        click.echo(plan_line(version))
    if not found:
        click.echo(_("No åtgärdsplan has been proposed."))


@plan.command("show", help=N_("A version of the åtgärdsplan (the one in force if not given)."))
@click.argument("version", type=int, required=False)
@json_option
@click.pass_context
def plan_show(ctx: click.Context, version: int | None, as_json: bool) -> None:
    from tsk_workflow.engine.action_plans import show as show_plan

    engine = runtime.engine(ctx)
    runtime.actor(ctx, engine)
    found, actions = show_plan(engine, version)
    if as_json:
        emit_json(found.to_dict() | {"actions": [a.to_dict() for a in actions]})
        return
    click.echo(plan_line(found))
    for view in actions:
        click.echo("  " + action_line(engine, view))


def _numbers(text: str | None) -> list[int] | None:
    if text is None:
        return None
    numbers = []
    for part in text.replace(" ", "").split(","):
        if not part.lstrip("#").isdigit():
            raise click.BadParameter(
                _("{value} is not an action's number").format(value=repr(part)),
                param_hint="--actions",
            )
        numbers.append(int(part.lstrip("#")))
    return numbers


# ---------------------------------------------------------------- how they read


def action_line(engine: Any, view: Any) -> str:
    """``#12 [gul] Belysning i parken · Jonas Ek · 2027-03-01 – 2027-05-31 · försenad``"""
    owner = engine.org.person(view.owner)
    return line_of(view, owner.name if owner is not None else view.owner)


def plan_line(version: Any) -> str:
    status = {
        "proposed": _("proposed to {body}").format(body=version.routed_to.upper()),
        "approved": _("adopted by {body} {date} {paragraph}").format(
            body=(version.body or "").upper(),
            date=version.decided_on.isoformat() if version.decided_on else "",
            paragraph=version.paragraph or "",
        ),
        "rejected": _("rejected by {body}").format(body=(version.body or "").upper()),
        "postponed": _("postponed by {body}").format(body=(version.body or "").upper()),
    }.get(version.status, version.status)
    line = _("Version {version}: {title} ({n} actions), {status}").format(
        version=version.version, title=version.title, n=len(version.action_ids), status=status
    )
    return line + (" · " + _("in force") if version.in_force else "")


def action_lines(engine: Any, view: Any) -> list[str]:
    """An action in full, one column a line, as ``tsk action show`` prints it."""
    from tsk_workflow.engine.events import categories, places

    org = engine.org
    owner = org.person(view.owner)
    label = categories(engine).get(view.category) if view.category else None
    return lines_of(
        view,
        owner_name=owner.name if owner is not None else view.owner,
        category=label.get(_lang()) if label else view.category,
        town=places(org).get(view.town, view.town) if view.town else None,
        zone=engine.cal.zone,
    )


def _sek(amount: float) -> str:
    from tsk_workflow.routing import sek

    return sek(amount)


def _lang() -> str:
    from tsk_workflow import i18n

    return i18n.language()


def review_lines(engine: Any, found: Any) -> list[str]:
    """The styrgrupp's follow-up as ``tsk action review`` prints it."""
    lines = [
        plan_line(found.plan)
        if found.plan is not None
        else _("No åtgärdsplan is in force: every action of the register.")
    ]
    for item in found.items:
        lines.append(action_line(engine, item.action))
        last = item.action.last_followup
        if last is not None:
            when = last.at.astimezone(engine.cal.zone).strftime("%Y-%m-%d")
            lines.append(
                "    "
                + _("last followed up {date}: {note}").format(date=when, note=last.note or "–")
            )
        else:
            lines.append("    " + _("not followed up yet"))
        lines.append("    " + _("effect: {judgement}").format(judgement=item.effect.judgement))
        if item.effect.survey is not None:
            lines.append("    " + _("safety survey: {text}").format(text=item.effect.survey.line()))
    if not found.items:
        lines.append(_("No actions."))
    lines.append(
        _("How many of the planned actions have been carried out? {done} of {planned}").format(
            done=found.done, planned=found.planned
        )
        + " ("
        + _("{overdue} overdue, {cancelled} cancelled").format(
            overdue=found.overdue, cancelled=found.cancelled
        )
        + ")"
    )
    if found.cost is not None:
        lines.append(
            _("Cost: {planned} planned, {done} of it for the actions done").format(
                planned=_sek(found.cost), done=_sek(found.cost_done or 0)
            )
        )
    return lines
