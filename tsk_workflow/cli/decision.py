"""``tsk decision``: propose, record and list decisions."""

from __future__ import annotations

import datetime as dt

import click

from tsk_workflow.cli import dates, runtime, views
from tsk_workflow.cli.context import TskGroup, emit_json, json_option


@click.group(cls=TskGroup)
def decision() -> None:
    """Decisions routed to KLG or KS."""


def _attrs(values: tuple[str, ...]) -> dict[str, str]:
    attrs = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--attr")
        attrs[key.strip()] = rest.strip()
    return attrs


@decision.command()
@click.argument("cycle_ref")
@click.option("--title", required=True)
@click.option("--cost", type=float, help="Cost in SEK")
@click.option(
    "--attr", "attrs", multiple=True, metavar="KEY=VALUE", help="e.g. policy=ja, forvaltningar=3"
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
    """Propose a decision from a cycle; prints where it is routed and why."""
    from tsk_workflow.engine.decisions import Decisions

    made, found = Decisions(runtime.engine(ctx)).propose(
        runtime.actor(ctx), cycle_ref, title, cost, _attrs(attrs)
    )
    row = views.decision_row(made)
    if as_json:
        emit_json(row)
        return
    click.echo(f"Beslut {made.id}: {made.title}")
    click.echo(f"  till {made.routed_to.upper()} enligt regeln '{found.rule}': {made.reason}")
    if made.agenda_date:
        click.echo(f"  på dagordningen för {made.routed_to.upper()} {made.agenda_date.isoformat()}")


@decision.command()
@click.argument("decision_id", type=int)
@click.option("--body", type=click.Choice(["klg", "ks"]), required=True)
@click.option("--date", "date_", type=dates.DateTime(), required=True, help="Meeting date")
@click.option("--paragraph", required=True, help="e.g. '§ 160'")
@click.option("--outcome", type=click.Choice(["approved", "rejected", "postponed"]), required=True)
@click.option("--override-reason", help="Why it was decided by another body than it was routed to")
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
    as_json: bool,
) -> None:
    """Record what the body decided."""
    from tsk_workflow.engine.decisions import Decisions

    made = Decisions(runtime.engine(ctx)).record(
        runtime.actor(ctx), decision_id, body, date_.date(), paragraph, outcome, override_reason
    )
    row = views.decision_row(made)
    if as_json:
        emit_json(row)
    else:
        click.echo(views.decision_line(row))


@decision.command("list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """Who proposed, where it was routed, what was decided, when, with which paragraph."""
    from tsk_workflow.engine.decisions import Decisions

    engine = runtime.engine(ctx)
    with engine.store.reading() as session:
        rows = [views.decision_row(d) for d in Decisions(engine).listing(session)]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(views.decision_line(row))
    if not rows:
        click.echo("Inga beslut.")
