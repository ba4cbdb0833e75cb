"""Drawing a process with transitions' GraphMachine (mermaid needs no system package)."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from tsk_workflow.definitions.compile import machine_arguments
from tsk_workflow.definitions.model import ProcessDefinition


class _Model:
    """GraphMachine draws the graph of a model; this one only carries the current state."""


@cache
def _machine_class() -> Any:
    """GraphMachine with states that carry a label: the step's title, drawn instead of its key
    (transitions' markup reads a state's ``label``)."""
    from transitions.extensions import GraphMachine

    base: Any = GraphMachine.state_cls

    class Step(base):  # type: ignore[misc]  # transitions' state class, held in a variable
        def __init__(self, *args: Any, label: str | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.label = label

    class StepMachine(GraphMachine):
        state_cls = Step

    return StepMachine


def draw(
    definition: ProcessDefinition,
    fmt: Literal["mermaid", "dot"] = "mermaid",
    current: str | None = None,
    lang: str = "sv",
) -> str:
    """The diagram source: each step a box titled in ``lang``, each arrow the trigger that
    fires it (what ``tsk cycle advance`` takes); ``current``, when given, is the only step
    marked (a machine is always in some state, but no step is current unless asked for)."""
    arguments = machine_arguments(definition)
    arguments["states"] = [
        {"name": step.key, "label": step.title.get(lang)} for step in definition.steps
    ]
    model = _Model()
    machine = _machine_class()(
        model=model,
        graph_engine="mermaid" if fmt == "mermaid" else "graphviz",
        title=f"{definition.key}: {definition.title.get(lang)}",
        show_conditions=False,
        **arguments,
    )
    styling = machine.model_graphs[id(model)]
    styling.reset_styling()  # the machine's initial state is not a current step
    if current is not None:
        # Mark the step without moving the initial arrow ([*] -->) away from the first.
        styling.set_node_style(current, "active")
    graph = model.get_graph()  # type: ignore[attr-defined]
    return str(graph.source if fmt == "dot" else graph.draw(None))
