"""A validated definition compiled into a ``transitions`` machine.

One machine per definition, shared by every cycle of it: a stored cycle is only a state name,
and asking the machine which triggers a state allows needs no model object per cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transitions import Machine

from tsk_workflow.definitions.model import ProcessDefinition, Transition


@dataclass(frozen=True)
class CompiledProcess:
    definition: ProcessDefinition
    machine: Any = field(repr=False)

    def allowed_triggers(self, state: str) -> list[str]:
        """Triggers that may be fired from ``state``, in definition order."""
        return [t.trigger for t in self.definition.transitions if state in t.source]

    def transition(self, state: str, trigger: str) -> Transition | None:
        """The transition ``trigger`` fires from ``state``, or None when it is not allowed."""
        if (
            not self.machine.events.get(trigger)
            or state not in self.machine.events[trigger].transitions
        ):
            return None
        return next(
            t for t in self.definition.transitions if t.trigger == trigger and state in t.source
        )

    def auto_transition(self, state: str) -> Transition | None:
        return next((t for t in self.definition.transitions if t.auto and state in t.source), None)

    def is_final(self, state: str) -> bool:
        return state in self.definition.final

    def has_timed_transitions(self, state: str) -> bool:
        """Whether entering ``state`` plans timers for transitions that fire by themselves."""
        return any(t.after is not None and state in t.source for t in self.definition.transitions)


def machine_arguments(definition: ProcessDefinition) -> dict[str, Any]:
    """The keyword arguments that build a ``transitions`` machine for ``definition``."""
    return {
        "states": list(definition.step_keys),
        "transitions": [
            {"trigger": t.trigger, "source": list(t.source), "dest": t.dest}
            for t in definition.transitions
        ],
        "initial": definition.initial_step,
        "auto_transitions": False,
    }


def compile_process(definition: ProcessDefinition) -> CompiledProcess:
    machine = Machine(model=None, **machine_arguments(definition))
    return CompiledProcess(definition, machine)
