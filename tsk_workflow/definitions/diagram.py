"""Drawing a process with transitions' GraphMachine (mermaid needs no system package)."""

from __future__ import annotations

from typing import Literal

from tsk_workflow.definitions.compile import machine_arguments
from tsk_workflow.definitions.model import ProcessDefinition


class _Model:
    """GraphMachine draws the graph of a model; this one only carries the current state."""


def draw(
    definition: ProcessDefinition,
    fmt: Literal["mermaid", "dot"] = "mermaid",
    current: str | None = None,
) -> str:
    """The diagram source; ``current`` marks the step a cycle is in."""
    from transitions.extensions import GraphMachine

    model = _Model()
    machine = GraphMachine(
        model=model,
        graph_engine="mermaid" if fmt == "mermaid" else "graphviz",
        title=f"{definition.key}: {definition.title.sv}",
        show_conditions=False,
        **machine_arguments(definition),
    )
    if current is not None:
        # Mark the current step without moving the initial arrow ([*] -->) away from the first.
        machine.set_state(current, model)
    graph = model.get_graph(force_new=current is not None)  # type: ignore[attr-defined]
    return str(graph.source if fmt == "dot" else graph.draw(None))
