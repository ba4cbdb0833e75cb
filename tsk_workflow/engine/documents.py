"""Documents of a cycle (protokoll, åtgärdsplan, samverkansöverenskommelse, lägesbild, ...):
kept in the database with their SHA-256, recorded in the audit trail (``document.attached``,
with the document's id, file name, size and SHA-256: ``tsk audit verify`` checks each row and
its content against it, both ways, in ``tsk_workflow.replay``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from tsk_workflow.definitions.model import DOCUMENT_KINDS
from tsk_workflow.engine.act import Act
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Refused
from tsk_workflow.i18n import _
from tsk_workflow.store import cycles
from tsk_workflow.store.acts import CycleState

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session
    from tsk_workflow.store.models import Cycle, Document

MAX_BYTES = 50 * 1024 * 1024

ACCEPTED: dict[str, str | None] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".xlsx": "xlsx",
    ".pptx": "pptx",
    ".odt": "odt",
    ".ods": "ods",
    ".odp": "odp",
    ".png": "png",
    ".jpg": "jpg",
    ".jpeg": "jpg",
    ".txt": None,
    ".csv": None,
    ".md": None,
}
"""The files a person may attach, by the end of their name: the kind their content must be
(``filetype``'s name for it), or None for plain text (UTF-8, no NUL). Documents of the
record: no programs, archives or pages with script."""


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


@dataclass(frozen=True)
class Attached:
    """A document as attached: what was written and recorded of it."""

    id: int
    cycle_id: int
    step: str
    kind: str
    filename: str
    media_type: str
    size: int
    sha256: str
    attached_by: str
    attached_at: dt.datetime


def attach(
    engine: Engine, actor: str | None, ref: str | int, upload: Upload, kind: str
) -> Attached:
    """Attach a document to the cycle's current step; may move the cycle on when the step was
    waiting for it."""
    who = engine.actor(actor, "document.attach", f"cycle:{ref}")
    _check(upload, kind)
    with engine.act() as act:
        cycle = engine.cycle_state(act, ref)
        act.effects.claim(cycle)
        ctx = engine.cycle_context(act, cycle)
        group = ctx.group(cycle)
        if not (
            engine.directory.is_chair(who, group)
            or who in group.members
            or any(who in task.assignee_ids for task in cycle.tasks)
        ):
            raise PermissionDenied(
                who,
                "document.attach",
                f"cycle:{cycle.id}",
                _(
                    "only the chair, members of {group} or people with tasks in {cycle} may attach documents"
                ).format(group=group.name, cycle=cycle.ref),
            )
        document = attach_in(act, cycle, upload, kind, who)
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
        raise Refused(
            _("{name}: a file's name may not hold a folder (/ or \\) or control characters").format(
                name=repr(name)
            )
        )
    if len(upload.content) > MAX_BYTES:
        raise Refused(
            _("the file is larger than {size} MB").format(size=MAX_BYTES // (1024 * 1024))
        )
    _check_type(upload)


def _check_type(upload: Upload) -> None:
    """Refuse a file whose name ends in a type not taken, or whose content is of another
    type than its name says (a program renamed ``.pdf``)."""
    import filetype

    suffix = PurePosixPath(upload.filename.lower()).suffix
    if suffix not in ACCEPTED:
        raise Refused(
            _("{name}: files of this type are not taken; attach one of {types}").format(
                name=upload.filename, types=", ".join(sorted(ACCEPTED))
            )
        )
    expected, found = ACCEPTED[suffix], filetype.guess_extension(upload.content)
    if expected is None:
        plain = found is None and b"\0" not in upload.content
        try:
            upload.content.decode("utf-8")
        except UnicodeDecodeError:
            plain = False
        if plain:
            return
    elif found == expected:
        return
    raise Refused(
        _("{name}: the content is not a {suffix} file; save it again as one").format(
            name=upload.filename, suffix=suffix
        )
    )


def attach_in(
    act: Act,
    cycle: CycleState,
    upload: Upload,
    kind: str,
    who: str,
    media_type: str | None = None,
) -> Attached:
    """A document of the cycle's current step, among the act's effects (its audit event is the
    caller's to record)."""
    media_type = (
        media_type or mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"
    )
    document = Attached(
        id=act.new_ids("documents")[0],
        cycle_id=cycle.id,
        step=cycle.state,
        kind=kind,
        filename=upload.filename,
        media_type=media_type,
        size=len(upload.content),
        sha256=hashlib.sha256(upload.content).hexdigest(),
        attached_by=who,
        attached_at=act.now,
    )
    act.effects.add_document({**dataclasses.asdict(document), "content": upload.content})
    return document


def documents(session: Session, cycle: CycleState | Cycle) -> list[Document]:
    return cycles.documents(session, cycle.id)
