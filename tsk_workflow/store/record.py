"""What verifying the record reads besides the chain: the state (cycles, tasks, decisions), the
documents, and the municipalities, each table streamed in id order; and the acts refused (kept
beside the chain, for ``tsk audit refused``).

Only SQL lives here; what the rows must agree with is ``tsk_workflow.replay``'s to say.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsk_workflow.store.models import (
    Action,
    Cycle,
    Decision,
    Document,
    Municipality,
    RefusedAct,
    Task,
)


def one_snapshot(session: Session) -> None:
    """Make what ``session`` reads one snapshot: on PostgreSQL, REPEATABLE READ for its
    transaction (so it must come before the session's first statement); SQLite's read
    transaction is one already."""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def cycle_states(
    session: Session, batch: int
) -> Iterator[tuple[int, str, str, str, int | None, str | None, str]]:
    """Each cycle's ``(id, ref, state, status, process_version, process_digest, group_key)``."""
    query = (
        select(
            Cycle.id,
            Cycle.ref,
            Cycle.state,
            Cycle.status,
            Cycle.process_version,
            Cycle.process_digest,
            Cycle.group_key,
        )
        .order_by(Cycle.id)
        .execution_options(yield_per=batch)
    )
    yield from session.execute(query)


def task_states(session: Session, batch: int) -> Iterator[tuple[int, int, str, str, str | None]]:
    """Each task's ``(id, cycle_id, step, status, done_by)``."""
    query = (
        select(Task.id, Task.cycle_id, Task.step, Task.status, Task.done_by)
        .order_by(Task.id)
        .execution_options(yield_per=batch)
    )
    yield from session.execute(query)


def decision_values(
    session: Session, fields: Sequence[str], batch: int
) -> Iterator[tuple[int, list[Any]]]:
    """Each decision's id with the values of its columns ``fields``, in that order."""
    columns = [getattr(Decision, name) for name in fields]
    query = select(Decision.id, *columns).order_by(Decision.id).execution_options(yield_per=batch)
    for decision_id, *values in session.execute(query):
        yield decision_id, values


def action_values(
    session: Session, fields: Sequence[str], batch: int
) -> Iterator[tuple[int, list[Any]]]:
    """Each action's id with the values of its columns ``fields``, in that order."""
    columns = [getattr(Action, name) for name in fields]
    query = select(Action.id, *columns).order_by(Action.id).execution_options(yield_per=batch)
    for action_id, *values in session.execute(query):
        yield action_id, values


def documents(session: Session, batch: int) -> Iterator[tuple[int, int, str, int, str, bytes]]:
    """Each document's ``(id, cycle_id, filename, size, sha256, content)``."""
    query = (
        select(
            Document.id,
            Document.cycle_id,
            Document.filename,
            Document.size,
            Document.sha256,
            Document.content,
        )
        .order_by(Document.id)
        .execution_options(yield_per=batch)
    )
    yield from session.execute(query)


def municipality_keys(session: Session) -> list[str]:
    """The keys of the municipalities loaded, in order."""
    return [str(k) for k in session.scalars(select(Municipality.key).order_by(Municipality.key))]


@dataclass(frozen=True)
class RefusedActRow:
    """An act refused (``refused_acts``)."""

    id: int
    at: dt.datetime
    municipality: str
    actor: str
    action: str
    subject: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the time as ISO 8601 text."""
        return {**asdict(self), "at": self.at.isoformat()}


def refused_acts(
    session: Session, municipality: str | None = None, actor: str | None = None
) -> list[RefusedActRow]:
    """The acts refused, of ``municipality`` and by ``actor`` when given, oldest first."""
    query = select(RefusedAct).order_by(RefusedAct.id)
    if municipality is not None:
        query = query.where(RefusedAct.municipality == municipality)
    if actor is not None:
        query = query.where(RefusedAct.actor == actor)
    return [
        RefusedActRow(r.id, r.at, r.municipality, r.actor, r.action, r.subject, r.reason)
        for r in session.scalars(query)
    ]
