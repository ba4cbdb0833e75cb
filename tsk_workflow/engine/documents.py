"""Documents of a cycle (protokoll, åtgärdsplan, samverkansöverenskommelse, lägesbild, ...):
kept in the database with their SHA-256, recorded in the audit trail (``document.attached``,
with the document's id, file name, size and SHA-256: ``tsk audit verify`` checks each row and
its content against it, both ways, in ``tsk_workflow.replay``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsk_workflow.definitions.model import DOCUMENT_KINDS
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Refused
from tsk_workflow.i18n import _
from tsk_workflow.store.models import Cycle, Document

MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


def attach(
    engine: Engine, actor: str | None, ref: str | int, upload: Upload, kind: str
) -> Document:
    """Attach a document to the cycle's current step; may move the cycle on when the step was
    waiting for it."""
    who = engine.actor(actor, "document.attach", f"cycle:{ref}")
    _check(upload, kind)
    with engine.act() as (session, now):
        cycle = engine.find_cycle(session, ref)
        engine.claim(session, cycle)
        ctx = engine.cycle_context(session, cycle, now)
        group = ctx.group(cycle)
        if not (
            engine.directory.is_chair(who, group)
            or who in group.members
            or _assignee(session, cycle, who)
        ):
            raise PermissionDenied(
                who,
                "document.attach",
                f"cycle:{cycle.id}",
                _(
                    "only the chair, members of {group} or people with tasks in {cycle} may attach documents"
                ).format(group=group.name, cycle=cycle.ref),
            )
        document = _store(session, cycle, upload, kind, who, now)
        payload = {
            "document": document.id,
            "kind": kind,
            "filename": document.filename,
            "sha256": document.sha256,
            "size": document.size,
            "step": cycle.state,
        }
        ctx.record(cycle, who, "document.attached", payload)
        if cycle.status == "open":
            engine.settle(ctx, cycle, who)
        return document


def _check(upload: Upload, kind: str) -> None:
    if kind not in DOCUMENT_KINDS:
        raise Refused(
            _("unknown document kind '{kind}': use one of {kinds}").format(
                kind=kind, kinds=", ".join(DOCUMENT_KINDS)
            )
        )
    name = upload.filename
    if (
        not name
        or "/" in name
        or "\\" in name
        or name in {".", ".."}
        or any(ord(c) < 32 for c in name)
    ):
        raise Refused(_("bad file name {name}").format(name=repr(name)))
    if len(upload.content) > MAX_BYTES:
        raise Refused(
            _("the file is larger than {size} MB").format(size=MAX_BYTES // (1024 * 1024))
        )


def _assignee(session: Session, cycle: Cycle, who: str) -> bool:
    return any(who in task.assignee_ids for task in cycle.tasks)


def _store(
    session: Session, cycle: Cycle, upload: Upload, kind: str, who: str, now: dt.datetime
) -> Document:
    media_type = mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"
    document = Document(
        cycle_id=cycle.id,
        step=cycle.state,
        kind=kind,
        filename=upload.filename,
        media_type=media_type,
        size=len(upload.content),
        sha256=hashlib.sha256(upload.content).hexdigest(),
        content=upload.content,
        attached_by=who,
        attached_at=now,
    )
    session.add(document)
    session.flush()
    return document


def documents(session: Session, cycle: Cycle) -> list[Document]:
    query = select(Document).where(Document.cycle_id == cycle.id).order_by(Document.id)
    return list(session.scalars(query))
