"""``tsk task``: list tasks and complete them."""

from __future__ import annotations

import click

from tsk_workflow.cli import runtime, views
from tsk_workflow.cli.context import TskGroup, emit_json, json_option, settings


@click.group(cls=TskGroup)
def task() -> None:
    """Tasks: work for a role inside a step."""


@task.command("list")
@click.option("--mine", is_flag=True, help="Only tasks assigned to me (--as)")
@click.option("--overdue", is_flag=True, help="Only open tasks past their due time")
@click.option("--all", "everything", is_flag=True, help="Also done and cancelled tasks")
@json_option
@click.pass_context
def list_(ctx: click.Context, mine: bool, overdue: bool, everything: bool, as_json: bool) -> None:
    """Open tasks of the organisation."""
    engine = runtime.engine(ctx)
    person = engine.actor(runtime.actor(ctx)) if mine else None
    with engine.store.reading() as session:
        found = engine.tasks(session, person=person, overdue=overdue, only_open=not everything)
        rows = [views.task_row(t, t.cycle.ref) for t in found]
    if as_json:
        emit_json(rows)
        return
    lang = settings(ctx).lang
    for row in rows:
        click.echo(views.task_line(row, lang))
    if not rows:
        click.echo("Inga uppgifter." if lang == "sv" else "No tasks.")


@task.command()
@click.argument("task_id", type=int)
@click.option("--note", help="What was done, for the record")
@json_option
@click.pass_context
def done(ctx: click.Context, task_id: int, note: str | None, as_json: bool) -> None:
    """Mark a task done (an assignee or the chair)."""
    engine = runtime.engine(ctx)
    completed = engine.complete_task(runtime.actor(ctx), task_id, note)
    with engine.store.reading() as session:
        found = engine.find_task(session, completed.id)
        row = views.task_row(found, found.cycle.ref)
    if as_json:
        emit_json(row)
    else:
        click.echo(views.task_line(row, settings(ctx).lang))
