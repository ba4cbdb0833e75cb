"""``tsk cycle``: open, list, show, advance and close cycles; what can fire next, and why not."""

from __future__ import annotations

from pathlib import Path

import click

from tsk_workflow.cli import runtime, views
from tsk_workflow.cli.context import TskGroup, emit_json, json_option, settings
from tsk_workflow.i18n import N_, _


@click.group(cls=TskGroup, help=N_("Cycles: one run of a process for a period and subject."))
def cycle() -> None:
    pass


@cycle.command("open", help=N_("Open a cycle of PROCESS (the group's chair or deputy)."))
@click.argument("process")
@click.option(
    "--period",
    help=N_(
        "As the schedule writes it: 2027-03 monthly, 2027-t2 a few times a year, 2027 yearly;"
        " free on demand (default: from the schedule and today)"
    ),
)
@click.option("--subject", help=N_("Town or area, for processes about one"))
@click.option(
    "--group",
    help=N_(
        "Another group that also runs the process, which you chair: the cycle is that"
        " group's (default: the process's own group)"
    ),
)
@json_option
@click.pass_context
def open_(
    ctx: click.Context,
    process: str,
    period: str | None,
    subject: str | None,
    group: str | None,
    as_json: bool,
) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.cycle_open(
            ctx, process, period=period, subject=subject, group=group, as_json=as_json
        )
        return
    engine = runtime.engine(ctx)
    opened = engine.open_cycle(runtime.actor(ctx, engine), process, period, subject, group=group)
    show_cycle(ctx, engine, opened.id, as_json)


@cycle.command("list", help=N_("The cycles of the organisation."))
@click.option("--open", "only_open", is_flag=True, help=N_("Only open cycles"))
@click.option("--process", help=N_("Only cycles of this process"))
@json_option
@click.pass_context
def list_(ctx: click.Context, only_open: bool, process: str | None, as_json: bool) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.cycle_list(ctx, only_open=only_open, process=process, as_json=as_json)
        return
    from tsk_workflow import titles

    engine = runtime.engine(ctx)
    if process:
        engine.catalog.definition(process)  # an unknown process is an error, not "no cycles"
    lang = settings(ctx).lang
    with engine.store.reading() as session:
        found = engine.cycles(session, only_open=only_open, process=process)
        rows = [views.cycle_row(c) for c in found]
        if not as_json:
            rows = [
                titles.cycle_row(engine, session, c, row, lang)
                for c, row in zip(found, rows, strict=True)
            ]
    views.show_cycles(rows, as_json)


@cycle.command(help=N_("One cycle with its tasks (ID or reference such as est-2027-03)."))
@click.argument("ref")
@json_option
@click.pass_context
def show(ctx: click.Context, ref: str, as_json: bool) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.cycle_show(ctx, ref, as_json=as_json)
        return
    show_cycle(ctx, runtime.engine(ctx), ref, as_json)


@cycle.command(help=N_("Fire TRIGGER on a cycle (allowed triggers are listed by 'cycle show')."))
@click.argument("ref")
@click.argument("trigger")
@click.option("--note", help=N_("Why, for the audit trail"))
@json_option
@click.pass_context
def advance(ctx: click.Context, ref: str, trigger: str, note: str | None, as_json: bool) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.cycle_advance(ctx, ref, trigger, note=note, as_json=as_json)
        return
    engine = runtime.engine(ctx)
    moved = engine.advance(runtime.actor(ctx, engine), ref, trigger, note)
    show_cycle(ctx, engine, moved.id, as_json)


@cycle.command(
    "next",
    help=N_("What can fire in a cycle now, and why not (for --as PERSON: whether they may)."),
)
@click.argument("ref")
@json_option
@click.pass_context
def next_(ctx: click.Context, ref: str, as_json: bool) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.cycle_next(ctx, ref, as_json=as_json)
        return
    engine = runtime.engine(ctx)
    actor = runtime.actor(ctx, engine)
    person = engine.directory.person(actor).id if actor else None
    possible = engine.possible_transitions(ref, person)
    with engine.store.reading() as session:
        found = engine.find_cycle(session, ref)
        data = {
            "cycle": found.ref,
            "status": found.status,
            "step": found.state,
            "person": person,
            "transitions": [p.as_dict() for p in possible],
        }
    if as_json:
        emit_json(data)
    else:
        click.echo(views.next_text(data, settings(ctx).lang))


@cycle.command(help=N_("Close a cycle (the group's chair or deputy)."))
@click.argument("ref")
@click.option("--note", help=N_("Why (required with --force)"))
@click.option("--force", is_flag=True, help=N_("Close even with open tasks (they are cancelled)"))
@json_option
@click.pass_context
def close(ctx: click.Context, ref: str, note: str | None, force: bool, as_json: bool) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.cycle_close(ctx, ref, note=note, force=force, as_json=as_json)
        return
    engine = runtime.engine(ctx)
    closed = engine.close_cycle(runtime.actor(ctx, engine), ref, note, force=force)
    show_cycle(ctx, engine, closed.id, as_json)


@cycle.command(help=N_("Attach a document to the cycle's current step (kept with its SHA-256)."))
@click.argument("ref")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--kind",
    required=True,
    type=click.Choice(
        [
            "protokoll",
            "atgardsplan",
            "samverkansoverenskommelse",
            "lagesbild",
            "orsaksanalys",
            "kallelse",
            "rapport",
            "enkatresultat",
            "medborgarlofte",
            "other",
        ]
    ),
    help=N_("What the document is"),
)
@json_option
@click.pass_context
def attach(ctx: click.Context, ref: str, file: Path, kind: str, as_json: bool) -> None:
    from tsk_workflow.engine.documents import Upload
    from tsk_workflow.engine.documents import attach as attach_document

    if ".." in file.parts:
        raise click.BadParameter(
            _("'{file}': paths with '..' are not accepted").format(file=file), param_hint="FILE"
        )
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.cycle_attach(ctx, ref, file, kind=kind, as_json=as_json)
        return
    engine = runtime.engine(ctx)
    document = attach_document(
        engine, runtime.actor(ctx, engine), ref, Upload(file.name, file.read_bytes()), kind
    )
    row = views.document_row(document)
    if as_json:
        emit_json(row)
    else:
        click.echo(
            f"{row['id']:>4} {row['kind']:<26} {row['filename']} sha256 {row['sha256'][:16]}…"
        )


@cycle.command(help=N_("The documents attached to a cycle."))
@click.argument("ref")
@json_option
@click.pass_context
def documents(ctx: click.Context, ref: str, as_json: bool) -> None:
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.cycle_documents(ctx, ref, as_json=as_json)
        return
    from tsk_workflow.engine.documents import documents as listing

    engine = runtime.engine(ctx)
    with engine.store.reading() as session:
        rows = [views.document_row(d) for d in listing(session, engine.find_cycle(session, ref))]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['id']:>4} {row['step']:<24} {row['kind']:<26} {row['filename']} ({row['size']} B, {row['attached_by']}) sha256 {row['sha256'][:16]}…"
        )
    if not rows:
        click.echo(_("No documents."))


def show_cycle(ctx: click.Context, engine: object, ref: str | int, as_json: bool) -> None:
    from tsk_workflow import titles
    from tsk_workflow.engine.service import Engine

    assert isinstance(engine, Engine)
    lang = settings(ctx).lang
    with engine.store.reading() as session:
        found = engine.find_cycle(session, ref)
        data = views.cycle_detail(
            found,
            engine.compiled_for(session, found.process, found.process_digest).allowed_triggers(
                found.state
            ),
        )
        if not as_json:
            data = titles.cycle_row(engine, session, found, data, lang)
    if as_json:
        emit_json(data)
    else:
        click.echo(views.cycle_text(data, lang))
