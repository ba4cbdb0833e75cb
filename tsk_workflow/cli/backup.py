"""``tsk backup FILE``: a consistent copy of a SQLite database while tsk keeps running.

The copy is written as every file tsk writes (``tsk_workflow.files``): whole or not at all,
readable and writable by its OS user only (0600), as the database is; never through a symbolic
link, and over a file that is there only with ``--force``.
"""

from __future__ import annotations

from pathlib import Path

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import emit_json, force_option, json_option
from tsk_workflow.i18n import N_, _, ngettext


@click.command(
    help=N_("Copy the SQLite database to TARGET with SQLite's online backup (PostgreSQL: pg_dump).")
)
@click.argument("target", type=click.Path(path_type=Path))
@force_option
@json_option
@click.pass_context
def backup(ctx: click.Context, target: Path, force: bool, as_json: bool) -> None:
    import sqlite3
    from contextlib import closing

    from tsk_workflow.errors import TskError
    from tsk_workflow.files import check_target, replacing

    check_target(target, force=force)
    store = runtime.open_store(ctx)
    if store.dialect != "sqlite":
        raise TskError(_("on PostgreSQL use pg_dump (see docs/administrator.md)"))
    runtime.require_service_act(ctx, store, "backup")
    source_path = store.engine.url.database or ""
    try:
        with (
            replacing(target) as temporary,
            closing(sqlite3.connect(source_path)) as source,
            closing(sqlite3.connect(temporary)) as copy,
        ):
            source.backup(copy)
    except sqlite3.Error as exc:
        raise TskError(
            _("cannot copy {source} to {target}: {error}").format(
                source=source_path, target=target, error=exc
            )
        ) from None
    size = target.stat().st_size
    if as_json:
        emit_json({"source": source_path, "target": str(target), "bytes": size})
    else:
        copied = ngettext("{n} byte", "{n} bytes", size).format(n=size)
        click.echo(f"{source_path} -> {target} ({copied})")
