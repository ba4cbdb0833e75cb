"""The rows a lägesbild gathers (``tsk_workflow.lagesbild.collect``): the cycles of the same
process and subject in the months before, and the tasks of those cycles."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsk_workflow.store.acts import CycleState
from tsk_workflow.store.models import Cycle, Task

CycleLike = Cycle | CycleState


def earlier_cycles(session: Session, cycle: CycleLike, periods: Collection[str]) -> list[Cycle]:
    """The other cycles of ``cycle``'s municipality, process and subject in ``periods``."""
    query = select(Cycle).where(
        Cycle.municipality == cycle.municipality,
        Cycle.process == cycle.process,
        Cycle.subject == cycle.subject,
        Cycle.period.in_(list(periods)),
        Cycle.id != cycle.id,
    )
    return list(session.scalars(query))


def tasks_of(session: Session, cycle_ids: Collection[int]) -> list[Task]:
    """The tasks of the cycles ``cycle_ids``, in id order."""
    query = select(Task).where(Task.cycle_id.in_(list(cycle_ids))).order_by(Task.id)
    return list(session.scalars(query))
