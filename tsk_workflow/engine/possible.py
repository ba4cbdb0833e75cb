"""What can fire in a cycle now, and why not: the engine's answer to "what next?".

Each transition out of the cycle's step, in definition order, with who may fire it and the
reasons it cannot fire yet: the same conditions (``steps.unmet_conditions``) and permission
(``directory.role_in``) that ``Engine.advance`` checks, so what is said to be allowed is what an
``advance`` by that person would do (a note, when the transition asks for one, is given with
the act: ``needs_note``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tsk_workflow.engine.context import StepContext
from tsk_workflow.engine.directory import SYSTEM
from tsk_workflow.engine.steps import missing_documents, unmet_conditions
from tsk_workflow.i18n import _
from tsk_workflow.store.acts import CycleState


@dataclass(frozen=True)
class Possible:
    """One transition out of the cycle's step, and whether it can fire now."""

    trigger: str
    source: str
    target: str
    roles: tuple[str, ...]
    """The roles that may fire it (``chair``: the group's chair or deputy)."""
    people: tuple[str, ...]
    """Who holds those roles in the cycle's group, in the order of ``roles``."""
    allowed: bool
    reasons: tuple[str, ...]
    """Why it cannot fire now, said for people; empty when ``allowed``."""
    needs_note: bool
    """Whoever fires it must say why (``--note``)."""
    missing_documents: tuple[str, ...]
    """Documents it waits for (condition ``documents_produced``) that are not attached."""
    auto: bool
    """The engine fires it by itself once the step's required tasks are done."""
    after: str | None
    """The scheduler fires it this long after the step was entered (as the definition says)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "from": self.source,
            "to": self.target,
            "roles": list(self.roles),
            "people": list(self.people),
            "allowed": self.allowed,
            "reasons": list(self.reasons),
            "needs_note": self.needs_note,
            "missing_documents": list(self.missing_documents),
            "auto": self.auto,
            "after": self.after,
        }


def possible_transitions(ctx: StepContext, cycle: CycleState, person: str | None) -> list[Possible]:
    """The transitions out of ``cycle``'s step (none when it is closed); with ``person``, each
    is allowed only if that person may fire it."""
    if cycle.status != "open":
        return []
    group = ctx.group(cycle)
    found = []
    for transition in ctx.process.definition.transitions:
        if cycle.state not in transition.source:
            continue
        reasons = []
        if (
            person is not None
            and person != SYSTEM
            and ctx.directory.role_in(person, group, transition.by) is None
        ):
            reasons.append(
                _("{person} may not fire it: only {roles} may").format(
                    person=person, roles=", ".join(transition.by)
                )
            )
        reasons += unmet_conditions(ctx, cycle, transition, None, check_note=False)
        waits_for = (
            missing_documents(ctx, cycle) if "documents_produced" in transition.conditions else []
        )
        people = (p for role in transition.by for p in ctx.directory.assignees(role, group))
        found.append(
            Possible(
                trigger=transition.trigger,
                source=cycle.state,
                target=transition.dest,
                roles=tuple(transition.by),
                people=tuple(dict.fromkeys(people)),
                allowed=not reasons,
                reasons=tuple(reasons),
                needs_note="note_given" in transition.conditions,
                missing_documents=tuple(waits_for),
                auto=transition.auto,
                after=transition.after,
            )
        )
    return found
