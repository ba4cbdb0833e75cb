"""``tsk init``: create or upgrade the database and load the first version of the organisation."""

from __future__ import annotations

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import emit_json, json_option, settings
from tsk_workflow.i18n import N_, _


@click.command(
    help=N_(
        "Create or upgrade the database (Alembic migrations) and load the organisation (--org)."
        "\n\nThe first init of a municipality stores its organisation as version 1; the same"
        " file again changes nothing. A new version is loaded by one of its admins with"
        " 'tsk org load FILE'. Every process definition not yet in the database is stored (by"
        " version: a changed definition with an unchanged version is refused, with file and"
        " line)."
    )
)
@click.option(
    "--virtual-time",
    is_flag=True,
    help=N_("A database for the demo or tests: it takes TSK_NOW and --now (only while it is new)"),
)
@click.option(
    "--app-role",
    metavar="ROLE",
    help=N_(
        "PostgreSQL: grant ROLE what the service needs (run as the owner role; see"
        " docs/administrator.md)"
    ),
)
@json_option
@click.pass_context
def init(ctx: click.Context, virtual_time: bool, app_role: str | None, as_json: bool) -> None:
    from tsk_workflow.store import installation, migrate

    store = runtime.open_store(ctx, create=True)
    migrate.upgrade(store, app_role=app_role)  # the grants in the migrations' transaction
    if virtual_time:
        with store.transaction() as session:
            installation.make_virtual(session)
    stored = _store_definitions(store)
    result: dict[str, object] = {
        "database": store.shown,
        "revision": migrate.current_revision(store),
        "virtual_time": installation.virtual_time(store),
        "definitions_stored": stored,
    }
    if settings(ctx).org:
        result |= _bootstrap(ctx, store)
    if as_json:
        emit_json(result)
        return
    click.echo(
        _("The database is up to date ({revision}): {database}").format(
            revision=result["revision"], database=result["database"]
        )
    )
    if result["virtual_time"]:
        click.echo(_("It runs on virtual time (TSK_NOW and --now apply)."))
    if stored:
        click.echo(
            _("Process definitions stored in the database: {keys}.").format(keys=", ".join(stored))
        )
    if "municipality" in result:
        message = (
            _("The organisation {name} is loaded (version {version}).")
            if result["changed"]
            else _("The organisation {name} is unchanged (version {version}).")
        )
        click.echo(message.format(name=result["name"], version=result["version"]))


def _store_definitions(store: object) -> list[str]:
    """Store the process definitions the database does not hold yet (``engine/versions.py``);
    ``key vN`` of each stored now. The time is the server's: when the text was stored."""
    import datetime as dt

    from tsk_workflow.catalog import load_catalog
    from tsk_workflow.engine import versions
    from tsk_workflow.store.database import Store

    assert isinstance(store, Store)
    catalog = load_catalog()
    stored = versions.store_catalog(store, catalog, dt.datetime.now(dt.UTC))
    return [f"{key} v{catalog.sources[key].version}" for key in stored]


def _bootstrap(ctx: click.Context, store: object) -> dict[str, object]:
    from tsk_workflow.catalog import load_catalog, organisation_from_text
    from tsk_workflow.engine import setup
    from tsk_workflow.store.database import Store

    assert isinstance(store, Store)
    file = runtime.read_organisation_file(settings(ctx).require_org())
    catalog = load_catalog()
    org = organisation_from_text(file.text, file.name, catalog)
    clock = runtime.clock(store)
    # The first version: recorded with the name given and the OS user (setup.bootstrap).
    loaded = setup.bootstrap(store, catalog, file, org, settings(ctx).actor, clock)
    return loaded.to_dict()
