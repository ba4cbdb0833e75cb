"""The decided åtgärdsplan: a set of actions adopted by a body (the styrgrupp, KS, ...) with
date and §, through the decision machinery.

Proposing a plan is proposing a decision (``engine.decisions``) from a cycle, with the attribute
``atgardsplan: ja`` that the municipality's routing rules may look at, and a new version of the
plan that names its actions and keeps the SHA-256 of what they said then. When the body's
decision is recorded approved, that version is adopted; the plan in force is the last version
adopted (by meeting date, then version). Lag (2023:196) asks that the municipality *decide* its
åtgärdsplan: the compliance view reads it from here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tsk_workflow import audit
from tsk_workflow.canonical import digest
from tsk_workflow.engine.actions import ActionView, role_of
from tsk_workflow.engine.decisions import Decisions, DecisionState
from tsk_workflow.errors import NotFound, Refused
from tsk_workflow.i18n import _
from tsk_workflow.routing import Route
from tsk_workflow.store import actions as stored

if TYPE_CHECKING:
    from tsk_workflow.engine.act import Act
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.store.models import ActionPlan, Decision

PLAN_ATTRIBUTE = "atgardsplan"


@dataclass(frozen=True)
class PlanVersion:
    """A version of the åtgärdsplan with its decision: ``status`` is the decision's
    (``proposed``, ``approved``, ``rejected``, ``postponed``); ``in_force`` for the plan that
    holds now."""

    id: int
    version: int
    title: str
    action_ids: tuple[int, ...]
    digest: str
    decision_id: int
    status: str
    routed_to: str
    body: str | None
    decided_on: dt.date | None
    paragraph: str | None
    created_by: str
    created_at: dt.datetime
    in_force: bool = False

    @property
    def adopted(self) -> bool:
        return self.status == "approved"

    @classmethod
    def of(cls, plan: ActionPlan, decision: Decision, in_force: bool = False) -> PlanVersion:
        return cls(
            plan.id,
            plan.version,
            plan.title,
            tuple(plan.action_ids),
            plan.digest,
            decision.id,
            decision.status,
            decision.routed_to,
            decision.body,
            decision.decided_on,
            decision.paragraph,
            plan.created_by,
            plan.created_at,
            in_force,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "actions": list(self.action_ids),
            "digest": self.digest,
            "decision": self.decision_id,
            "status": self.status,
            "routed_to": self.routed_to,
            "body": self.body,
            "date": self.decided_on.isoformat() if self.decided_on else None,
            "paragraph": self.paragraph,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "in_force": self.in_force,
        }


def versions(engine: Engine) -> list[PlanVersion]:
    """Every version of the plan, the newest first, the one in force marked."""
    with engine.store.reading() as session:
        found = stored.plans(session, engine.org.municipality)
    current = _in_force([(plan, decision) for plan, decision in found])
    return [PlanVersion.of(plan, decision, plan.id == current) for plan, decision in found]


def in_force(engine: Engine) -> PlanVersion | None:
    """The plan in force: the last version adopted, or None."""
    return next((v for v in versions(engine) if v.in_force), None)


def _in_force(found: Sequence[tuple[ActionPlan, Decision]]) -> int | None:
    adopted = [
        (decision.decided_on or dt.date.min, plan.version, plan.id)
        for plan, decision in found
        if decision.status == "approved"
    ]
    return max(adopted)[2] if adopted else None


def propose(
    engine: Engine,
    actor: str | None,
    cycle_ref: str | int,
    title: str,
    action_ids: Sequence[int] | None = None,
    attrs: dict[str, str] | None = None,
) -> tuple[PlanVersion, Route]:
    """Propose a new version of the åtgärdsplan from a cycle: the actions ``action_ids`` (all
    active ones when None), for the body the routing gives (see the module's docstring)."""
    from tsk_workflow.engine.actions import Actions

    register = Actions(engine)
    chosen = (
        register.listing()
        if action_ids is None
        else [register.show(number) for number in dict.fromkeys(action_ids)]
    )
    if not chosen:
        raise Refused(_("a plan needs at least one action: add actions first (tsk action add)"))
    closed = [a for a in chosen if a.state == "cancelled"]
    if closed:
        raise Refused(
            _("action {id} is cancelled: a plan holds actions to be done").format(id=closed[0].id)
        )
    made: list[PlanVersion] = []

    def add_version(act: Act, decision: DecisionState) -> None:
        row = stored.add_plan(
            act.session,
            {
                "municipality": engine.org.municipality,
                "title": decision.title,
                "action_ids": [a.id for a in chosen],
                "digest": _digest(chosen),
                "decision_id": decision.id,
                "created_by": decision.proposed_by,
                "created_at": act.now,
            },
        )
        act.record(
            audit.Act(
                engine.org.municipality,
                decision.proposed_by,
                role_of(engine, decision.proposed_by),
                "action_plan.proposed",
                f"action_plan:{row.version}",
                {
                    "version": row.version,
                    "decision": decision.id,
                    "actions": row.action_ids,
                    "digest": row.digest,
                    "routed_to": decision.routed_to,
                },
                decision.cycle_id,
            )
        )
        made.append(
            PlanVersion(
                row.id,
                row.version,
                row.title,
                tuple(row.action_ids),
                row.digest,
                decision.id,
                decision.status,
                decision.routed_to,
                None,
                None,
                None,
                row.created_by,
                row.created_at,
            )
        )

    wanted = dict(attrs or {}) | {PLAN_ATTRIBUTE: "ja"}
    _decision, found = Decisions(engine).propose(
        actor, cycle_ref, title, _total_cost(chosen), wanted, then=add_version
    )
    return made[0], found


def show(engine: Engine, version: int | None = None) -> tuple[PlanVersion, list[ActionView]]:
    """A version of the plan (the one in force when None) with its actions as they are now."""
    from tsk_workflow.engine.actions import Actions

    found = versions(engine)
    chosen = (
        next((v for v in found if v.in_force), None)
        if version is None
        else next((v for v in found if v.version == version), None)
    )
    if chosen is None:
        raise NotFound(
            _("no åtgärdsplan has been adopted in {org}").format(org=engine.org.name)
            if version is None
            else _("no version {version} of the åtgärdsplan").format(version=version)
        )
    register = Actions(engine)
    return chosen, [register.show(number) for number in chosen.action_ids]


def _digest(actions: Sequence[ActionView]) -> str:
    return digest(
        [
            {k: v for k, v in a.to_dict().items() if k not in ("followups", "overdue")}
            for a in actions
        ]
    )


def _total_cost(actions: Sequence[ActionView]) -> float | None:
    costs = [a.cost for a in actions if a.cost is not None]
    return sum(costs) if costs else None
