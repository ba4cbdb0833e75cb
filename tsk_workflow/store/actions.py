"""The action register (``tsk_workflow.engine.actions``): actions, their follow-ups and the
versions of the åtgärdsplan, written in the act's transaction and read by what the engine asks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tsk_workflow.store.models import Action, ActionFollowUp, ActionPlan, Decision


def add_action(session: Session, values: dict[str, Any]) -> Action:
    """A new action, written now: its id is known."""
    row = Action(**values)
    session.add(row)
    session.flush()
    return row


def add_followup(session: Session, action: Action, values: dict[str, Any]) -> ActionFollowUp:
    row = ActionFollowUp(municipality=action.municipality, **values)
    action.followups.append(row)
    session.flush()
    return row


def action(session: Session, municipality: str, action_id: int) -> Action | None:
    query = select(Action).where(Action.municipality == municipality, Action.id == action_id)
    return session.scalars(query).first()


def actions(
    session: Session,
    municipality: str,
    *,
    ids: Sequence[int] | None = None,
    states: Sequence[str] | None = None,
    owner: str | None = None,
    cycle_id: int | None = None,
    promise_cycle_id: int | None = None,
    status: str | None = None,
    due_before: dt.date | None = None,
) -> list[Action]:
    """The actions of ``municipality`` that match, by due date."""
    query = select(Action).where(Action.municipality == municipality)
    if ids is not None:
        query = query.where(Action.id.in_(list(ids)))
    if states is not None:
        query = query.where(Action.state.in_(list(states)))
    if owner is not None:
        query = query.where(Action.owner == owner)
    if cycle_id is not None:
        query = query.where(Action.cycle_id == cycle_id)
    if promise_cycle_id is not None:
        query = query.where(Action.promise_cycle_id == promise_cycle_id)
    if status is not None:
        query = query.where(Action.status == status)
    if due_before is not None:
        query = query.where(Action.due < due_before)
    return list(session.scalars(query.order_by(Action.due, Action.id)))


def actions_of_cycles(
    session: Session, municipality: str, cycle_ids: Sequence[int]
) -> list[Action]:
    query = select(Action).where(
        Action.municipality == municipality, Action.cycle_id.in_(list(cycle_ids))
    )
    return list(session.scalars(query.order_by(Action.id)))


def notices_due(session: Session, municipality: str, remind_from: dt.date) -> list[Action]:
    """The active actions due on or before ``remind_from`` whose reminder or overdue notice for
    their due date is not queued yet (the pass decides which)."""
    query = select(Action).where(
        Action.municipality == municipality,
        Action.state == "active",
        Action.due <= remind_from,
        (Action.overdue_noticed_for.is_(None)) | (Action.overdue_noticed_for != Action.due),
    )
    return list(session.scalars(query.order_by(Action.due, Action.id)))


def followups_before(
    session: Session, municipality: str, cutoff: dt.datetime
) -> list[ActionFollowUp]:
    """The follow-ups of ``municipality`` made before ``cutoff`` with a note not purged yet."""
    query = select(ActionFollowUp).where(
        ActionFollowUp.municipality == municipality,
        ActionFollowUp.at < cutoff,
        ActionFollowUp.note.is_not(None),
        ActionFollowUp.purged_at.is_(None),
    )
    return list(session.scalars(query.order_by(ActionFollowUp.id)))


def add_plan(session: Session, values: dict[str, Any]) -> ActionPlan:
    """A new version of the åtgärdsplan (the next number of the municipality's)."""
    highest = session.scalar(
        select(func.coalesce(func.max(ActionPlan.version), 0)).where(
            ActionPlan.municipality == values["municipality"]
        )
    )
    row = ActionPlan(version=int(highest or 0) + 1, **values)
    session.add(row)
    session.flush()
    return row


def plans(session: Session, municipality: str) -> list[tuple[ActionPlan, Decision]]:
    """Every version of the åtgärdsplan with its decision, the newest first."""
    query = (
        select(ActionPlan, Decision)
        .join(Decision, Decision.id == ActionPlan.decision_id)
        .where(ActionPlan.municipality == municipality)
        .order_by(ActionPlan.version.desc())
    )
    return [(plan, decision) for plan, decision in session.execute(query)]


def plan_of_decision(session: Session, municipality: str, decision_id: int) -> ActionPlan | None:
    query = select(ActionPlan).where(
        ActionPlan.municipality == municipality, ActionPlan.decision_id == decision_id
    )
    return session.scalars(query).first()


def of_cycle(session: Session, municipality: str, cycle_id: int) -> int:
    """How many actions came from the cycle ``cycle_id`` (the condition ``actions_recorded``)."""
    query = select(func.count(Action.id)).where(
        Action.municipality == municipality, Action.cycle_id == cycle_id
    )
    return int(session.scalar(query) or 0)
