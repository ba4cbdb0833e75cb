"""Walking a process definition along its happy path on a real ``transitions`` machine, in memory.

``happy_path`` finds the shortest list of triggers from the initial step to a final step;
``walk`` fires them on a machine built from ``machine_arguments`` and returns the step reached.
"""

from __future__ import annotations

from collections import deque

from transitions import Machine

from tsk_workflow.definitions.compile import machine_arguments
from tsk_workflow.definitions.model import ProcessDefinition


class Cycle:
    """A stand-in for a stored cycle: the machine gives it ``state`` and a method per trigger."""

    state: str


def happy_path(definition: ProcessDefinition) -> list[str]:
    """The shortest trigger sequence from the initial step to a final step (breadth first)."""
    start = definition.initial_step
    paths: dict[str, list[str]] = {start: []}
    todo = deque([start])
    while todo:
        step = todo.popleft()
        if step in definition.final:
            return paths[step]
        for transition in definition.transitions:
            if step in transition.source and transition.dest not in paths:
                paths[transition.dest] = [*paths[step], transition.trigger]
                todo.append(transition.dest)
    raise AssertionError(f"no final step of '{definition.key}' can be reached")


def walk(definition: ProcessDefinition, triggers: list[str]) -> str:
    """Fire ``triggers`` in order on a fresh machine; the step the cycle ends in."""
    cycle = Cycle()
    Machine(model=cycle, **machine_arguments(definition))
    assert cycle.state == definition.initial_step
    for trigger in triggers:
        assert getattr(cycle, trigger)() is True, f"{trigger} from {cycle.state}"
    return cycle.state
