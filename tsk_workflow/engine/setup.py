"""The organisation in force: stored in the database by version, loaded by its admins.

Every version of an organisation file loaded into the database is kept whole (its text and the
SHA-256 of the file), with who loaded it, as which OS user, and when; the newest is the one in
force. Acts, ``tick`` and ``run`` build their engine from it, never from a file a path in the
database points at: whoever can write a file, or run ``tsk`` with one of their own, cannot change
who holds a role, where the mail goes or how decisions are routed.

The first ``tsk --org FILE init`` of a municipality bootstraps version 1. After that only a
person listed under ``admins:`` in the version in force may load a new one (``tsk org load``),
and the audit event of the load says what changed, in words (``organisation/diff.py``).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tsk_workflow import audit
from tsk_workflow.catalog import Catalog
from tsk_workflow.engine.directory import SYSTEM, Directory, PermissionDenied
from tsk_workflow.engine.service import Clock, Engine
from tsk_workflow.errors import Refused, TskError
from tsk_workflow.i18n import _
from tsk_workflow.organisation.diff import changes
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store import organisations as stored
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import OrganisationVersion

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session

ACTION = "organisation.loaded"


@dataclass(frozen=True)
class OrganisationFile:
    """An organisation file as read: its text, the SHA-256 of its bytes, the name it was given."""

    text: str
    digest: str
    name: str

    @classmethod
    def of(cls, raw: bytes, name: str) -> OrganisationFile:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise TskError(
                _("{file}: file is not valid UTF-8 text: save it as UTF-8").format(file=name)
            ) from None
        return cls(text, hashlib.sha256(raw).hexdigest(), name)


@dataclass(frozen=True)
class StoredVersion:
    """One loaded version of a municipality's organisation."""

    municipality: str
    version: int
    digest: str
    content: str
    source: str
    loaded_by: str
    os_user: str
    loaded_at: dt.datetime
    audit_seq: int | None


@dataclass(frozen=True)
class Loaded:
    """What loading a file did: the version in force afterwards, and whether it is new."""

    municipality: str
    name: str
    version: int
    digest: str
    changed: bool
    changes: tuple[dict[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "municipality": self.municipality,
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "changed": self.changed,
            "changes": list(self.changes),
        }


def os_user() -> str:
    """The OS login running the command: the name of its effective user id, not the
    environment's ``USER`` or ``LOGNAME`` (anyone can set those), as the record of a load
    keeps it and as the CLI maps it to a person (``login:``)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name[:64]
    except (ImportError, KeyError, OSError):  # no pwd (Windows), no name for the uid
        try:
            return getpass.getuser()[:64]
        except (KeyError, OSError):
            return "?"


# ---------------------------------------------------------------- reading


def _version(row: OrganisationVersion) -> StoredVersion:
    return StoredVersion(
        row.municipality,
        row.version,
        row.digest,
        row.content,
        row.source,
        row.loaded_by,
        row.os_user,
        row.loaded_at,
        row.audit_seq,
    )


def in_force(store: Store) -> dict[str, StoredVersion]:
    """The version in force of every municipality in the database, by key."""
    with store.reading() as session:
        return {row.municipality: _version(row) for row in stored.in_force(session)}


def history(store: Store, municipality: str | None = None) -> list[tuple[StoredVersion, Any]]:
    """Every version loaded, oldest first, each with the payload of its audit event."""
    with store.reading() as session:
        return [(_version(row), payload) for row, payload in stored.history(session, municipality)]


# ---------------------------------------------------------------- loading


def bootstrap(
    store: Store,
    catalog: Catalog,
    file: OrganisationFile,
    org: Organisation,
    actor: str | None,
    clock: Clock,
) -> Loaded:
    """``tsk --org FILE init``: store the first version of a municipality's organisation.

    The same file again changes nothing. Another file for a municipality already loaded is
    refused: that is ``tsk org load``, an admin's act. A database made before versions were kept
    (its municipality row has the file's digest, but no version) gets this file as version 1.
    """
    engine = Engine(store, catalog, org, clock)
    who = SYSTEM if actor is None else Directory(org).person(actor).id
    with engine.act() as act:
        session, now = act.session, act.now
        current = stored.newest(session, org.municipality)
        if current is not None:
            if current.digest == file.digest:
                from tsk_workflow.engine.ticker import replan

                replan(engine, session, now)  # as every init does: the year ahead planned
                return _unchanged(org, current)
            raise _not_in_force(org, file, _version(current))
        digest = stored.municipality_digest(session, org.municipality)
        if digest is not None and digest != file.digest:
            raise Refused(
                _(
                    "{organisation} was loaded from another file (sha256 {stored}) before"
                    " versions were kept, and {file} has sha256 {digest}: run 'tsk init' with"
                    " that file first, then an admin loads this one with"
                    " 'tsk --as PERSON org load {file}'"
                ).format(
                    organisation=org.name,
                    stored=digest[:16],
                    file=file.name,
                    digest=file.digest[:16],
                )
            )
        return _store_version(engine, session, now, file, None, who, "system")


def load_organisation(engine: Engine, source: Path, actor: str | None = None) -> Loaded:
    """``bootstrap`` with the file at ``source`` and the engine's store, catalog, organisation
    (which must be the file's) and clock: what the demo and the tests call."""
    file = OrganisationFile.of(source.read_bytes(), source.name)
    return bootstrap(engine.store, engine.catalog, file, engine.org, actor, engine.clock)


def load(
    store: Store,
    catalog: Catalog,
    current: Organisation,
    file: OrganisationFile,
    new: Organisation,
    actor: str | None,
    clock: Clock,
    via: str | None = None,
) -> Loaded:
    """``tsk org load FILE``: make ``new`` the organisation in force, as an act of one of the
    admins of ``current`` (a refusal is recorded); ``via`` as for ``Engine.via``."""
    engine = Engine(store, catalog, current, clock)
    engine.via = via
    who = engine.actor(actor, "organisation.load", f"municipality:{current.municipality}")
    if new.municipality != current.municipality:
        raise Refused(
            _(
                "{file} is the organisation of '{new}', not of '{current}': load it into its own"
                " database with 'tsk init'"
            ).format(file=file.name, new=new.municipality, current=current.municipality)
        )
    if not new.admins:
        raise Refused(
            _(
                "{file} lists no admins: nobody could load the next version; name at least"
                " one person under 'admins:'"
            ).format(file=file.name)
        )
    with engine.act() as act:
        session, now = act.session, act.now
        _require_admin(current, who)
        newest = stored.newest(session, current.municipality)
        if newest is None:
            raise TskError(
                _("{organisation} is not loaded: run 'tsk --org FILE init' first").format(
                    organisation=current.name
                )
            )
        if newest.digest == file.digest:
            return _unchanged(new, newest)
        after = Engine(store, catalog, new, clock)
        return _store_version(after, session, now, file, (current, newest), who, "admin")


def _require_admin(org: Organisation, who: str) -> None:
    if who in org.admins:
        return
    raise PermissionDenied(
        who,
        "organisation.load",
        f"municipality:{org.municipality}",
        _(
            "only the admins of {organisation} ({admins}) may load a new version of its"
            " organisation"
        ).format(organisation=org.name, admins=", ".join(org.admins) or _("none listed")),
    )


def _unchanged(org: Organisation, row: OrganisationVersion) -> Loaded:
    return Loaded(org.municipality, org.name, row.version, row.digest, changed=False)


def _not_in_force(org: Organisation, file: OrganisationFile, current: StoredVersion) -> Refused:
    return Refused(not_in_force_message(org.name, file, current))


def not_in_force_message(name: str, file: OrganisationFile, current: StoredVersion) -> str:
    """The one line that refuses a file which is not the version in force, naming both digests
    and what to do."""
    return _(
        "{file} (sha256 {digest}) is not the organisation in force for {organisation} (version"
        " {version}, sha256 {current}, loaded by {person}): leave out --org, or give --org"
        " {municipality}, to act with it; an admin loads the file with"
        " 'tsk --as PERSON org load {file}'"
    ).format(
        file=file.name,
        digest=file.digest[:16],
        organisation=name,
        version=current.version,
        current=current.digest[:16],
        person=current.loaded_by,
        municipality=current.municipality,
    )


def _store_version(
    engine: Engine,
    session: Session,
    now: dt.datetime,
    file: OrganisationFile,
    previous: tuple[Organisation, OrganisationVersion] | None,
    who: str,
    role: str,
) -> Loaded:
    """Write the version, make it the one in force, plan its timers again and record the act."""
    from tsk_workflow.engine.ticker import replan

    org = engine.org
    version = 1 if previous is None else previous[1].version + 1
    said = changes(None if previous is None else previous[0], org)
    user = os_user()
    payload = {
        "name": org.name,
        "version": version,
        "source": file.name,
        "digest": file.digest,
        "previous_digest": None if previous is None else previous[1].digest,
        "people": len(org.people),
        "os_user": user,
        "changes": said,
    }
    act = audit.Act(
        org.municipality, who, role, ACTION, f"municipality:{org.municipality}", payload
    )
    event = audit.append(session, act, now)
    stored.add_version(
        session,
        municipality=org.municipality,
        name=org.name,
        version=version,
        digest=file.digest,
        content=file.text,
        source=file.name,
        loaded_by=who,
        os_user=user,
        loaded_at=now,
        audit_seq=event.seq,
    )
    replan(engine, session, now)
    return Loaded(org.municipality, org.name, version, file.digest, True, tuple(said))
