"""Who is signed in: the session cookie, and the CSRF token of its forms.

The session lives in a cookie signed with the service's secret key (Starlette's
``SessionMiddleware``, itsdangerous): HttpOnly, ``Secure`` when the service is reached over
TLS, ``SameSite=Lax``, and it ends after ``TSK_SESSION_HOURS``. It holds the person (their
municipality and id), the CSRF token and the language; nothing else about them. Every request
that changes something with the cookie carries the token: in the ``X-CSRF-Token`` header (the
API) or a ``csrf_token`` form field (the pages), compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import Request

from tsk_workflow.i18n import _
from tsk_workflow.web.problem import Problem
from tsk_workflow.web.state import ServiceState, Someone

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def state_of(request: Request) -> ServiceState:
    found: ServiceState = request.app.state.tsk
    return found


def sign_in(request: Request, someone: Someone) -> None:
    """Start a session for ``someone``: a new CSRF token, since a session is never reused;
    only the page the browser was going to (``next``) and the form it had posted when the
    session had ended (``pending``, ``web/pages.py``) are kept from before."""
    going, pending = request.session.get("next"), request.session.get("pending")
    request.session.clear()
    request.session.update(
        {
            "municipality": someone.municipality,
            "person": someone.person,
            "csrf": secrets.token_urlsafe(32),
        }
    )
    if isinstance(going, str):
        request.session["next"] = going
    if isinstance(pending, dict):
        request.session["pending"] = pending
    person = state_of(request).person(someone)
    if person is not None:
        request.session["lang"] = person.language


def sign_out(request: Request) -> None:
    request.session.clear()


def signed_in(request: Request) -> Someone | None:
    """The person of the session, while they are still a person of their organisation."""
    session: dict[str, Any] = request.session
    municipality, person = session.get("municipality"), session.get("person")
    if not (isinstance(municipality, str) and isinstance(person, str)):
        return None
    someone = Someone(municipality, person)
    return someone if state_of(request).person(someone) is not None else None


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use, so a page before sign-in has one too)."""
    if "session" not in request.scope:
        return ""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, given: str | None) -> None:
    """Refuse a request that changes something without the session's token (403)."""
    expected = request.session.get("csrf")
    if not (isinstance(expected, str) and given and hmac.compare_digest(expected, given)):
        raise Problem(
            403,
            "csrf",
            _(
                "The form or request is missing its security token, or it is out of date:"
                " reload the page and try again."
            ),
        )
