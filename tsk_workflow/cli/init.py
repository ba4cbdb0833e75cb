"""``tsk init``: create or upgrade the database and load the organisation."""

from __future__ import annotations

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import emit_json, json_option, settings


@click.command()
@json_option
@click.pass_context
def init(ctx: click.Context, as_json: bool) -> None:
    """Create or upgrade the database (Alembic migrations) and load the organisation (--org)."""
    from tsk_workflow.catalog import resolve_organisation_path
    from tsk_workflow.engine.setup import load_organisation
    from tsk_workflow.store import migrate

    store = runtime.open_store(ctx)
    migrate.upgrade(store)
    result: dict[str, object] = {
        "database": _shown(store.url),
        "revision": migrate.current_revision(store),
    }
    if settings(ctx).org:
        engine = runtime.engine(ctx)
        row, changed = load_organisation(
            engine, resolve_organisation_path(settings(ctx).require_org())
        )
        result |= {"municipality": row.key, "name": row.name, "changed": changed}
    if as_json:
        emit_json(result)
        return
    click.echo(f"Databasen är uppdaterad ({result['revision']}): {result['database']}")
    if "municipality" in result:
        state = "inläst" if result["changed"] else "oförändrad"
        click.echo(f"Organisationen {result['name']} är {state}.")


def _shown(url: str) -> str:
    """The database as people recognise it: no password, no connection options."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(query={}).render_as_string(hide_password=True)
