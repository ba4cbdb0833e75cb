"""``tsk decision``: propose, record and list decisions."""

from __future__ import annotations

import datetime as dt

import click

from tsk_workflow.cli import dates, runtime, views
from tsk_workflow.cli.context import TskGroup, emit_json, json_option, settings
from tsk_workflow.i18n import N_, _

BODY_KEYS = ("klg", "ks", "kf", "styrgrupp", "forvaltning", "delegat")
"""organisation.model.BODIES, written out: the CLI starts without importing the model."""


@click.group(
    cls=TskGroup,
    help=N_("Decisions routed to KLG, KS, KF, the steering group, a department or a delegate."),
)
def decision() -> None:
    pass


def _attrs(values: tuple[str, ...]) -> dict[str, str]:
    attrs = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(
                _("{value} is not KEY=VALUE").format(value=repr(value)), param_hint="--attr"
            )
        attrs[key.strip()] = rest.strip()
    return attrs


@decision.command(help=N_("Propose a decision from a cycle; prints where it is routed and why."))
@click.argument("cycle_ref")
@click.option("--title", required=True, help=N_("What is to be decided"))
@click.option("--cost", type=float, help=N_("Cost in SEK"))
@click.option(
    "--attr",
    "attrs",
    multiple=True,
    metavar="KEY=VALUE",
    help=N_("An attribute the routing rules read, e.g. policy=ja, forvaltningar=3 (repeatable)"),
)
@json_option
@click.pass_context
def propose(
    ctx: click.Context,
    cycle_ref: str,
    title: str,
    cost: float | None,
    attrs: tuple[str, ...],
    as_json: bool,
) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.decision_propose(
            ctx, cycle_ref, title=title, cost=cost, attrs=_attrs(attrs), as_json=as_json
        )
        return
    from tsk_workflow.engine.decisions import Decisions

    engine = runtime.engine(ctx)
    made, found = Decisions(engine).propose(
        runtime.actor(ctx, engine), cycle_ref, title, cost, _attrs(attrs)
    )
    row = views.decision_row(made)
    if as_json:
        emit_json(row)
        return
    body = made.routed_to.upper()
    reason = found.reason(settings(ctx).lang)  # stored in Swedish (made.reason): the record
    click.echo(_("Decision {id}: {title}").format(id=made.id, title=made.title))
    click.echo(
        "  "
        + _("to {body} by the rule '{rule}': {reason}").format(
            body=body, rule=found.rule, reason=reason
        )
    )
    if made.agenda_date:
        click.echo(
            "  "
            + _("on the agenda of {body} {date}").format(
                body=body, date=made.agenda_date.isoformat()
            )
        )
    elif not Decisions(engine).meets(made.routed_to):  # no agenda: one person decides
        click.echo("  " + _("decided by {body} without a meeting").format(body=body))


@decision.command(help=N_("Record what the body decided."))
@click.argument("decision_id", type=int)
@click.option(
    "--body",
    type=click.Choice(BODY_KEYS),
    required=True,
    help=N_(
        "The body that decided: klg, ks, kf, styrgrupp (the steering group), forvaltning (the"
        " department concerned), delegat (a delegate under the delegation rules)"
    ),
)
@click.option(
    "--date",
    "date_",
    type=dates.DateTime(),
    required=True,
    help=N_("Meeting date"),
)
@click.option(
    "--paragraph",
    required=True,
    help=N_(
        "The paragraph of the minutes, e.g. '§ 160'; for a decision without a meeting, its"
        " number in the register of delegation decisions, e.g. 'D 2027:14'"
    ),
)
@click.option(
    "--outcome",
    type=click.Choice(["approved", "rejected", "postponed"]),
    required=True,
    help=N_("What was decided"),
)
@click.option(
    "--override-reason", help=N_("Why it was decided by another body than it was routed to")
)
@click.option("--text", help=N_("The decision's wording, as the minutes have it"))
@click.option(
    "--extra-meeting",
    is_flag=True,
    help=N_("Decided at an extra meeting, one the body's meeting calendar does not list"),
)
@json_option
@click.pass_context
def record(
    ctx: click.Context,
    decision_id: int,
    body: str,
    date_: dt.datetime,
    paragraph: str,
    outcome: str,
    override_reason: str | None,
    text: str | None,
    extra_meeting: bool,
    as_json: bool,
) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.decision_record(
            ctx,
            decision_id,
            body=body,
            date=date_.date(),
            paragraph=paragraph,
            outcome=outcome,
            override_reason=override_reason,
            text=text,
            extra_meeting=extra_meeting,
            as_json=as_json,
        )
        return
    from tsk_workflow.engine.decisions import Decisions

    engine = runtime.engine(ctx)
    made = Decisions(engine).record(
        runtime.actor(ctx, engine),
        decision_id,
        body,
        date_.date(),
        paragraph,
        outcome,
        override_reason,
        text,
        extra_meeting,
    )
    row = views.decision_row(made)
    if as_json:
        emit_json(row)
    else:
        click.echo(views.decision_line(row))


@decision.command(
    "list",
    help=N_("Who proposed, where it was routed, what was decided, when, with which paragraph."),
)
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.decision_list(ctx, as_json=as_json)
        return
    from tsk_workflow.engine.decisions import Decisions

    engine = runtime.engine(ctx)
    with engine.store.reading() as session:
        rows = [views.decision_row(d) for d in Decisions(engine).listing(session)]
    views.show_decisions(rows, as_json)
