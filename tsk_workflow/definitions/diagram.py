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
    arguments = machine_arguments(definition)
    if current is not None:
        arguments["initial"] = current
    GraphMachine(
        model=model,
        graph_engine="mermaid" if fmt == "mermaid" else "graphviz",
        title=f"{definition.key}: {definition.title.sv}",
        show_conditions=False,
        **arguments,
    )
    graph = model.get_graph()  # type: ignore[attr-defined]
    return str(graph.source if fmt == "dot" else graph.draw(None))
