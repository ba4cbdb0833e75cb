"""``tsk backup FILE``: a consistent copy of a SQLite database while tsk keeps running."""

from __future__ import annotations

from pathlib import Path

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import emit_json, json_option


@click.command()
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@click.pass_context
def backup(ctx: click.Context, target: Path, as_json: bool) -> None:
    """Copy the SQLite database to TARGET with SQLite's online backup (PostgreSQL: pg_dump)."""
    import sqlite3

    from tsk_workflow.errors import TskError

    store = runtime.open_store(ctx)
    if store.dialect != "sqlite":
        raise TskError("on PostgreSQL use pg_dump (see docs/administrator.md)")
    if target.exists():
        raise TskError(f"{target} already exists")
    source_path = store.engine.url.database or ""
    with sqlite3.connect(source_path) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    size = target.stat().st_size
    if as_json:
        emit_json({"source": source_path, "target": str(target), "bytes": size})
    else:
        click.echo(f"{source_path} -> {target} ({size} byte)")
