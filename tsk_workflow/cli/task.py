"""``tsk task``: list tasks, complete them (with the answers to their forms), show forms."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tsk_workflow import i18n
from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import (
    TskGroup,
    emit_json,
    emit_plain_json,
    json_option,
    no_collection,
    settings,
)
from tsk_workflow.i18n import N_, _
from tsk_workflow.titles import STORED

if TYPE_CHECKING:
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.store.database import Store


@click.group(cls=TskGroup, help=N_("Tasks: work for a role inside a step."))
def task() -> None:
    pass


@task.command("list", help=N_("Open tasks of the organisation."))
@click.option("--mine", is_flag=True, help=N_("Only tasks assigned to me (--as)"))
@click.option("--overdue", is_flag=True, help=N_("Only open tasks past their due time"))
@click.option("--all", "everything", is_flag=True, help=N_("Also done and cancelled tasks"))
@json_option
@click.pass_context
def list_(ctx: click.Context, mine: bool, overdue: bool, everything: bool, as_json: bool) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.task_list(ctx, mine=mine, overdue=overdue, everything=everything, as_json=as_json)
        return
    lang = settings(ctx).lang
    # The stored titles are Swedish (cli/titles.py): another language needs the definitions.
    quick = not mine and (as_json or lang == STORED)
    rows = _listed(ctx, overdue=overdue, only_open=not everything) if quick else None
    if rows is None:
        from tsk_workflow import titles  # the definitions' model: not at start-up
        from tsk_workflow.cli import views

        engine = runtime.engine(ctx)
        person = engine.actor(runtime.actor(ctx, engine), "task.list") if mine else None
        with engine.store.reading() as session:
            found = engine.tasks(session, person=person, overdue=overdue, only_open=not everything)
            rows = [views.task_row(t, t.cycle.ref) for t in found]
            if not as_json:
                rows = [
                    titles.task_row(engine, session, t, row, lang)
                    for t, row in zip(found, rows, strict=True)
                ]
    if as_json:
        emit_plain_json(rows)  # texts, integers, booleans, None: see store/queries.task_dict
        return
    from tsk_workflow.cli import views

    for row in rows:
        click.echo(views.task_line(row, lang))
    if not rows:
        click.echo(_("No tasks."))


def _listed(ctx: click.Context, *, overdue: bool, only_open: bool) -> list[dict[str, Any]] | None:
    """``task list`` without building an engine when ``runtime.loaded_municipality`` knows the
    municipality (None otherwise: the caller goes the usual way). Start-up is what a user feels."""
    with no_collection():
        found = runtime.loaded_municipality(ctx)
        if found is None:
            return None
        return _rows(*found, overdue=overdue, only_open=only_open)


def _rows(
    store: Store, municipality: str, *, overdue: bool, only_open: bool
) -> list[dict[str, Any]]:
    """The municipality's tasks from two Core queries (``store/queries.py``), at ``TSK_NOW``."""
    from tsk_workflow.store.queries import task_rows

    now = runtime.clock(store)()
    try:
        return task_rows(store, municipality, overdue=overdue, only_open=only_open, now=now)
    finally:
        store.dispose()


@task.command(
    help=N_(
        "Mark a task done (an assignee or the chair), with the answers to its form if it has one"
        " (see 'task form TASK'), or --nothing-to-report."
    )
)
@click.argument("task_id", type=int)
@click.option("--note", help=N_("What was done, for the record"))
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=N_("The task's form answered in a YAML or JSON file (see 'task form --template')"),
)
@click.option(
    "--answer",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help=N_("One answer (repeatable; several choices comma-separated); wins over --answers"),
)
@click.option(
    "--nothing-to-report",
    is_flag=True,
    help=N_("A task with a form that is not required: done without answers, nothing to report"),
)
@json_option
@click.pass_context
def done(
    ctx: click.Context,
    task_id: int,
    note: str | None,
    answers_file: Path | None,
    pairs: tuple[str, ...],
    nothing_to_report: bool,
    as_json: bool,
) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.task_done(
            ctx,
            task_id,
            note=note,
            answers_file=answers_file,
            pairs=pairs,
            nothing_to_report=nothing_to_report,
            as_json=as_json,
        )
        return
    from tsk_workflow import titles  # the definitions' model: not at start-up
    from tsk_workflow.cli import views

    engine = runtime.engine(ctx)
    given = _given_answers(ctx, engine, task_id, answers_file, pairs)
    completed = engine.complete_task(
        runtime.actor(ctx, engine), task_id, note, given, nothing_to_report=nothing_to_report
    )
    lang = settings(ctx).lang
    with engine.store.reading() as session:
        found = engine.find_task(session, completed.id)
        row = views.task_row(found, found.cycle.ref) | {"answers": found.answers}
        if not as_json:
            row = titles.task_row(engine, session, found, row, lang)
    if as_json:
        emit_json(row)
    else:
        click.echo(views.task_line(row, lang))


def _given_answers(
    ctx: click.Context,
    engine: Engine,
    task_id: int,
    answers_file: Path | None,
    pairs: tuple[str, ...],
) -> dict[str, Any] | None:
    """The answers given, checked against the task's form before the engine acts: every wrong
    answer is printed (with file, line and column when it is in the file) and nothing is done."""
    from tsk_workflow import forms

    if answers_file is None and not pairs:
        return None
    document = None
    given: dict[str, Any] = {}
    if answers_file is not None:
        document = forms.read_answers_file(answers_file)
        given.update(document.data)
    from_pairs, problems = forms.parse_pairs(pairs)
    given.update(from_pairs)
    with engine.store.reading() as session:
        found = engine.find_task(session, task_id)
        cycle = found.cycle
        definition = engine.definition_for(session, cycle.process, cycle.process_digest)
        form = forms.form_of(definition, found.step, found.key)
    if form is not None and forms.answered(given):
        problems += forms.check_answers(form, given, engine.org)[1]
    if problems:
        for line in forms.located(problems, document):
            click.echo(f"tsk: {line}", err=True)
        ctx.exit(1)
    return given


@task.command(help=N_("The form of a task: its questions and the answers they allow."))
@click.argument("task_id", type=int)
@click.option(
    "--lang",
    type=click.Choice(["sv", "en"]),
    help=N_("Language of the labels (default: the global --lang, Swedish)"),
)
@click.option(
    "--template",
    type=click.Path(allow_dash=True, path_type=Path),
    metavar="FILE",
    help=N_("Write a YAML file to fill in and give to 'task done --answers' ('-': print it)"),
)
@click.option("--force", is_flag=True, help=N_("Overwrite the --template file if it exists"))
@json_option
@click.pass_context
def form(
    ctx: click.Context,
    task_id: int,
    lang: str | None,
    template: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    lang = lang or settings(ctx).lang
    with i18n.speaking(lang):
        _form(ctx, task_id, lang, template, force, as_json)


def _form(
    ctx: click.Context,
    task_id: int,
    lang: str,
    template: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    from tsk_workflow import forms
    from tsk_workflow.errors import Refused

    if template is not None and ".." in template.parts:
        raise click.BadParameter(
            _("'{file}': paths with '..' are not accepted").format(file=template),
            param_hint="--template",
        )
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.task_form(ctx, task_id, lang=lang, template=template, force=force, as_json=as_json)
        return
    engine = runtime.engine(ctx)
    with engine.store.reading() as session:
        found = engine.find_task(session, task_id)
        ref, answers = found.cycle.ref, found.answers
        cycle = found.cycle
        definition = engine.definition_for(session, cycle.process, cycle.process_digest)
        task_def = forms.task_definition(definition, found.step, found.key)
    if task_def is None or task_def.form is None:
        raise Refused(_("task {id} ({key}) has no form").format(id=task_id, key=found.key))
    the_form = task_def.form
    heading = _("{title} – {cycle}, task {id}").format(
        title=task_def.title.get(lang), cycle=ref, id=task_id
    )
    if template is not None:
        from tsk_workflow.cli import views

        text = forms.template_yaml(the_form, engine.org, lang, task_id, heading)
        views.write_form_template(template, text, task_id, force=force, as_json=as_json)
        return
    if as_json:
        emit_json(
            {"task": task_id, "cycle_ref": ref, "answers": answers}
            | forms.form_json(the_form, engine.org, lang)
        )
        return
    click.echo(heading)
    click.echo(forms.form_text(the_form, engine.org, lang, task_id, answers))
