"""The dependencies of the API's routes: who is acting, with their engine, and a session of
the database to read in.

A route that reads takes :func:`reader` (the person, their engine and a reading session); one
that acts takes :func:`actor` (the person and their engine: the engine's act opens its own
transaction). Both take the person of the session cookie, or of a personal API token in
``Authorization: Bearer`` (``web/bearer.py``); both refuse without either (401), and
:func:`actor` refuses a request with the cookie that changes something without its CSRF token
(403). A request with a token needs none: no cookie is involved.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request

from tsk_workflow.engine.service import Engine
from tsk_workflow.i18n import _
from tsk_workflow.web import bearer
from tsk_workflow.web.problem import Problem
from tsk_workflow.web.sessions import SAFE_METHODS, check_csrf, signed_in, state_of
from tsk_workflow.web.state import Someone

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session


@dataclass(frozen=True)
class Acting:
    """The person signed in and the engine of their municipality."""

    someone: Someone
    engine: Engine

    @property
    def person(self) -> str:
        return self.someone.person


@dataclass(frozen=True)
class Reading(Acting):
    """:class:`Acting`, with a session of the database to read in."""

    session: Session


def someone(request: Request) -> Someone:
    """The person of the request's API token, else of its session; or a 401 problem."""
    token = bearer.given(request)
    if token is not None:
        return bearer.authenticate(request, token)
    found = signed_in(request)
    if found is None:
        raise Problem(401, "sign-in", _("Sign in first."))
    return found


def acting(
    request: Request,
    who: Annotated[Someone, Depends(someone)],
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Acting:
    if request.method not in SAFE_METHODS and bearer.used(request) is None:
        check_csrf(request, x_csrf_token)
    return Acting(who, state_of(request).engine(who.municipality))


def reading(request: Request, who: Annotated[Someone, Depends(someone)]) -> Iterator[Reading]:
    engine = state_of(request).engine(who.municipality)
    with engine.store.reading() as session:
        yield Reading(who, engine, session)


Actor = Annotated[Acting, Depends(acting)]
Reader = Annotated[Reading, Depends(reading)]
