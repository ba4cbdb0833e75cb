"""``tsk audit``: who did and decided what, exported, and the chain verified."""

from __future__ import annotations

import datetime as dt

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import TskGroup, emit_json, settings

DATE = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])


@click.group(cls=TskGroup, invoke_without_command=True)
@click.option("--cycle", "cycle_ref", help="Only events of this cycle (ID or reference)")
@click.option("--actor", help="Only events by this person")
@click.option("--since", type=DATE, help="From this date or time (Stockholm time)")
@click.option("--until", type=DATE, help="Up to, not including, this date or time")
@click.option("--refused", is_flag=True, help="Acts refused for lack of permission instead")
@click.option("--json", "as_json", is_flag=True, help="Print JSON only")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV")
@click.pass_context
def audit(
    ctx: click.Context,
    cycle_ref: str | None,
    actor: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    refused: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """The audit trail, oldest first; 'tsk audit verify' checks the hash chain."""
    if ctx.invoked_subcommand is not None:
        return
    from tsk_workflow import audit as trail
    from tsk_workflow.calendar import STOCKHOLM

    store = runtime.open_store(ctx)
    municipality, cycle_id = _scope(ctx, cycle_ref)
    if refused:
        _refused(store, municipality, actor, as_json)
        return
    with store.reading() as session:
        rows = trail.query(
            session, municipality, cycle_id, actor, _local(since), _local(until), tz=STOCKHOLM
        )
    if as_json:
        click.echo(trail.rows_to_json(rows))
    elif as_csv:
        click.echo(trail.rows_to_csv(rows), nl=False)
    else:
        for row in rows:
            when = row.at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
            click.echo(
                f"{row.seq:>6} {when} {row.actor:<18} {row.role:<16} {row.action:<20} {row.subject} {_brief(row.payload)}"
            )


def _local(value: dt.datetime | None) -> dt.datetime | None:
    from tsk_workflow.calendar import STOCKHOLM

    return value.replace(tzinfo=STOCKHOLM) if value is not None else None


def _scope(ctx: click.Context, cycle_ref: str | None) -> tuple[str | None, int | None]:
    if not settings(ctx).org:
        if cycle_ref is not None and not cycle_ref.isdigit():
            raise click.BadParameter(
                "a cycle reference needs --org; or give the cycle's number", param_hint="--cycle"
            )
        return None, int(cycle_ref) if cycle_ref else None
    engine = runtime.engine(ctx)
    if cycle_ref is None:
        return engine.org.municipality, None
    with engine.store.reading() as session:
        return engine.org.municipality, engine.find_cycle(session, cycle_ref).id


def _brief(payload: dict[str, object] | None) -> str:
    if not payload:
        return ""
    keys = ("trigger", "to", "note", "title", "routed_to", "outcome", "paragraph", "forced", "late")
    parts = [f"{key}={payload[key]}" for key in keys if payload.get(key) not in (None, "", False)]
    return " ".join(parts)


def _refused(store: object, municipality: str | None, actor: str | None, as_json: bool) -> None:
    from sqlalchemy import select

    from tsk_workflow.calendar import STOCKHOLM
    from tsk_workflow.store.database import Store
    from tsk_workflow.store.models import RefusedAct

    assert isinstance(store, Store)
    query = select(RefusedAct).order_by(RefusedAct.id)
    if municipality:
        query = query.where(RefusedAct.municipality == municipality)
    if actor:
        query = query.where(RefusedAct.actor == actor)
    with store.reading() as session:
        rows = [
            {
                "id": r.id,
                "at": r.at.isoformat(),
                "municipality": r.municipality,
                "actor": r.actor,
                "action": r.action,
                "subject": r.subject,
                "reason": r.reason,
            }
            for r in session.scalars(query)
        ]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        when = (
            dt.datetime.fromisoformat(str(row["at"]))
            .astimezone(STOCKHOLM)
            .strftime("%Y-%m-%d %H:%M")
        )
        click.echo(
            f"{row['id']:>5} {when} {row['actor']:<18} {row['action']:<20} {row['subject']}: {row['reason']}"
        )


@audit.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON only")
@click.pass_context
def verify(ctx: click.Context, as_json: bool) -> None:
    """Recompute the hash chain; exit 1 naming the first broken event."""
    from tsk_workflow import audit as trail
    from tsk_workflow.engine.documents import verify_documents

    store = runtime.open_store(ctx)
    with store.reading() as session:
        result = trail.verify(session)
        documents = verify_documents(session)
    if documents:
        result = trail.with_problems(result, documents)
    if as_json:
        emit_json(
            {
                "ok": result.ok,
                "checked": result.checked,
                "first_broken": result.first_broken,
                "reason": result.reason,
                "head_hash": result.head_hash,
                "problems": list(result.problems),
            }
        )
    elif result.ok:
        click.echo(
            f"OK: {result.checked} händelser, kedjan är hel (senaste hash {(result.head_hash or '')[:16]}…)"
        )
    else:
        click.echo(f"BRUTEN vid händelse {result.first_broken}: {result.reason}", err=True)
        for problem in list(result.problems)[1:10]:
            click.echo(f"  {problem}", err=True)
    if not result.ok:
        raise click.exceptions.Exit(1)
