"""Building the engine a command needs from the global options."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import click

from tsk_workflow.cli.context import settings
from tsk_workflow.i18n import N_, _
from tsk_workflow.now import clock, parse_time, require_virtual_time, server_now

__all__ = ["clock", "parse_time", "require_virtual_time", "server_now"]

if TYPE_CHECKING:
    from tsk_workflow.catalog import Catalog
    from tsk_workflow.engine.service import Clock, Engine
    from tsk_workflow.engine.setup import OrganisationFile, StoredVersion
    from tsk_workflow.organisation.model import Organisation
    from tsk_workflow.store.database import Store


def open_store(ctx: click.Context, *, create: bool = False) -> Store:
    """The database of ``--db``. A SQLite file that is not there is refused, naming it, and
    nothing is created, unless ``create`` (``tsk init``). When the people's commands go
    through a service (``TSK_URL``, ``cli/client.py``) a database must be given."""
    from tsk_workflow.errors import TskError
    from tsk_workflow.store.database import Store, database_url, sqlite_file

    given = settings(ctx)
    if given.url and not given.db:
        raise TskError(
            _(
                "'{command}' is not done through the service ({url}): it works on a database;"
                " give one with --db (TSK_DATABASE_URL)"
            ).format(command=" ".join(["tsk", *ctx.command_path.split()[1:]]), url=given.url)
        )
    url = database_url(given.db)
    if not create:
        path = sqlite_file(url)
        if path is not None and not path.exists():
            raise TskError(
                _(
                    "there is no database {path}: create it with 'tsk init', or give --db"
                    " (TSK_DATABASE_URL)"
                ).format(path=path)
            )
    store = Store(url)
    # Its connections are closed when the command ends: a process that runs many commands
    # (a test's, a worker's) would otherwise keep a pool of them per command until collected.
    ctx.call_on_close(store.dispose)
    return store


def engine(ctx: click.Context, now: dt.datetime | None = None) -> Engine:
    """The engine of the organisation in force that ``--org`` names (or the only one loaded),
    on the command's clock (:func:`clock`: ``now`` is the command's ``--now``)."""
    return _engine_on(ctx, lambda store: clock(store, now))


def _engine_on(ctx: click.Context, make_clock: Callable[[Store], Clock]) -> Engine:
    from tsk_workflow.catalog import load_catalog

    store = open_store(ctx)
    catalog = load_catalog()
    org = organisation_in_force(store, catalog, settings(ctx).org)
    return _engine(store, catalog, org, make_clock(store))


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
        raise TskError(
            _("no organisation is loaded into this database: run 'tsk {hint} init' first").format(
                hint=hint
            )
        )
    if not name:
        if len(versions) > 1:
            raise TskError(
                _("this database holds {names}: say which with --org NAME").format(
                    names=", ".join(sorted(versions))
                )
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
        _(
            "{organisation} is not loaded into this database: run 'tsk --org {name} init' first"
        ).format(organisation=org.name, name=name)
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
        raise TskError(
            _("{path}: cannot read file: {error}").format(path=path, error=exc.strerror)
        ) from None
    return OrganisationFile.of(raw, path.name if _names_a_municipality(name) else str(path))


def _names_a_municipality(name: str) -> bool:
    """Whether ``--org`` is a name (``herrljunga``) rather than a file."""
    from tsk_workflow.resources import names_a_file

    return not names_a_file(name)


def _parsed(version: StoredVersion, catalog: Catalog) -> Organisation:
    from tsk_workflow.features import organisation_of

    return organisation_of(version, catalog)


def _now_value(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> dt.datetime | None:
    if value is None:
        return None
    from tsk_workflow.calendar import OutsideYears

    try:
        return parse_time(value)
    except OutsideYears as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None
    except ValueError:
        raise click.BadParameter(
            _("{value} is not an ISO 8601 time (2027-03-14T08:00+01:00)").format(value=repr(value)),
            param_hint="--now",
        ) from None


now_option = click.option(
    "--now",
    metavar="ISO",
    callback=_now_value,
    help=N_("Act as if it were this time, ISO 8601 (default: TSK_NOW, else now)"),
)
"""``--now`` as an aware time (or None), for :func:`clock`; a bad one is a usage error."""


def engine_for(store: Store, catalog: Catalog, org: Organisation, clock: Clock) -> Engine:
    """An engine of ``org`` (one not yet, or no longer, in force: ``org load``)."""
    return _engine(store, catalog, org, clock)


def _engine(store: Store, catalog: Catalog, org: Organisation, clock: Clock) -> Engine:
    from tsk_workflow.features import build_engine

    return build_engine(store, catalog, org, clock)


def engines(ctx: click.Context, now: dt.datetime | None = None) -> dict[str, Engine]:
    """The engine of --org, or of every municipality loaded into the database, each with the
    organisation in force, on the command's clock (:func:`clock`)."""
    return _engines(ctx, lambda store: clock(store, now))


def engines_at(
    ctx: click.Context, now: dt.datetime | None = None
) -> tuple[dt.datetime, dict[str, Engine]]:
    """:func:`engines` for a command that acts at one instant (a scheduler pass, sending the
    outbox, making the digests): the command's time read once, and engines whose clock stays
    at it."""
    moments: list[dt.datetime] = []

    def stopped(store: Store) -> Clock:
        moments.append(clock(store, now)())
        return lambda: moments[0]

    found = _engines(ctx, stopped)
    return moments[0], found


def _engines(ctx: click.Context, make_clock: Callable[[Store], Clock]) -> dict[str, Engine]:
    from tsk_workflow.features import loaded_engines

    if settings(ctx).org:
        one = _engine_on(ctx, make_clock)
        return {one.org.municipality: one}
    store = open_store(ctx)
    return loaded_engines(store, make_clock(store))


def loaded_municipality(ctx: click.Context) -> tuple[Store, str] | None:
    """The store and the municipality key of ``--org``, without reading any organisation as
    YAML nor checking it again: when ``--org`` names a municipality loaded into this database, or
    a file that is, byte for byte, the version in force of one. None otherwise (another file, a
    changed one, no such database...): then the command builds its engine as usual, with the
    same errors as always. For read-only commands that need only the key, this keeps the YAML
    reader, the process definitions and pydantic out of their start-up."""
    import hashlib
    from pathlib import Path

    from tsk_workflow.errors import TskError
    from tsk_workflow.resources import municipalities_dir
    from tsk_workflow.store.database import StoreError
    from tsk_workflow.store.queries import municipality_digests

    name = settings(ctx).org
    if not name:
        return None
    store = open_store(ctx)
    try:
        digests = municipality_digests(store)
    except (TskError, StoreError):
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


def actor(ctx: click.Context, engine: Engine) -> str | None:
    """The person acting in ``engine``'s organisation.

    On a database on virtual time (the demo, the tests, the docs' examples) ``--as`` names
    anyone, as it always did. On any other, the person is the OS login running the command,
    mapped by ``login:`` in the organisation; ``--as`` names another person only for someone
    granted ``act_for``, and the record then keeps both (``via``, the login)
    (``engine.access.acting_person``)."""
    from tsk_workflow.engine.setup import os_user
    from tsk_workflow.store.installation import virtual_time

    claimed = settings(ctx).actor
    if virtual_time(engine.store):
        return claimed
    return engine.acting_person(os_user(), claimed)


def mail_environment(store: Store) -> Mapping[str, str]:
    """The environment a delivery of the outbox reads its SMTP settings from: the process's,
    in the service's own process (``TSK_SERVICE_USER``) or on a database on virtual time;
    otherwise the same, refused if it names a mail server (``TSK_SMTP_HOST`` and the rest but
    the password and the time-out), for the server is the service's to choose
    (``engine.access.may_choose_mail_server``)."""
    import os

    from tsk_workflow.engine import setup
    from tsk_workflow.engine.access import may_choose_mail_server
    from tsk_workflow.errors import TskError
    from tsk_workflow.mail.smtp import SERVER_VARS
    from tsk_workflow.store.installation import virtual_time

    environ = os.environ
    if virtual_time(store):
        return environ
    if may_choose_mail_server(setup.os_user(), environ.get("TSK_SERVICE_USER")):
        return environ
    named = [name for name in SERVER_VARS if environ.get(name)]
    if named:
        raise TskError(
            _(
                "{variables} set, but the mail server is the service's to choose: send as the"
                " service's OS user (TSK_SERVICE_USER), or unset them to send with the"
                " organisation file's mail settings"
            ).format(variables=", ".join(named))
        )
    return environ


def require_service_act(ctx: click.Context, store: Store, act: str) -> None:
    """Refuse ``act`` (the scheduler pass, sending mail, a backup, the service) unless the OS
    login is the service's user (``TSK_SERVICE_USER``) or an admin's login in every
    organisation loaded into the database (``--org``: in that one). A database on virtual time
    lets anyone (the demo, the tests), and so does one with no organisation loaded yet (there
    is no admin to name, and no record to keep)."""
    import os

    from tsk_workflow.catalog import load_catalog
    from tsk_workflow.engine import setup
    from tsk_workflow.engine.access import may_run_service
    from tsk_workflow.engine.directory import PermissionDenied
    from tsk_workflow.features import build_engine
    from tsk_workflow.store.installation import virtual_time

    if virtual_time(store):
        return
    versions = setup.in_force(store)
    if not versions:
        return
    catalog = load_catalog()
    orgs = [_parsed(version, catalog) for version in versions.values()]
    named = settings(ctx).org
    if named:
        orgs = [org for org in orgs if org.municipality == named] or orgs
    login = setup.os_user()
    service_user = os.environ.get("TSK_SERVICE_USER")
    if may_run_service(orgs, login, service_user):
        return
    refusal = PermissionDenied(
        login,
        act,
        "service",
        _(
            "'{act}' is the service's: run it as the service's OS user (TSK_SERVICE_USER, {user})"
            " or as an admin whose login the organisation names, not as '{login}'"
        ).format(act=act, user=service_user or _("not set"), login=login),
    )
    for org in orgs:
        build_engine(store, catalog, org).record_refusal(refusal)
    raise refusal
