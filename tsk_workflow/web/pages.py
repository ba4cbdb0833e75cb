"""Pages rendered on the server: Jinja2, in the sandbox, in the language of the request.

Every page extends ``base.html.j2``: the language in ``<html lang>``, the person signed in, the
menu of what they may see, the CSRF token for the forms that change something, and no inline
script or style (the CSP allows neither, ``web/security.py``).

A page's route takes :data:`PageReader` (the person signed in, their engine and a reading
session) or :data:`PageActor` (the same without the session, for a form that acts: its CSRF
field checked). Without a session either sends the browser to sign in and back
(:class:`SignInFirst`); the API's dependencies answer 401 instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import tzinfo
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tsk_workflow import i18n
from tsk_workflow.engine import access
from tsk_workflow.engine.compliance import may_read
from tsk_workflow.i18n import N_
from tsk_workflow.templating import sandboxed
from tsk_workflow.web.deps import Acting, Reading
from tsk_workflow.web.sessions import check_csrf, signed_in, state_of
from tsk_workflow.web.state import Someone


@cache
def environment() -> ImmutableSandboxedEnvironment:
    env = sandboxed(
        extensions=["jinja2.ext.i18n"],
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n._, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext
    )
    env.filters.update(when=when, day=day, week=week)
    return env


def when(moment: dt.datetime | None, zone: tzinfo) -> str:
    """A moment as people read it in Sweden, in the organisation's zone: ``2027-03-14 09:30``."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment is not None else "–"


def day(moment: dt.datetime | dt.date | None, zone: tzinfo | None = None) -> str:
    """The day of a moment (or a date): ``2027-03-14``."""
    if moment is None:
        return "–"
    if isinstance(moment, dt.datetime) and zone is not None:
        moment = moment.astimezone(zone)
    return moment.strftime("%Y-%m-%d")


def week(moment: dt.datetime | dt.date, zone: tzinfo | None = None) -> str:
    """The ISO week of a moment as Swedes say it: ``vecka 11``."""
    if isinstance(moment, dt.datetime) and zone is not None:
        moment = moment.astimezone(zone)
    return i18n._("week {n}").format(n=moment.isocalendar().week)


COMPLIANCE = "compliance"


@dataclass(frozen=True)
class MenuItem:
    path: str
    label: str


MENU: tuple[tuple[str, str, str | None], ...] = (
    ("/tasks", N_("My tasks"), None),
    ("/report", N_("Report an event"), None),
    ("/cycles", N_("Cycles"), None),
    ("/plan", N_("Year plan"), None),
    ("/decisions", N_("Decisions"), None),
    ("/actions", N_("Actions"), None),
    ("/lagesbild", N_("Lägesbild"), None),
    ("/compliance", N_("What the law asks"), COMPLIANCE),
    ("/reports", N_("Reports"), COMPLIANCE),
    ("/audit", N_("Audit"), access.READ_AUDIT),
    ("/admin", N_("Administration"), "admin"),
)
"""The menu: path, label, and what a person must hold to see it (a permission, ``admin``, or
``compliance``: whom ``engine.compliance.may_read`` lets see it)."""


def menu(request: Request, someone: Someone | None) -> list[MenuItem]:
    """The menu items the person signed in may use (none before sign-in)."""
    if someone is None:
        return []
    org = state_of(request).engine(someone.municipality).org
    items = []
    for path, label, needs in MENU:
        if needs == "admin" and someone.person not in org.admins:
            continue
        if needs == COMPLIANCE and not may_read(org, someone.person):
            continue
        if needs not in (None, "admin", COMPLIANCE) and not access.has_permission(
            org, someone.person, needs
        ):
            continue
        items.append(MenuItem(path, i18n._(label)))
    return items


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """The page ``name`` (``templates/NAME.j2``) with ``context`` and what every page shows."""
    from tsk_workflow.web.sessions import csrf_token

    someone = signed_in(request) if "session" in request.scope else None
    person = state_of(request).person(someone) if someone is not None else None
    values = {
        "lang": i18n.language(),
        "csrf": csrf_token(request),
        "who": person.name if person is not None else None,
        "menu": menu(request, someone),
        "here": request.url.path,
        **context,
    }
    html = environment().get_template(f"{name}.j2").render(values)
    return HTMLResponse(html, status_code=status_code)


class SignInFirst(Exception):
    """A page asked for without a session: sign in, then come back to ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def sign_in_first(request: Request, exc: Exception) -> Response:
    """The browser sent to sign in; where it was going is kept for after."""
    assert isinstance(exc, SignInFirst)
    request.session["next"] = exc.path
    return RedirectResponse("/signin", status_code=303)


def after_sign_in(request: Request) -> str:
    """Where a browser goes once signed in: the page it asked for (a path of this service
    only), else the start page."""
    path = request.session.pop("next", None)
    if isinstance(path, str) and path.startswith("/") and not path.startswith("//"):
        return path
    return "/"


def _someone(request: Request) -> Someone:
    found = signed_in(request)
    if found is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise SignInFirst(request.url.path + (query if request.method == "GET" else ""))
    return found


def page_reading(request: Request) -> Iterator[Reading]:
    who = _someone(request)
    engine = state_of(request).engine(who.municipality)
    with engine.store.reading() as session:
        yield Reading(who, engine, session)


PENDING_CHARS = 3000
"""The most text of a form kept across a sign-in (the session is a cookie of about 4 KB)."""


async def page_acting(request: Request) -> Acting:
    """The person of a page's form that acts; its ``csrf_token`` field checked (403).

    A form posted after the session ended is not lost: its text fields are kept in the new
    session (up to :data:`PENDING_CHARS`), the browser signs in and comes back to the page,
    which shows them again (:func:`pending_fields`) to be checked and sent anew."""
    form = await request.form()
    if signed_in(request) is None:
        fields = [
            [name, value]
            for name, value in form.multi_items()
            if isinstance(value, str) and name not in ("csrf_token", "form_id")
        ]
        if sum(len(name) + len(value) for name, value in fields) <= PENDING_CHARS:
            request.session["pending"] = {"path": request.url.path, "fields": fields}
    who = _someone(request)
    token = form.get("csrf_token")
    check_csrf(request, token if isinstance(token, str) else None)
    return Acting(who, state_of(request).engine(who.municipality))


def pending_fields(request: Request) -> list[tuple[str, str]] | None:
    """The fields of a form this page posted when the session had ended, once: the page
    fills them in again; None when there are none."""
    pending = request.session.get("pending")
    if not (isinstance(pending, dict) and pending.get("path") == request.url.path):
        return None
    del request.session["pending"]
    fields = pending.get("fields")
    if not isinstance(fields, list):
        return None
    return [(str(pair[0]), str(pair[1])) for pair in fields if len(pair) == 2]


PageReader = Annotated[Reading, Depends(page_reading)]
PageActor = Annotated[Acting, Depends(page_acting)]
