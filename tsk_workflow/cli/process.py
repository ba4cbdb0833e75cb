"""``tsk process``: list, show, validate and draw process definitions; move open cycles to the
current version of one (``upgrade-cycles``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from tsk_workflow.cli import views
from tsk_workflow.cli.context import TskGroup, emit_json, json_option, settings
from tsk_workflow.i18n import N_, _

if TYPE_CHECKING:
    from tsk_workflow.definitions.model import ProcessDefinition


@click.group(
    cls=TskGroup, help=N_("Process definitions: list, show, validate, draw, upgrade-cycles.")
)
def process() -> None:
    pass


@process.command("list", help=N_("The shipped processes."))
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    from tsk_workflow.catalog import load_catalog

    lang = settings(ctx).lang
    rows = [views.process_row(d, lang) for d in load_catalog().definitions.values()]
    rows.sort(key=lambda row: str(row["key"]))
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['key']:<24} v{row['version']:<3} {row['title']}")


@process.command(help=N_("One process: roles, schedule, steps, tasks and transitions."))
@click.argument("key")
@json_option
@click.pass_context
def show(ctx: click.Context, key: str, as_json: bool) -> None:
    from tsk_workflow.catalog import load_catalog

    definition = load_catalog().definition(key)
    if as_json:
        emit_json(definition.model_dump(mode="json", by_alias=True))
        return
    click.echo(views.process_text(definition, settings(ctx).lang))


@process.command(
    help=N_(
        "Check definition and organisation files (default: everything shipped).\n\n"
        "Prints one line per problem as file:line:column: message and exits 1 when there is one."
    )
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@json_option
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    from tsk_workflow.catalog import validate_files

    problems = validate_files(list(paths))
    if as_json:
        emit_json({"ok": not problems, "problems": [views.problem_row(p) for p in problems]})
    else:
        for problem in problems:
            click.echo(str(problem), err=True)
        if not problems:
            click.echo(
                "OK" if paths else _("OK: all shipped processes and municipalities are valid")
            )
    if problems:
        raise click.exceptions.Exit(1)


@process.command(
    help=N_(
        "Draw the steps (titled in --lang) and the triggers between them (mermaid or Graphviz"
        " dot); with --step or --cycle, that step is marked."
    )
)
@click.argument("key")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help=N_("Mermaid or Graphviz dot"),
)
@click.option("--step", help=N_("Mark this step as the current one"))
@click.option(
    "--cycle", "cycle_ref", help=N_("Mark the step this cycle is in (needs --org and --db)")
)
@json_option
@click.pass_context
def diagram(
    ctx: click.Context, key: str, fmt: str, step: str | None, cycle_ref: str | None, as_json: bool
) -> None:
    from tsk_workflow.catalog import load_catalog
    from tsk_workflow.definitions.diagram import draw

    definition = load_catalog().definition(key)
    if cycle_ref is not None:
        step, definition = _current_step(ctx, key, cycle_ref)
    if step is not None and step not in definition.step_keys:
        raise click.BadParameter(
            _("'{step}' is not a step of '{key}'").format(step=step, key=key), param_hint="--step"
        )
    drawn = draw(definition, "dot" if fmt == "dot" else "mermaid", step, settings(ctx).lang)
    if as_json:
        emit_json({"process": key, "format": fmt, "step": step, "diagram": drawn})
        return
    click.echo(drawn)


def _current_step(ctx: click.Context, key: str, cycle_ref: str) -> tuple[str, ProcessDefinition]:
    """The step the cycle is in, and the version of the definition it follows."""
    from tsk_workflow.cli import runtime
    from tsk_workflow.errors import Refused

    engine = runtime.engine(ctx)
    with engine.store.reading() as session:
        cycle = engine.find_cycle(session, cycle_ref)
        process, state = cycle.process, cycle.state
        if process != key:
            raise Refused(
                _("cycle {cycle} is a cycle of '{process}', not of '{key}'").format(
                    cycle=cycle_ref, process=process, key=key
                )
            )
        return state, engine.definition_for(session, process, cycle.process_digest)


@process.command(
    "upgrade-cycles",
    help=N_(
        "Move the open cycles of KEY that follow an older version of its definition to the"
        " current one (the chair of its group or an admin, --as).\n\n"
        "A cycle whose step the current version lacks (or makes final), or whose open task's key"
        " is not in that step, is refused, with the reason, and stays on its version."
    ),
)
@click.argument("key")
@click.option(
    "--dry-run", is_flag=True, help=N_("Say what would be moved and refused; change nothing")
)
@json_option
@click.pass_context
def upgrade_cycles(ctx: click.Context, key: str, dry_run: bool, as_json: bool) -> None:
    from tsk_workflow.cli import runtime
    from tsk_workflow.engine import upgrade

    engine = runtime.engine(ctx)
    done = upgrade.upgrade_cycles(engine, runtime.actor(ctx, engine), key, dry_run=dry_run)
    if as_json:
        emit_json(done.to_dict())
        return
    for line in views.upgrade_text(done, settings(ctx).lang):
        click.echo(line)
