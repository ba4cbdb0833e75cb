"""Building the engine a command needs from the global options."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from tsk_workflow.cli.context import settings

if TYPE_CHECKING:
    from tsk_workflow.catalog import Catalog
    from tsk_workflow.engine.service import Clock, Engine
    from tsk_workflow.engine.setup import OrganisationFile, StoredVersion
    from tsk_workflow.organisation.model import Organisation
    from tsk_workflow.store.database import Store


def open_store(ctx: click.Context) -> Store:
    from tsk_workflow.store.database import Store, database_url

    return Store(database_url(settings(ctx).db))


def engine(ctx: click.Context, clock: Clock | None = None) -> Engine:
    """The engine of the organisation in force that ``--org`` names (or the only one loaded)."""
    from tsk_workflow.catalog import load_catalog

    store = open_store(ctx)
    catalog = load_catalog()
    org = organisation_in_force(store, catalog, settings(ctx).org)
    return _engine(store, catalog, org, clock)


def organisation_in_force(store: Store, catalog: Catalog, name: str | None) -> Organisation:
    """The organisation stored in the database that ``--org`` names, as it was loaded.

    ``--org`` names a municipality loaded into the database (``herrljunga``), or a file, which
    must be, byte for byte, the version in force: any other file is refused with one line
    naming both digests (``tsk org load`` is how a new version comes in). Without ``--org``,
    the only municipality in the database."""
    from tsk_workflow.engine import setup
    from tsk_workflow.errors import TskError

    versions = setup.in_force(store)
    if not versions:
        hint = f"--org {name}" if name else "--org NAME|FILE"
        raise TskError(f"no organisation is loaded into this database: run 'tsk {hint} init' first")
    if not name:
        if len(versions) > 1:
            raise TskError(
                f"this database holds {', '.join(sorted(versions))}: say which with --org NAME"
            )
        return _parsed(next(iter(versions.values())), catalog)
    if _names_a_municipality(name) and name in versions:
        return _parsed(versions[name], catalog)
    file = read_organisation_file(name)
    match = next((v for v in versions.values() if v.digest == file.digest), None)
    if match is not None:
        return _parsed(match, catalog)
    from tsk_workflow.catalog import organisation_from_text

    org = organisation_from_text(file.text, file.name, catalog)
    if org.municipality in versions:
        from tsk_workflow.errors import Refused

        current = versions[org.municipality]
        raise Refused(setup.not_in_force_message(org.name, file, current))
    raise TskError(
        f"{org.name} is not loaded into this database: run 'tsk --org {name} init' first"
    )


def read_organisation_file(name: str) -> OrganisationFile:
    """The file ``--org`` names (a path, or a shipped municipality), as read."""
    from tsk_workflow.catalog import resolve_organisation_path
    from tsk_workflow.engine.setup import OrganisationFile
    from tsk_workflow.errors import TskError

    path = resolve_organisation_path(name)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TskError(f"{path}: cannot read file: {exc.strerror}") from None
    return OrganisationFile.of(raw, path.name if _names_a_municipality(name) else str(path))


def _names_a_municipality(name: str) -> bool:
    """Whether ``--org`` is a name (``herrljunga``) rather than a file, as
    ``catalog.resolve_organisation_path`` tells them apart."""
    from pathlib import Path

    return not (Path(name).suffix in {".yaml", ".yml"} or Path(name).exists())


_PARSED: dict[str, Organisation] = {}
"""Organisations read from the database, by digest: the text of a digest never changes."""


def _parsed(version: StoredVersion, catalog: Catalog) -> Organisation:
    from tsk_workflow.catalog import organisation_from_text

    org = _PARSED.get(version.digest)
    if org is None:
        name = f"{version.source} (version {version.version} in the database)"
        org = _PARSED[version.digest] = organisation_from_text(version.content, name, catalog)
    return org


def fixed_clock(store: Store) -> Clock | None:
    """``TSK_NOW`` (ISO 8601, Stockholm time when no offset): act as if it were then. Only a
    database made for virtual time takes it (``tsk init --virtual-time``: the demo, the tests,
    the docs); any other refuses it, so that nobody back-dates an act."""
    import datetime as dt

    text = os.environ.get("TSK_NOW")
    if not text:
        return None
    require_virtual_time(store, "TSK_NOW")
    # Only now: the calendar imports dateutil and isodate, 15-20 ms of `task list` without TSK_NOW.
    from tsk_workflow.calendar import STOCKHOLM
    from tsk_workflow.errors import TskError

    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise TskError(f"TSK_NOW={text!r} is not an ISO 8601 time") from None
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=STOCKHOLM)).astimezone(dt.UTC)
    return lambda: moment


def require_virtual_time(store: Store, what: str) -> None:
    """Refuse ``what`` (``TSK_NOW``, ``--now``) unless the database runs on virtual time."""
    from tsk_workflow.errors import Refused
    from tsk_workflow.store.installation import virtual_time

    if not virtual_time(store):
        raise Refused(
            f"{what} is refused: this database runs on the server's clock (only a database made"
            " with 'tsk init --virtual-time', for the demo and tests, takes another time)"
        )


def _engine(store: Store, catalog: Catalog, org: Organisation, clock: Clock | None) -> Engine:
    from tsk_workflow.engine.service import Engine, system_clock

    return Engine(store, catalog, org, clock or fixed_clock(store) or system_clock)


def engines(ctx: click.Context, clock: Clock) -> dict[str, Engine]:
    """The engine of --org, or of every municipality loaded into the database, each with the
    organisation in force."""
    from tsk_workflow.catalog import load_catalog
    from tsk_workflow.engine import setup
    from tsk_workflow.errors import TskError

    if settings(ctx).org:
        one = engine(ctx, clock)
        return {one.org.municipality: one}
    store = open_store(ctx)
    versions = setup.in_force(store)
    if not versions:
        raise TskError("no organisation is loaded: run 'tsk --org NAME init' first")
    catalog = load_catalog()
    return {
        key: _engine(store, catalog, _parsed(version, catalog), clock)
        for key, version in sorted(versions.items())
    }


def loaded_municipality(ctx: click.Context) -> tuple[Store, str] | None:
    """The store and the municipality key of ``--org``, without reading any organisation as
    YAML nor checking it again: when ``--org`` names a municipality loaded into this database, or
    a file that is, byte for byte, the version in force of one. None otherwise (another file, a
    changed one, no such database...): then the command builds its engine as usual, with the
    same errors as always. For read-only commands that need only the key, this keeps the YAML
    reader, the process definitions and pydantic out of their start-up."""
    import hashlib
    from pathlib import Path

    from sqlalchemy.exc import SQLAlchemyError

    from tsk_workflow.errors import TskError
    from tsk_workflow.resources import municipalities_dir
    from tsk_workflow.store.queries import municipality_digests

    name = settings(ctx).org
    if not name:
        return None
    store = open_store(ctx)
    try:
        digests = municipality_digests(store)
    except (TskError, SQLAlchemyError):
        store.dispose()
        return None
    if _names_a_municipality(name):
        if name in digests:
            return store, name
        path = municipalities_dir() / f"{name}.yaml"
    else:
        path = Path(name)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        store.dispose()
        return None
    keys = [key for key, stored in digests.items() if stored == digest]
    if len(keys) != 1:
        store.dispose()
        return None
    return store, keys[0]


def actor(ctx: click.Context) -> str | None:
    return settings(ctx).actor
