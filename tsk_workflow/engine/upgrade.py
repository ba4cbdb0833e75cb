"""Moving open cycles to the current version of their definition: ``tsk process upgrade-cycles``.

A cycle follows the version of its definition it was opened with (``engine/versions.py``);
this act moves the open cycles of a process that follow an older version to the current one,
refusing those the current version cannot carry on (their step, or an open task, no longer
exists), and saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tsk_workflow import audit
from tsk_workflow.catalog import Source
from tsk_workflow.definitions.model import ProcessDefinition
from tsk_workflow.engine.act import Act
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.engine.service import Engine
from tsk_workflow.engine.versions import store
from tsk_workflow.errors import NotFound, Refused
from tsk_workflow.i18n import _
from tsk_workflow.store import acts
from tsk_workflow.store import definitions as stored

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session
    from tsk_workflow.store.models import Cycle

UPGRADED = "cycle.upgraded"
UPGRADE_ACTION = "process.upgrade_cycles"


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
    with engine.act() as act:
        session = act.session
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
            store(session, source, act.now)
            for cycle, move in moved:
                _move(act, engine, cycle, move, source, who, role)
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
    act: Act,
    engine: Engine,
    cycle: Cycle,
    move: CycleMove,
    source: Source,
    who: str,
    role: str,
) -> None:
    state = acts.load_cycle(act.session, engine.org.municipality, "id", cycle.id)
    assert state is not None
    act.effects.change_cycle(state, process_version=source.version, process_digest=source.digest)
    payload = {
        "process": source.key,
        "step": cycle.state,
        "from_version": move.from_version,
        "from_digest": move.from_digest,
        "to_version": source.version,
        "to_digest": source.digest,
    }
    act.record(
        audit.Act(
            engine.org.municipality, who, role, UPGRADED, f"cycle:{cycle.id}", payload, cycle.id
        )
    )
