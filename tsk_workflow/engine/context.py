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
from typing import Any, Protocol

from sqlalchemy.orm import Session

from tsk_workflow import audit
from tsk_workflow.calendar import WorkCalendar
from tsk_workflow.definitions.compile import CompiledProcess
from tsk_workflow.definitions.model import Step
from tsk_workflow.engine.directory import Directory
from tsk_workflow.organisation.model import Group, Organisation
from tsk_workflow.store.models import Cycle


class StepListener(Protocol):
    """Called inside the act, in its transaction, when a cycle has entered a step (after the
    step's tasks, timers and invitations are made)."""

    def on_enter_step(self, ctx: StepContext, cycle: Cycle, step: Step) -> None: ...


@dataclass
class StepContext:
    """What acting on one cycle needs: the session, the organisation, the process and the time,
    and the listeners of the engine (the features it calls at each step)."""

    session: Session
    org: Organisation
    directory: Directory
    process: CompiledProcess
    cal: WorkCalendar
    now: dt.datetime
    listeners: Sequence[StepListener] = ()

    @property
    def municipality(self) -> str:
        return self.org.municipality

    def group(self, cycle: Cycle) -> Group:
        return self.directory.group_of(cycle.process)

    def record(
        self,
        cycle: Cycle,
        actor: str,
        action: str,
        payload: dict[str, Any],
        role: str | None = None,
    ) -> None:
        role = role or self.directory.describe_role(actor, self.group(cycle))
        act = audit.Act(
            self.municipality, actor, role, action, f"cycle:{cycle.id}", payload, cycle.id
        )
        audit.write(self.session, [(act, self.now)])
