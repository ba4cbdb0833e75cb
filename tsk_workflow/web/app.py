"""The service's application: the JSON API, sign-in, mail links, the pages, and the
scheduler pass while it runs.

:func:`create_app` puts it together from a :class:`~tsk_workflow.web.state.ServiceState`;
``tsk serve`` runs it on uvicorn. The middleware, outermost first: the security headers, the
signed session cookie, the language of the request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from tsk_workflow.i18n import _
from tsk_workflow.web import (
    api,
    api_actions,
    api_admin,
    api_compliance,
    api_events,
    api_record,
    api_reports,
    auth,
    docs,
    links,
    page_actions,
    page_admin,
    page_audit,
    page_compliance,
    page_cycles,
    page_decisions,
    page_lagesbild,
    page_plan,
    page_report,
    page_reports,
    page_tasks,
    tokens,
)
from tsk_workflow.web.language import Language
from tsk_workflow.web.pages import SignInFirst, sign_in_first
from tsk_workflow.web.problems import install as install_problems
from tsk_workflow.web.ratelimit import new_limiter
from tsk_workflow.web.security import SecurityHeaders
from tsk_workflow.web.sessions import state_of
from tsk_workflow.web.state import ServiceState
from tsk_workflow.web.warned import Warnings

log = logging.getLogger("tsk_workflow.web")

SESSION_COOKIE = "tsk_session"


def create_app(state: ServiceState, *, run_passes: bool = True) -> FastAPI:
    """The service over ``state``; with ``run_passes`` (and a pass interval above 0) it runs
    the scheduler pass while it is up, one replica at a time."""
    config = state.config

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        passes = scheduler_for(state) if run_passes and config.pass_interval > 0 else None
        if passes is not None:
            passes.start()
        try:
            yield
        finally:
            if passes is not None:
                passes.stop()

    app = FastAPI(
        title="tsk-workflow",
        version=_dist_version("tsk-workflow"),
        summary=_("The API of tsk-workflow: the acts and reads of the command line."),
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.tsk = state
    app.state.limiter = new_limiter()
    if config.oidc is not None:
        app.state.oauth = auth.oauth_for(config.oidc)
    install_problems(app)
    app.add_exception_handler(SignInFirst, sign_in_first)
    app.include_router(api.router)
    app.include_router(api_record.router)
    app.include_router(api_admin.router)
    app.include_router(api_events.router)
    app.include_router(api_actions.router)
    app.include_router(api_compliance.router)
    app.include_router(api_reports.router)
    app.include_router(auth.router)
    app.include_router(tokens.router)
    app.include_router(links.router)
    app.include_router(docs.router)
    app.include_router(page_lagesbild.router)
    app.include_router(page_audit.router)
    app.include_router(page_admin.router)
    app.include_router(page_decisions.router)
    app.include_router(page_actions.router)
    app.include_router(page_plan.router)
    app.include_router(page_compliance.router)
    app.include_router(page_reports.router)
    app.include_router(page_cycles.router)
    app.include_router(page_report.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["service"])
    app.include_router(page_tasks.router)
    app.add_api_route("/favicon.ico", no_icon, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    # Added last is outermost: the headers see every answer, the session every request.
    app.add_middleware(Warnings)
    app.add_middleware(Language)
    app.add_middleware(
        SessionMiddleware,
        secret_key=config.secret_key.decode(),
        session_cookie=SESSION_COOKIE,
        max_age=int(config.session_hours * 3600),
        same_site="lax",
        https_only=config.secure,
    )
    app.add_middleware(SecurityHeaders, tls=config.secure, tile_origin=config.map_origin)
    return app


def healthz(request: Request) -> dict[str, Any]:
    """Whether the service is up and reaches its database; answers without sign-in."""
    state = state_of(request)
    return {"status": "ok", "municipalities": sorted(state.engines())}


def no_icon() -> Response:
    """No icon: an empty answer, so that browsers, which ask for one, log no 404 for it."""
    return Response(status_code=204, headers={"cache-control": "max-age=86400"})


def scheduler_for(state: ServiceState) -> Any:
    """The scheduler pass of ``tsk run``, on the service's clock, every ``TSK_PASS_INTERVAL``
    seconds; replicas on one PostgreSQL take turns."""
    from contextlib import AbstractContextManager

    from tsk_workflow.schedpass import sends
    from tsk_workflow.scheduler import Options, Service
    from tsk_workflow.store.locks import one_at_a_time

    def exclusive() -> AbstractContextManager[bool]:
        return one_at_a_time(state.store, "scheduler-pass")

    options = Options(interval=state.config.pass_interval, send=sends(None, state.config.environ))
    engines = state.engines()
    return Service(
        engines,
        options,
        state.clock,
        state.config.environ,
        engines_now=state.engines,
        exclusive=exclusive,
    )
