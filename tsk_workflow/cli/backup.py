"""``tsk backup FILE``: a consistent copy of a SQLite database while tsk keeps running.

The copy is created readable and writable by its OS user only (0600), as the database is.
"""

from __future__ import annotations

from pathlib import Path

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import emit_json, json_option
from tsk_workflow.i18n import N_, _, ngettext


@click.command(
    help=N_("Copy the SQLite database to TARGET with SQLite's online backup (PostgreSQL: pg_dump).")
)
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@click.pass_context
def backup(ctx: click.Context, target: Path, as_json: bool) -> None:
    import sqlite3
    from contextlib import closing

    from tsk_workflow.errors import TskError
    from tsk_workflow.store.database import PRIVATE_FILE

    store = runtime.open_store(ctx)
    if store.dialect != "sqlite":
        raise TskError(_("on PostgreSQL use pg_dump (see docs/administrator.md)"))
    runtime.require_service_act(ctx, store, "backup")
    source_path = store.engine.url.database or ""
    _create_private(target, PRIVATE_FILE)
    try:
        with (
            closing(sqlite3.connect(source_path)) as source,
            closing(sqlite3.connect(target)) as copy,
        ):
            source.backup(copy)
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
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


def _create_private(target: Path, mode: int) -> None:
    """Create ``target`` empty with ``mode`` (refused if anything is there, a link included)."""
    import os

    from tsk_workflow.errors import TskError

    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    except FileExistsError:
        raise TskError(_("{target} already exists").format(target=target)) from None
    except OSError as exc:
        raise TskError(
            _("cannot create {target}: {error}").format(target=target, error=exc.strerror)
        ) from None
