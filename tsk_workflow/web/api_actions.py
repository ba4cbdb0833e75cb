"""The API's action register (``engine.actions``) and the decided åtgärdsplan
(``engine.action_plans``): the acts and reads of ``tsk action``.

An action's JSON is what ``tsk action show --json`` prints, with the names a reader needs
beside the keys (``owner_name``, ``category_label``, ``town_name``). Values the engine refuses
come back as one problem (422) naming every field wrong in ``errors``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from tsk_workflow import i18n
from tsk_workflow.engine import action_plans
from tsk_workflow.engine.actions import Actions, ActionView, InvalidAction
from tsk_workflow.engine.events import categories, places
from tsk_workflow.engine.service import Engine
from tsk_workflow.web.deps import Actor, Reader
from tsk_workflow.web.problem import Problem

router = APIRouter(prefix="/api/v1")

Value = Annotated[str, Field(max_length=10_000)] | float | int | None
"""A field as a form gives it (text) or as a number; the engine checks it further."""


class ActionFields(BaseModel):
    """An action's fields, as a form gives them (texts) or with numbers; on a change, only
    those given are changed (``null`` empties an optional one)."""

    model_config = ConfigDict(extra="forbid")

    title: Value = Field(None, description="The action (Åtgärd)")
    cause: Value = Field(None, description="The cause it answers (Orsak)")
    goal: Value = Field(None, description="The operative goal (Operativa mål)")
    start: Value = Field(None, description="YYYY-MM-DD (today if not given)")
    due: Value = Field(None, description="YYYY-MM-DD: when it is to be done (När)")
    owner: Value = Field(None, description="The person who answers for it (Vem)")
    owner_organisation: Value = Field(None, description="Their department if not given")
    followup_plan: Value = Field(None, description="How it is followed up (Uppföljning)")
    cost: Value = Field(None, description="In kronor")
    category: Value = Field(None, description="The lägesbild's category its effect is measured on")
    town: Value = Field(None, description="A town or area of the organisation (key or name)")
    place: Value = Field(None, description="Where in the town")
    latitude: Value = Field(None, description="WGS 84, with longitude")
    longitude: Value = Field(None, description="WGS 84, with latitude")
    window_days: Value = Field(None, description="The effect follow-up's window in days (90)")
    cycle: Value = Field(None, description="The cycle it came from (id or ref)")
    decision: Value = Field(None, description="The decision that took it (its number)")
    promise: Value = Field(None, description="The medborgarlöfte it serves (its cycle)")
    status: Value = Field(
        None,
        description="green, yellow or red (green if not given); a change of status is a"
        " follow-up with a note, not a change of fields",
    )


class FollowUpGiven(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str | None = Field(None, max_length=20, description="green, yellow or red")
    state: Literal["active", "done", "cancelled"] | None = Field(
        None, description="done, cancelled, or active to reopen"
    )
    note: str | None = Field(
        None, max_length=10_000, description="How it goes; required when the status changes"
    )


def _given(body: BaseModel) -> dict[str, Any]:
    """The fields the body sets (``null`` included), as the engine takes them: text."""
    return {
        name: None if value is None else str(value)
        for name, value in body.model_dump(exclude_unset=True).items()
    }


@contextmanager
def _problems() -> Iterator[None]:
    """The engine's refusal of values as the API's problem: 422 with each field's message."""
    try:
        yield
    except InvalidAction as exc:
        errors = [{"field": p.field, "message": p.message} for p in exc.problems]
        raise Problem(422, "invalid", str(exc), errors=errors) from None


def action_json(engine: Engine, view: ActionView) -> dict[str, Any]:
    """An action as the API shows it: ``to_dict()`` and the names of its keys."""
    person = engine.org.person(view.owner)
    label = categories(engine).get(view.category) if view.category else None
    return view.to_dict() | {
        "owner_name": person.name if person is not None else view.owner,
        "category_label": label.get(i18n.language()) if label is not None else None,
        "town_name": places(engine.org).get(view.town, view.town) if view.town else None,
    }


@router.get("/actions", tags=["actions"], summary="The action register (active ones by default)")
def actions(
    reader: Reader,
    state: Annotated[
        Literal["active", "done", "cancelled", "all"], Query(description="Which actions")
    ] = "active",
    status: Annotated[str | None, Query(max_length=20, description="green, yellow or red")] = None,
    owner: Annotated[str | None, Query(max_length=64, description="Only this person's")] = None,
    mine: Annotated[bool, Query(description="Only mine")] = False,
    overdue: Annotated[bool, Query(description="Only those past their due date")] = False,
    cycle: Annotated[
        str | None, Query(max_length=200, description="Only those from this cycle")
    ] = None,
    promise: Annotated[
        str | None,
        Query(max_length=200, description="Only those serving this medborgarlöfte (its cycle)"),
    ] = None,
) -> list[dict[str, Any]]:
    engine = reader.engine
    found = Actions(engine).listing(
        states=None if state == "all" else (state,),
        owner=reader.person if mine else owner,
        cycle=cycle,
        status=status,
        overdue=overdue,
        promise=promise,
    )
    return [action_json(engine, view) for view in found]


@router.get(
    "/actions/review",
    tags=["actions"],
    summary="The styrgrupp's follow-up: the plan in force, each action with its effect, totals",
)
def review(reader: Reader) -> dict[str, Any]:
    from tsk_workflow.lagesbild.effect import review as review_of

    found: dict[str, Any] = review_of(reader.engine).to_dict()
    return found


@router.get(
    "/actions/{action_id}",
    tags=["actions"],
    summary="An action, with its follow-ups and its effect",
)
def action(action_id: int, reader: Reader) -> dict[str, Any]:
    from tsk_workflow.lagesbild.effect import effect_of

    view = Actions(reader.engine).show(action_id)
    return action_json(reader.engine, view) | {"effect": effect_of(reader.engine, view).to_dict()}


@router.post("/actions", tags=["actions"], status_code=201, summary="Add an action")
def add(body: ActionFields, actor: Actor) -> dict[str, Any]:
    with _problems():
        made = Actions(actor.engine).add(actor.person, _given(body))
    return action_json(actor.engine, made)


@router.patch(
    "/actions/{action_id}",
    tags=["actions"],
    summary="Change fields of an action (its status changes with a follow-up)",
)
def update(action_id: int, body: ActionFields, actor: Actor) -> dict[str, Any]:
    with _problems():
        made = Actions(actor.engine).update(actor.person, action_id, _given(body))
    return action_json(actor.engine, made)


@router.post(
    "/actions/{action_id}/followups",
    tags=["actions"],
    status_code=201,
    summary="Follow up an action: how it goes, its status, done or cancelled",
)
def follow_up(action_id: int, body: FollowUpGiven, actor: Actor) -> dict[str, Any]:
    with _problems():
        made = Actions(actor.engine).followup(
            actor.person, action_id, status=body.status, state=body.state, note=body.note
        )
    return action_json(actor.engine, made)


@router.get(
    "/action-plans",
    tags=["actions"],
    summary="The versions of the åtgärdsplan, the newest first, the one in force marked",
)
def plans(reader: Reader) -> list[dict[str, Any]]:
    return [version.to_dict() for version in action_plans.versions(reader.engine)]
