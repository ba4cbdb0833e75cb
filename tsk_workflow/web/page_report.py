"""The page ``/report``: report one or several events at any time (``engine.events``).

The form starts with one event. "Add another event" (a submit button ``add``) and "Remove"
(a submit button ``remove`` with the event's number) send the form back and get it again with
one event more or less, every value kept: it works without JavaScript. "Send" reports; its
problems come back next to their fields (422), nothing recorded; a report made goes to its
receipt, ``/report/{id}`` (POST-redirect-GET). The form carries a one-time ``form_id`` made when
the page is first rendered: sent twice, it makes one report (the second submit shows the
first's receipt).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from tsk_workflow import i18n
from tsk_workflow.engine import privacy
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.engine.events import (
    FIELDS,
    MAX_DESCRIPTION,
    MAX_EVENTS,
    MAX_PLACE,
    InvalidEvents,
    categories,
    readable_reports,
    report_events,
    standing,
)
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Refused, collecting_warnings
from tsk_workflow.i18n import _
from tsk_workflow.web.pages import PageActor, PageReader, pending_fields, render
from tsk_workflow.web.problem import Problem
from tsk_workflow.web.sessions import state_of

router = APIRouter(include_in_schema=False)

EARLIER = 10
"""How many of the person's own earlier reports the page lists."""

SWEDEN = ((62.0, 15.0), 5)
"""Where the map starts when the organisation names no ``map:`` (all of Sweden)."""

Block = dict[str, str]


@router.get("/report")
def show(reader: PageReader, request: Request) -> Response:
    kept = pending_fields(request)  # a report sent after the session had ended
    blocks = [_empty()]
    if kept is not None:
        fields: list[tuple[str, str | UploadFile]] = list(kept)
        blocks = _blocks(FormData(fields)) or blocks
    return _form(
        request, reader.engine, reader.person, blocks, _new_form_id(), kept=kept is not None
    )


@router.post("/report")
async def send(actor: PageActor, request: Request) -> Response:
    form = await request.form()
    blocks = _blocks(form)
    form_id = _one(form, "form_id") or _new_form_id()
    engine, person = actor.engine, actor.person
    if _one(form, "add") is not None:
        if len(blocks) < MAX_EVENTS:
            blocks.append(_empty())
        return _form(request, engine, person, blocks, form_id, focus=len(blocks) - 1)
    removed = _one(form, "remove")
    if removed is not None and removed.isdigit():
        index = int(removed)
        if 0 <= index < len(blocks) and len(blocks) > 1:
            del blocks[index]
        return _form(request, engine, person, blocks, form_id)
    try:
        with collecting_warnings() as warnings:
            made = await run_in_threadpool(report_events, engine, person, blocks, form_id=form_id)
    except InvalidEvents as exc:
        errors = exc.by_event()
        return _form(request, engine, person, blocks, form_id, errors=errors, status=422)
    except PermissionDenied as exc:
        return _form(request, engine, person, blocks, form_id, refused=str(exc), status=403)
    except Refused as exc:
        return _form(request, engine, person, blocks, form_id, refused=str(exc), status=409)
    warned = "?warned=1" if warnings else ""  # the engine let it through with a warning
    return RedirectResponse(f"/report/{made.id}{warned}", status_code=303)


@router.get("/report/{report_id}")
def receipt(report_id: int, reader: PageReader, request: Request) -> Response:
    engine = reader.engine
    mine = {r.id: r for r in readable_reports(engine, reader.person)}
    found = mine.get(report_id)
    if found is None:
        raise Problem(404, "not-found", _("You have no report {id}.").format(id=report_id))
    shown = {
        "report": found,
        "warned": request.query_params.get("warned") == "1",
        "privacy_warning": privacy.page_warning(engine.org),
    }
    return render(request, "report_receipt.html", _shown(engine) | shown)


# ---------------------------------------------------------------- the form


def _form(
    request: Request,
    engine: Engine,
    person: str,
    blocks: list[Block],
    form_id: str,
    *,
    errors: Mapping[int, Mapping[str, str]] | None = None,
    refused: str | None = None,
    focus: int | None = None,
    status: int = 200,
    kept: bool = False,
) -> Response:
    someone = engine.org.person(person)
    allowed = standing(engine.org, someone) if someone is not None else None
    context = _shown(engine) | {
        "blocks": blocks,
        "form_id": form_id,
        "errors": errors or {},
        "refused": refused,
        "kept": kept,
        "focus": focus,
        "may_report": allowed is not None and allowed.allowed,
        "not_allowed": allowed.reason if allowed is not None and not allowed.allowed else None,
        "partner": allowed.partner if allowed is not None else None,
        "earlier": readable_reports(engine, person, limit=EARLIER),
        "max_events": MAX_EVENTS,
        "max_place": MAX_PLACE,
        "max_description": MAX_DESCRIPTION,
        "today": engine.clock().astimezone(engine.cal.zone).date().isoformat(),
        "map_json": _map_island(request, engine),
    }
    if refused is None and allowed is not None and not allowed.allowed and status == 200:
        status = 403
    return render(request, "report_form.html", context, status_code=status)


def _map_island(request: Request, engine: Engine) -> Markup | None:
    """The settings of the map picker (``static/report-map.js``) as a JSON data island: the
    tiles and where the map starts (the organisation's ``map:``, else all of Sweden); None
    without tiles (``TSK_MAP_TILES`` empty): then the page has no map and loads no script."""
    config = state_of(request).config
    if not config.map_tiles:
        return None
    where = engine.org.map
    centre, zoom = (where.centre, where.zoom) if where is not None else SWEDEN
    data = {
        "tiles": config.map_tiles,
        "attribution": config.map_attribution,
        "centre": list(centre),
        "zoom": zoom,
    }
    return htmlsafe_json_dumps(data)


def _shown(engine: Engine) -> dict[str, Any]:
    """What the form and the receipt show: the categories and places by name."""
    lang = i18n.language()
    org = engine.org
    return {
        "categories": [(key, label.get(lang)) for key, label in categories(engine).items()],
        "towns": [(t.key, t.name) for t in org.towns],
        "areas": [(a.key, a.name) for a in org.areas],
        "names": {t.key: t.name for t in org.towns} | {a.key: a.name for a in org.areas},
        "labels": {key: label.get(lang) for key, label in categories(engine).items()},
        "zone": engine.cal.zone,
        "municipality": org.name,
    }


def _new_form_id() -> str:
    return secrets.token_urlsafe(18)


def _empty() -> Block:
    return dict.fromkeys(FIELDS, "")


def _one(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _blocks(form: FormData) -> list[Block]:
    """The events of the form, ``e{N}.{field}``, in the order of their numbers (at most
    ``MAX_EVENTS``; at least one)."""
    found: dict[int, Block] = {}
    for name in form:
        index, dot, field = name[1:].partition(".")
        if not (name.startswith("e") and dot and index.isdigit() and field in FIELDS):
            continue
        if int(index) >= MAX_EVENTS:
            continue
        found.setdefault(int(index), _empty())[field] = (_one(form, name) or "")[:10_000]
    blocks = [found[index] for index in sorted(found)]
    return blocks or [_empty()]
