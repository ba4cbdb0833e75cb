"""What an act on one cycle works with, and the hooks it calls for features.

``StepContext`` is passed through an act (``engine.steps``, ``engine.notify``, the listeners);
``StepListener`` is the hook a feature implements (the lägesbild, later actions and reports), as
python-statemachine's listeners: the engine calls it and imports no feature.
``tsk_workflow.features`` lists the standard listeners and builds engines with them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tsk_workflow import audit
from tsk_workflow.calendar import WorkCalendar
from tsk_workflow.definitions.compile import CompiledProcess
from tsk_workflow.definitions.model import Step
from tsk_workflow.engine.act import Act
from tsk_workflow.engine.directory import Directory
from tsk_workflow.organisation.model import Group, Organisation
from tsk_workflow.store.acts import CycleState

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session


class StepListener(Protocol):
    """Called inside the act, in its transaction, when a cycle has entered a step (after the
    step's tasks, timers and invitations are decided). A listener adds its own effects to
    ``ctx.act``; one that reads what the act did from the database (the answers of the step
    just left) first has it written, ``ctx.act.write()``."""

    def on_enter_step(self, ctx: StepContext, cycle: CycleState, step: Step) -> None: ...


@dataclass
class StepContext:
    """What acting on one cycle needs: the act (its session, time and effects), the
    organisation, the process, and the listeners of the engine (the features it calls at each
    step)."""

    act: Act
    org: Organisation
    directory: Directory
    process: CompiledProcess
    cal: WorkCalendar
    listeners: Sequence[StepListener] = ()

    @property
    def now(self) -> dt.datetime:
        return self.act.now

    @property
    def session(self) -> Session:
        """For reading (``store`` queries); writing is the act's effects'."""
        return self.act.session

    @property
    def municipality(self) -> str:
        return self.org.municipality

    def group(self, cycle: CycleState) -> Group:
        return self.directory.group_of_cycle(cycle)

    def record(
        self,
        cycle: CycleState,
        actor: str,
        action: str,
        payload: dict[str, Any],
        role: str | None = None,
    ) -> None:
        role = role or self.directory.describe_role(actor, self.group(cycle))
        act = audit.Act(
            self.municipality, actor, role, action, f"cycle:{cycle.id}", payload, cycle.id
        )
        self.act.record(act)
