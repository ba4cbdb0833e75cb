"""``tsk process``: list, show, validate and draw process definitions."""

from __future__ import annotations

from pathlib import Path

import click

from tsk_workflow.cli import views
from tsk_workflow.cli.context import TskGroup, emit_json, json_option, settings


@click.group(cls=TskGroup)
def process() -> None:
    """Process definitions: list, show, validate, draw."""


@process.command("list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """The shipped processes."""
    from tsk_workflow.catalog import load_catalog

    lang = settings(ctx).lang
    rows = [views.process_row(d, lang) for d in load_catalog().definitions.values()]
    rows.sort(key=lambda row: str(row["key"]))
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['key']:<24} v{row['version']:<3} {row['title']}")


@process.command()
@click.argument("key")
@json_option
@click.pass_context
def show(ctx: click.Context, key: str, as_json: bool) -> None:
    """One process: roles, schedule, steps, tasks and transitions."""
    from tsk_workflow.catalog import load_catalog

    definition = load_catalog().definition(key)
    if as_json:
        emit_json(definition.model_dump(mode="json", by_alias=True))
        return
    click.echo(views.process_text(definition, settings(ctx).lang))


@process.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@json_option
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check definition and organisation files (default: everything shipped).

    Prints one line per problem as file:line:column: message and exits 1 when there is one.
    """
    from tsk_workflow.catalog import validate_files

    problems = validate_files(list(paths))
    if as_json:
        emit_json({"ok": not problems, "problems": [views.problem_row(p) for p in problems]})
    else:
        for problem in problems:
            click.echo(str(problem), err=True)
        if not problems:
            click.echo("OK" if paths else "OK: all shipped processes and municipalities are valid")
    if problems:
        raise click.exceptions.Exit(1)


@process.command()
@click.argument("key")
@click.option(
    "--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True
)
@click.option("--step", help="Mark this step as the current one")
@click.option("--cycle", "cycle_ref", help="Mark the step this cycle is in (needs --org and --db)")
@click.pass_context
def diagram(
    ctx: click.Context, key: str, fmt: str, step: str | None, cycle_ref: str | None
) -> None:
    """Draw the steps and transitions (mermaid or Graphviz dot)."""
    from tsk_workflow.catalog import load_catalog
    from tsk_workflow.definitions.diagram import draw

    definition = load_catalog().definition(key)
    if cycle_ref is not None:
        step = _current_step(ctx, key, cycle_ref)
    if step is not None and step not in definition.step_keys:
        raise click.BadParameter(f"'{step}' is not a step of '{key}'", param_hint="--step")
    click.echo(draw(definition, "dot" if fmt == "dot" else "mermaid", step))


def _current_step(ctx: click.Context, key: str, cycle_ref: str) -> str:
    from tsk_workflow.cli import runtime
    from tsk_workflow.errors import Refused

    engine = runtime.engine(ctx)
    with engine.store.reading() as session:
        cycle = engine.find_cycle(session, cycle_ref)
        process, state = cycle.process, cycle.state
    if process != key:
        raise Refused(f"cycle {cycle_ref} is a cycle of '{process}', not of '{key}'")
    return state
