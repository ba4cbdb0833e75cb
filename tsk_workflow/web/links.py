"""The links in task mail: ``GET /t/{token}`` shows the task, ``POST /t/{token}`` completes it.

A link (``tsk_workflow.links``) lets its person see and complete that one task without signing
in, until it expires or the task is done. ``GET`` changes nothing, so a mail filter that
follows links completes nothing; completing is a form posted with the page's CSRF token, and
the engine records it as the person, ``via: e-postlänk``. A link to a task that is done,
cancelled or no longer the person's says so. A tampered or expired link, or one used again
after its task was done, gets a page saying what happened and is recorded as a refusal.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tsk_workflow import forms, i18n, links
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import NotFound, Refused
from tsk_workflow.forms import InvalidAnswers
from tsk_workflow.i18n import _
from tsk_workflow.links import LinkClaims, LinkRefused
from tsk_workflow.web.pages import render
from tsk_workflow.web.problem import Problem
from tsk_workflow.web.ratelimit import limit
from tsk_workflow.web.sessions import check_csrf, signed_in, state_of
from tsk_workflow.web.state import ServiceState, Someone

router = APIRouter(include_in_schema=False)

_STATUS = {"tampered": 403, "expired": 410, "replayed": 409}


@router.get("/t/{token}")
def show(request: Request, token: str) -> Response:
    limit(request, "link")
    state = state_of(request)
    claims = _claims(request, state, token)
    if isinstance(claims, Response):
        return claims
    someone = signed_in(request)
    if someone == Someone(claims.municipality, claims.person):
        # Signed in already as the link's person: the task's own page, with its attachments.
        return RedirectResponse(f"/tasks/{claims.task}", status_code=303)
    engine = state.engine(claims.municipality)
    return _page(request, engine, claims, token)


@router.post("/t/{token}")
async def complete(request: Request, token: str) -> Response:
    limit(request, "link")
    state = state_of(request)
    form = await request.form()
    check_csrf(request, _one(form, "csrf_token"))
    claims = _claims(request, state, token)
    if isinstance(claims, Response):
        return claims
    engine = state.engine(claims.municipality)
    return await _complete(request, engine, claims, token, form)


async def _complete(
    request: Request, engine: Engine, claims: LinkClaims, token: str, form: FormData
) -> Response:
    from starlette.concurrency import run_in_threadpool

    nothing = _one(form, "nothing_to_report") == "1"
    note = (_one(form, "note") or "").strip() or None
    answers = None if nothing else _answers(form)
    try:
        await run_in_threadpool(
            lambda: engine.complete_task(
                claims.person,
                claims.task,
                note,
                answers,
                nothing_to_report=nothing,
                via=links.VIA,
            )
        )
    except InvalidAnswers as exc:
        errors = {p.key: p.message for p in exc.problems}
        return _page(request, engine, claims, token, given=answers or {}, errors=errors, note=note)
    except NotFound:
        raise Problem(404, "not-found", _("The task of this link is no longer there.")) from None
    except Refused as exc:
        with engine.store.reading() as session:
            status = engine.find_task(session, claims.task).status
        if status != "open":
            refusal = links.replayed(claims, status)
            engine.refuse_link(
                "replayed", claims.task, claims.person, str(refusal), token_id=refusal.token_id
            )
            # Recorded as a replay, but shown as what the task is now: most often the second
            # submit of a double click, whose person needs "done", not an alarm.
            return _page(request, engine, claims, token, replayed=True)
        return _page(request, engine, claims, token, refused=str(exc), given=answers or {})
    return _page(request, engine, claims, token, completed=True)


def _claims(request: Request, state: ServiceState, token: str) -> LinkClaims | Response:
    """The token's claims, or the page of a refused link (recorded)."""
    settings = state.config.links
    if settings is None:
        raise Problem(404, "not-found", _("Links in mail are turned off here."))
    try:
        return links.read_token(settings, token, state.clock())
    except LinkRefused as exc:
        engines = state.engines()
        claimed = exc.claims
        if claimed is not None and claimed.municipality in engines:
            recorders = [engines[claimed.municipality]]
        else:  # a tampered token names no municipality to be believed: tell each
            recorders = list(engines.values())
        for engine in recorders:
            engine.refuse_link(
                exc.kind,
                claimed.task if claimed else None,
                claimed.person if claimed else None,
                str(exc),
                token_id=exc.token_id,
            )
        return _refused(request, exc)


def _refused(request: Request, exc: LinkRefused) -> Response:
    return render(
        request,
        "link_refused.html",
        {"reason": str(exc), "kind": exc.kind},
        status_code=_STATUS.get(exc.kind, 403),
    )


def _page(
    request: Request,
    engine: Engine,
    claims: LinkClaims,
    token: str,
    *,
    given: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    note: str | None = None,
    refused: str | None = None,
    completed: bool = False,
    replayed: bool = False,
) -> Response:
    """The task as its link shows it: open (with its form), or what became of it."""
    lang = i18n.language()
    with engine.store.reading() as session:
        task = engine.find_task(session, claims.task)
        cycle = task.cycle
        assignees = [a.person for a in task.assignees]
        group = engine.org.group(cycle.group_key)
        chair = group is not None and engine.directory.is_chair(claims.person, group)
        state = links.link_state(claims, task.status, assignees, may_complete=chair)
        definition = engine.definition_for(session, cycle.process, cycle.process_digest)
        task_def = forms.task_definition(definition, task.step, task.key)
        form = task_def.form if task_def is not None else None
        person = engine.org.person(claims.person)
        context = {
            "token": token,
            "state": state,
            "completed": completed,
            "person": person.name if person is not None else claims.person,
            "task": task,
            "cycle": cycle,
            "title": task_def.title.get(lang) if task_def is not None else task.title,
            "description": (
                task_def.description.get(lang) if task_def and task_def.description else None
            ),
            "form": forms.form_json(form, engine.org, lang) if form is not None else None,
            "given": given or {},
            "errors": errors or {},
            "note": note or "",
            "refused": refused,
            "expires": claims.expires_at,
            "zone": engine.cal.zone,
        }
    status = 422 if errors else (409 if refused or replayed else 200)
    return render(request, "link_task.html", context, status_code=status)


def _one(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _answers(form: FormData) -> dict[str, Any] | None:
    """The form's answers as the engine takes them: ``a.KEY`` fields, the values ticked of a
    ``choices`` question as a list; None when nothing was answered."""
    found: dict[str, Any] = {}
    for name in {key for key in form if key.startswith("a.")}:
        values = [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]
        if values:
            found[name[2:]] = values if len(values) > 1 else values[0]
    return found or None
