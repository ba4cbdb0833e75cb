"""Building the engine a command needs from the global options."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from tsk_workflow.cli.context import settings

if TYPE_CHECKING:
    from tsk_workflow.catalog import Catalog
    from tsk_workflow.engine.service import Clock, Engine
    from tsk_workflow.organisation.model import Organisation
    from tsk_workflow.store.database import Store


def open_store(ctx: click.Context) -> Store:
    from tsk_workflow.store.database import Store, database_url

    return Store(database_url(settings(ctx).db))


def engine(ctx: click.Context, clock: Clock | None = None) -> Engine:
    from tsk_workflow.catalog import load_catalog, load_organisation

    catalog = load_catalog()
    org = load_organisation(settings(ctx).require_org(), catalog)
    return _engine(open_store(ctx), catalog, org, clock)


def fixed_clock() -> Clock | None:
    """``TSK_NOW`` (ISO 8601, Stockholm time when no offset): act as if it were then. For trying
    things on a demo year and for the docs; the scheduler has ``tick --now`` for the same."""
    import datetime as dt

    text = os.environ.get("TSK_NOW")
    if not text:
        return None
    # Only now: the calendar imports dateutil and isodate, 15-20 ms of `task list` without TSK_NOW.
    from tsk_workflow.calendar import STOCKHOLM
    from tsk_workflow.errors import TskError

    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise TskError(f"TSK_NOW={text!r} is not an ISO 8601 time") from None
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=STOCKHOLM)).astimezone(dt.UTC)
    return lambda: moment


def _engine(store: Store, catalog: Catalog, org: Organisation, clock: Clock | None) -> Engine:
    from tsk_workflow.engine.service import Engine, system_clock

    return Engine(store, catalog, org, clock or fixed_clock() or system_clock)


def engines(ctx: click.Context, clock: Clock) -> dict[str, Engine]:
    """The engine of --org, or of every municipality loaded into the database."""
    from sqlalchemy import select

    from tsk_workflow.catalog import load_catalog, load_organisation
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
        key: _engine(store, catalog, load_organisation(source, catalog), clock)
        for key, source in sources
    }


def loaded_municipality(ctx: click.Context) -> tuple[Store, str] | None:
    """The store and the municipality key of ``--org``, without reading the organisation file
    as YAML nor checking it again: when the file is, byte for byte, the one ``tsk init`` loaded
    (and checked) into this database, its row there says the key. None otherwise (another file,
    a changed one, no such database...): then the command builds its engine as usual, with the
    same errors as always. For read-only commands that need only the key, this keeps the YAML
    reader, the process definitions and pydantic out of their start-up."""
    import hashlib
    from pathlib import Path

    from sqlalchemy.exc import SQLAlchemyError

    from tsk_workflow.errors import TskError
    from tsk_workflow.resources import municipalities_dir
    from tsk_workflow.store.queries import municipality_keys

    name = settings(ctx).org
    if not name:
        return None
    path = Path(name)  # as catalog.resolve_organisation_path finds it
    if not (path.suffix in {".yaml", ".yml"} or path.exists()):
        path = municipalities_dir() / f"{name}.yaml"
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
    store = open_store(ctx)
    try:
        keys = municipality_keys(store, digest)
    except (TskError, SQLAlchemyError):
        store.dispose()
        return None
    if len(keys) != 1:
        store.dispose()
        return None
    return store, keys[0]


def actor(ctx: click.Context) -> str | None:
    return settings(ctx).actor
