"""Personal API tokens (``tsk login``): made, and read from ``Authorization: Bearer``.

A token is ``tsk_`` and 32 random bytes (URL-safe base64). The service keeps only its SHA-256
(``store.tokens``), so a copy of the database lets nobody act as anyone. A request that carries
a token acts as the token's person while the token is neither revoked nor expired and its
person is still in their organisation; it needs no CSRF token (no cookie is involved: a browser
never sends an ``Authorization`` header to another site by itself). A token that fails is
answered 401, and the refusal is kept with the refused acts (with its person's municipality,
or, for a token that is not one of ours, with every municipality's); past the door's rate limit
the refusals are answered 429 and not kept.

Tokens live on the wall clock, as the ID tokens they are made from: a database on virtual time
(the demo's) moves its own clock, not the tokens' expiry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from fastapi import Request

from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.i18n import _
from tsk_workflow.store import tokens
from tsk_workflow.store.tokens import TokenRow
from tsk_workflow.web.problem import Problem
from tsk_workflow.web.ratelimit import limit
from tsk_workflow.web.sessions import state_of
from tsk_workflow.web.state import ServiceState, Someone

PREFIX = "tsk_"
NOTE_USE_EVERY = dt.timedelta(minutes=1)
"""``last_used_at`` is written at most this often for one token."""
MAX_LENGTH = 200


def wall_clock() -> dt.datetime:
    """The time tokens are made and checked at: the real one, whatever the database's."""
    return dt.datetime.now(dt.UTC)


def new_token() -> tuple[str, str]:
    """A new token and its SHA-256 (what is kept)."""
    token = PREFIX + secrets.token_urlsafe(32)
    return token, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def given(request: Request) -> str | None:
    """The bearer token of the request, if it carries one."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _sep, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def used(request: Request) -> TokenRow | None:
    """The token the request was authenticated with (None: a session, or nobody)."""
    found = getattr(request.state, "api_token", None)
    return found if isinstance(found, TokenRow) else None


def authenticate(request: Request, token: str) -> Someone:
    """The person of ``token``, or a 401 problem (the refusal kept)."""
    state = state_of(request)
    now = wall_clock()
    found = None
    if token.startswith(PREFIX) and len(token) <= MAX_LENGTH:
        found = tokens.find(state.store, digest(token))
    if found is None:
        reason = _("the token is not one this service issued, or it has been changed")
    elif found.revoked_at is not None:
        reason = _("the token was revoked (tsk logout)")
    elif found.expires_at <= now:
        reason = _("the token expired on {date}").format(date=found.expires_at.date().isoformat())
    else:
        someone = Someone(found.municipality, found.person)
        if state.person(someone) is not None:
            if found.last_used_at is None or found.last_used_at <= now - NOTE_USE_EVERY:
                tokens.note_use(state.store, found.id, now, NOTE_USE_EVERY)
            request.state.api_token = found
            return someone
        reason = _("{person} is no longer a person of the organisation").format(person=found.person)
    # Past the door's limit nothing more is kept: a flood of bad tokens fills no table.
    limit(request, "token")
    _record(state, found, request.url.path, reason)
    raise Problem(
        401,
        "token",
        _("The API token is refused: {reason}.").format(reason=reason),
    )


def _record(state: ServiceState, found: TokenRow | None, path: str, reason: str) -> None:
    refusal = PermissionDenied(found.person if found else "token", "api.token", path, reason)
    engines = state.engines()
    if found is not None and found.municipality in engines:
        engines[found.municipality].record_refusal(refusal)
        return
    for engine in engines.values():
        engine.record_refusal(refusal)
