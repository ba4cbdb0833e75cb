"""Process definitions kept by version: a cycle follows the version it was opened with.

A definition's text is stored in ``process_definitions`` (by its SHA-256, with its process key
and ``version``) when a cycle is first opened with it, and by ``tsk init`` for every definition
of the process folder; the cycle names it (``cycles.process_digest``). Every act on a cycle
then uses that version (``Engine.compiled_for``): the current definition, read from the
process folder, when the digest is its, else the stored text, read and checked again.

- **One text per version.** A definition whose text changed must carry a new ``version``:
  opening a cycle with a text whose process and version the database holds with another text
  is refused (``DefinitionError`` located at the file's ``version``), and so is ``tsk init``,
  which checks every definition of the folder at once. Nothing is stored or opened then.
- **Moving cycles on** (``tsk process upgrade-cycles KEY``, :func:`upgrade_cycles`): an act of
  the chair of the process's group (or the deputy) or of an admin of the organisation. Each
  open cycle of an older version moves to the current one, with a ``cycle.upgraded`` event,
  unless the current version lacks its step (or makes it final), or lacks an open task's key
  in that step: such a cycle is refused, with the reason, and stays on its version (it can be
  finished, or closed, as it is). The move changes no step, task or timer: tasks and timers
  made when the cycle entered its step stay as they are; the new version's transitions,
  conditions and forms apply from the move on, and its tasks from the next step entered.
- A cycle with no digest (opened before versions were kept, on a version whose text was no
  longer shipped) follows the current definition; moving it records its version.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tsk_workflow import audit
from tsk_workflow.catalog import Catalog, Source
from tsk_workflow.definitions.model import ProcessDefinition
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.errors import DefinitionError, NotFound, Refused
from tsk_workflow.i18n import _
from tsk_workflow.store import definitions as stored
from tsk_workflow.store import writes
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Cycle

if TYPE_CHECKING:
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.store.database import Connection, Session

UPGRADED = "cycle.upgraded"
UPGRADE_ACTION = "process.upgrade_cycles"


# ---------------------------------------------------------------- storing and reading


def stored_text(session: Session | Connection, digest: str) -> str | None:
    """The text of the stored definition with ``digest``, or None."""
    return stored.text_of(session, digest)


def store(session: Session, source: Source, now: dt.datetime) -> bool:
    """Store ``source`` unless the database holds it; True when it was stored now.

    A text of the same process and version other than the one stored is refused
    (``DefinitionError``, located at the file's ``version``): a changed definition needs a new
    version number. The caller holds the audit chain's lock (every act does), so two writers
    do not store the same text at once."""
    found = stored.of_version(session, source.key, source.version)
    if found is None:
        values = {
            "digest": source.digest,
            "process": source.key,
            "version": source.version,
            "content": source.text,
            "source": source.file[-255:],
            "stored_at": now,
        }
        stored.insert_text(session, values)
        return True
    digest, stored_at = found
    if digest != source.digest:
        newest = stored.newest_version(session, source.key) or source.version
        raise DefinitionError([_conflict(source, digest, stored_at, newest)])
    return False


def _conflict(source: Source, digest: str, stored_at: dt.datetime, newest: int) -> str:
    return source.problem(
        _(
            "'{key}' version {version} is stored in this database with another text (sha256"
            " {stored}, stored {date}), and this file has sha256 {digest}: a changed definition"
            " needs a new version number (version: {next}); open cycles keep following the"
            " version they were opened with"
        ).format(
            key=source.key,
            version=source.version,
            stored=digest[:16],
            date=f"{stored_at:%Y-%m-%d}",
            digest=source.digest[:16],
            next=newest + 1,
        )
    )


def store_catalog(store_: Store, catalog: Catalog, now: dt.datetime) -> list[str]:
    """``tsk init``: store every definition of ``catalog`` the database does not hold, in one
    transaction; every text that conflicts with a stored one is reported at once and nothing
    is stored then. Returns the keys of the definitions stored now."""
    added: list[str] = []
    problems: list[str] = []
    with store_.transaction() as session:
        audit.lock_chain(session)
        for key in sorted(catalog.sources):
            try:
                if store(session, catalog.sources[key], now):
                    added.append(key)
            except DefinitionError as exc:
                problems += exc.problems
        if problems:
            raise DefinitionError(problems)
    return added


# ---------------------------------------------------------------- moving cycles on


@dataclass(frozen=True)
class CycleMove:
    """One open cycle of an older version: moved (``reason`` None) or refused, and why."""

    id: int
    ref: str
    step: str
    from_version: int
    from_digest: str | None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ref": self.ref,
            "step": self.step,
            "from_version": self.from_version,
            "from_digest": self.from_digest,
            **({"reason": self.reason} if self.reason is not None else {}),
        }


@dataclass(frozen=True)
class Upgrade:
    """What ``upgrade-cycles`` did (or, with ``dry_run``, would do)."""

    process: str
    version: int
    digest: str
    dry_run: bool
    moved: tuple[CycleMove, ...]
    refused: tuple[CycleMove, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "version": self.version,
            "digest": self.digest,
            "dry_run": self.dry_run,
            "moved": [move.to_dict() for move in self.moved],
            "refused": [move.to_dict() for move in self.refused],
        }


def upgrade_cycles(
    engine: Engine, actor: str | None, process: str, *, dry_run: bool = False
) -> Upgrade:
    """Move the open cycles of ``process`` that follow an older version to the current one
    (see the module's docstring); with ``dry_run``, say what would happen and change nothing.

    Only the chair of the process's group (or the deputy) or an admin of the organisation may;
    anyone else is refused, and the refusal is recorded."""
    subject = f"process:{process}"
    who = engine.actor(actor, UPGRADE_ACTION, subject)
    target = engine.catalog.definition(process)  # an unknown process is NotFound first
    source = engine.catalog.sources.get(process)
    if source is None:
        raise Refused(
            _("the definition of '{process}' was not read from a file: it has no version").format(
                process=process
            )
        )
    with engine.act() as (session, now):
        role = _require_upgrader(engine, who, process)
        moved: list[tuple[Cycle, CycleMove]] = []
        refused: list[CycleMove] = []
        for cycle in _older(session, engine, source):
            move = CycleMove(
                cycle.id, cycle.ref, cycle.state, cycle.process_version, cycle.process_digest
            )
            reason = _why_not(session, cycle, target, source)
            if reason is None:
                moved.append((cycle, move))
            else:
                refused.append(replace(move, reason=reason))
        if moved and not dry_run:
            store(session, source, now)
            for cycle, move in moved:
                _move(session, engine, cycle, move, source, who, role, now)
        return Upgrade(
            process,
            source.version,
            source.digest,
            dry_run,
            tuple(move for _cycle, move in moved),
            tuple(refused),
        )


def _require_upgrader(engine: Engine, who: str, process: str) -> str:
    """The role ``who`` moves cycles in: chair (or deputy chair) of the process's group, or
    admin of the organisation; else ``PermissionDenied``."""
    try:
        group = engine.directory.group_of(process)
    except NotFound:  # the organisation no longer runs the process: its admins may still
        group = None
    if group is not None and engine.directory.is_chair(who, group):
        return engine.directory.describe_role(who, group)
    if who in engine.org.admins:
        return "admin"
    chairs = _(" or ").join(engine.directory.chairs(group)) if group is not None else _("none")
    admins = ", ".join(engine.org.admins) or _("none listed")
    raise PermissionDenied(
        who,
        UPGRADE_ACTION,
        f"process:{process}",
        _(
            "only the chair of the group running '{process}' ({chairs}) or an admin of"
            " {organisation} ({admins}) may move its cycles to another version"
        ).format(process=process, chairs=chairs, organisation=engine.org.name, admins=admins),
    )


def _older(session: Session, engine: Engine, source: Source) -> list[Cycle]:
    """The open cycles of the process that do not follow ``source``, oldest first."""
    return [
        cycle
        for cycle in stored.open_cycles(session, engine.org.municipality, source.key)
        if cycle.process_digest != source.digest
        and not (cycle.process_digest is None and cycle.process_version == source.version)
    ]


def _why_not(
    session: Session, cycle: Cycle, target: ProcessDefinition, source: Source
) -> str | None:
    """Why ``cycle`` cannot follow ``target`` (the definition of ``source``), or None."""
    version = source.version
    if cycle.process_version > version:
        return _("it follows version {found}, newer than version {version}").format(
            found=cycle.process_version, version=version
        )
    if cycle.process_version == version:
        return _(
            "it follows another text of version {version} (sha256 {digest}): the current"
            " definition needs a new version"
        ).format(version=version, digest=(cycle.process_digest or "")[:16])
    if cycle.state not in target.step_keys:
        steps = ", ".join(target.step_keys)
        return _("its step '{step}' does not exist in version {version} (steps: {steps})").format(
            step=cycle.state, version=version, steps=steps
        )
    if cycle.state in target.final:
        return _("its step '{step}' is final in version {version}").format(
            step=cycle.state, version=version
        )
    for task_id, step, key in stored.open_tasks(session, cycle.id):
        if step not in target.step_keys or key not in {t.key for t in target.step(step).tasks}:
            return _(
                "its open task {id} '{key}' does not exist in step '{step}' of version {version}"
            ).format(id=task_id, key=key, step=step, version=version)
    return None


def _move(
    session: Session,
    engine: Engine,
    cycle: Cycle,
    move: CycleMove,
    source: Source,
    who: str,
    role: str,
    now: dt.datetime,
) -> None:
    writes.set_cycle(session, cycle, process_version=source.version, process_digest=source.digest)
    payload = {
        "process": source.key,
        "step": cycle.state,
        "from_version": move.from_version,
        "from_digest": move.from_digest,
        "to_version": source.version,
        "to_digest": source.digest,
    }
    act = audit.Act(
        engine.org.municipality, who, role, UPGRADED, f"cycle:{cycle.id}", payload, cycle.id
    )
    audit.write(session, [(act, now)])
