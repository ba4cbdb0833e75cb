"""Errors as RFC 9457 problem details (``application/problem+json``), in the caller's language;
for a page (outside ``/api``), the same message on a page.

The engine's errors are for people already (``tsk_workflow.errors``): the ``detail`` is the
message the CLI prints, and the status says what kind it is.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.errors import Conflict, NotFound, Refused, TskError
from tsk_workflow.forms import InvalidAnswers
from tsk_workflow.i18n import N_, _, ngettext
from tsk_workflow.web.problem import Problem

PROBLEM = "application/problem+json"
TYPES = "tag:tsk-workflow,2026:problem:"
"""The prefix of this service's problem types (a tag URI: names, not addresses)."""

_TITLES = {
    400: N_("Bad request"),
    401: N_("Sign-in needed"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    409: N_("Conflict"),
    413: N_("Too large"),
    422: N_("Invalid request"),
    429: N_("Too many requests"),
    500: N_("Something went wrong"),
}


def status_of(exc: TskError) -> tuple[int, str]:
    """The HTTP status and kind of an engine error."""
    if isinstance(exc, PermissionDenied):
        return 403, "forbidden"
    if isinstance(exc, NotFound):
        return 404, "not-found"
    if isinstance(exc, Conflict):
        return 409, "conflict"
    if isinstance(exc, Refused):
        return 409, "refused"
    return 422, "invalid"


def problem_body(
    request: Request, status: int, kind: str, detail: str, **extra: Any
) -> dict[str, Any]:
    title = _TITLES.get(status, _TITLES[500 if status >= 500 else 400])
    return {
        "type": f"{TYPES}{kind}",
        "title": _(title),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }


def problem_response(
    request: Request, status: int, kind: str, detail: str, **extra: Any
) -> Response:
    """The problem as JSON under ``/api`` and ``/healthz``; elsewhere a page saying it."""
    body = problem_body(request, status, kind, detail, **extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    if not _wants_page(request):
        return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)
    from tsk_workflow.web.pages import render

    page = render(request, "problem.html", {"problem": body}, status_code=status)
    page.headers.update(headers)
    return page


def _wants_page(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api") or path == "/healthz")


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(request, exc.status, exc.kind, exc.detail, **exc.extra)

    async def on_tsk_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TskError)
        if isinstance(exc, InvalidAnswers):
            errors = [{"field": p.key, "message": p.message} for p in exc.problems]
            return problem_response(request, 422, "invalid-answers", str(exc), errors=errors)
        status, kind = status_of(exc)
        problems = getattr(exc, "problems", None)
        extra = {"errors": problems} if isinstance(problems, list) and len(problems) > 1 else {}
        return problem_response(request, status, kind, str(exc), **extra)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else _(_TITLES.get(exc.status_code, ""))
        if exc.status_code == 404 and detail == "Not Found":
            detail = _("There is nothing at this address.")
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            detail = _("This address does not take that method.")
        return problem_response(request, exc.status_code, "http", detail)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(part) for part in error["loc"][1:]), "message": error["msg"]}
            for error in exc.errors()
        ]
        detail = ngettext(
            "The request has {n} invalid value.", "The request has {n} invalid values.", len(errors)
        ).format(n=len(errors))
        return problem_response(request, 422, "invalid", detail, errors=errors)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(TskError, on_tsk_error)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
