"""Building the engine a command needs from the global options."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tsk_workflow.cli.context import settings

if TYPE_CHECKING:
    from tsk_workflow.engine.service import Clock, Engine
    from tsk_workflow.store.database import Store


def open_store(ctx: click.Context) -> Store:
    from tsk_workflow.store.database import Store, database_url

    return Store(database_url(settings(ctx).db))


def engine(ctx: click.Context, clock: Clock | None = None) -> Engine:
    from tsk_workflow.catalog import load_catalog, load_organisation
    from tsk_workflow.engine.service import Engine, system_clock

    catalog = load_catalog()
    org = load_organisation(settings(ctx).require_org(), catalog)
    return Engine(open_store(ctx), catalog, org, clock or system_clock)


def engines(ctx: click.Context, clock: Clock) -> dict[str, Engine]:
    """The engine of --org, or of every municipality loaded into the database."""
    from sqlalchemy import select

    from tsk_workflow.catalog import load_catalog, load_organisation
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.errors import TskError
    from tsk_workflow.store.models import Municipality

    if settings(ctx).org:
        one = engine(ctx, clock)
        return {one.org.municipality: one}
    store = open_store(ctx)
    with store.reading() as session:
        sources = list(session.execute(select(Municipality.key, Municipality.source)))
    if not sources:
        raise TskError("no organisation is loaded: run 'tsk --org NAME init' first")
    catalog = load_catalog()
    return {
        key: Engine(store, catalog, load_organisation(source, catalog), clock)
        for key, source in sources
    }


def actor(ctx: click.Context) -> str | None:
    return settings(ctx).actor
