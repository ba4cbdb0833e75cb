"""The command line's sign-in (``tsk login``): personal API tokens for an ID token.

``tsk login`` signs the person in at the provider with the device authorization grant, as the
command line's own public client (``TSK_OIDC_CLI_CLIENT_ID``), and posts the ID token it gets
here. The service checks it itself against the provider's published keys (its discovery
document's ``jwks_uri``): the signature, ``iss`` the issuer configured, ``aud`` the command
line's client, not expired (on the wall clock). The person claim is then matched exactly as at
the browser's sign-in (``auth.person_of``). What fails is answered as a problem (403) and kept
with the refused acts; the door is rate-limited. What passes gets a personal API token
(``web/bearer.py``), valid ``TSK_TOKEN_DAYS`` days.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from tsk_workflow.i18n import _
from tsk_workflow.store import tokens
from tsk_workflow.web import bearer
from tsk_workflow.web.auth import oidc_reason, person_of, record_refusal, unreachable
from tsk_workflow.web.config import OidcSettings
from tsk_workflow.web.deps import Actor, someone
from tsk_workflow.web.problem import Problem
from tsk_workflow.web.ratelimit import limit
from tsk_workflow.web.sessions import state_of
from tsk_workflow.web.state import Someone

router = APIRouter(prefix="/api/v1", tags=["tokens"])
log = logging.getLogger("tsk_workflow.web")

LEEWAY = 60
"""Seconds the provider's clock and this service's may differ."""
REFETCH_AFTER = 60.0
"""Seconds before the provider's keys are fetched again for a key id not among them."""


class ProviderKeys:
    """The provider's signing keys, from its discovery document, fetched on first use; again
    when an ID token names a key that is not among them (the provider rolled its keys), at
    most once a minute."""

    def __init__(self, oidc: OidcSettings) -> None:
        self.oidc = oidc
        self._lock = threading.Lock()
        self._keys: Any = None
        self._algorithms: list[str] = []
        self._fetched = 0.0

    def decode(self, id_token: str) -> Any:
        """The ID token, its signature checked (``joserfc``'s errors otherwise)."""
        from joserfc import jwt
        from joserfc.errors import InvalidKeyIdError

        keys, algorithms = self._current(refresh=False)
        try:
            return jwt.decode(id_token, keys, algorithms=algorithms)
        except InvalidKeyIdError:
            if time.monotonic() - self._fetched < REFETCH_AFTER:
                raise
        keys, algorithms = self._current(refresh=True)
        return jwt.decode(id_token, keys, algorithms=algorithms)

    def _current(self, *, refresh: bool) -> tuple[Any, list[str]]:
        import httpx
        from joserfc.jwk import KeySet

        with self._lock:
            if self._keys is None or refresh:
                metadata = httpx.get(self.oidc.discovery_url, timeout=10).raise_for_status().json()
                jwks = httpx.get(metadata["jwks_uri"], timeout=10).raise_for_status().json()
                self._keys = KeySet.import_key_set(jwks)
                offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
                # Only signatures with the provider's published keys: no "none", no shared
                # secret (the command line's client has none).
                self._algorithms = [
                    alg for alg in offered if alg != "none" and not alg.startswith("HS")
                ]
                self._fetched = time.monotonic()
            return self._keys, self._algorithms


class TokenRequest(BaseModel):
    """An ID token from the device authorization grant, and a label for the token (the
    command line sends its host name)."""

    id_token: str = Field(min_length=1, max_length=20_000)
    label: str = Field("", max_length=100)


def _cli_client(request: Request) -> OidcSettings:
    oidc = state_of(request).config.oidc
    if oidc is None or not oidc.cli_client_id:
        raise Problem(
            404,
            "no-cli-sign-in",
            _(
                "This service does not sign in the command line: its administrator has not set"
                " TSK_OIDC_CLI_CLIENT_ID."
            ),
        )
    return oidc


@router.get("/auth/cli", summary="What the command line needs to sign in (no session needed)")
def cli_sign_in(request: Request) -> dict[str, Any]:
    oidc = _cli_client(request)
    return {"issuer": oidc.issuer, "client_id": oidc.cli_client_id, "scopes": oidc.scopes}


@router.post(
    "/tokens",
    status_code=201,
    summary="A personal API token for an ID token of the device flow (no session needed)",
)
def issue_token(request: Request, body: TokenRequest) -> dict[str, Any]:
    import httpx
    from authlib.oidc.core import IDToken
    from joserfc.errors import JoseError

    limit(request, "token")
    oidc = _cli_client(request)
    state = state_of(request)
    keys = getattr(request.app.state, "provider_keys", None)
    if keys is None:
        keys = request.app.state.provider_keys = ProviderKeys(oidc)
    try:
        decoded = keys.decode(body.id_token)
        claims = IDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": oidc.issuer},
                "aud": {"essential": True, "value": oidc.cli_client_id},
            },
            {"client_id": oidc.cli_client_id},
        )
        # The wall clock: the ID token's times are the provider's real ones, whatever clock
        # the database runs on.
        claims.validate(now=int(time.time()), leeway=LEEWAY)
    except (httpx.HTTPError, KeyError) as exc:  # KeyError: a discovery without jwks_uri
        raise unreachable(exc) from None
    except (JoseError, ValueError) as exc:
        log.info("an ID token for an API token refused: %r", exc)
        reason = oidc_reason(exc)
        record_refusal(state, "oidc", "token", reason)
        raise Problem(403, "signin", reason) from None
    found, who, reason = person_of(state, oidc, dict(claims))
    if found is None:
        record_refusal(state, who, "token", reason)
        raise Problem(403, "signin", reason)
    token, hashed = bearer.new_token()
    now = bearer.wall_clock()
    label = "".join(c for c in body.label if c.isprintable())
    row = tokens.issue(
        state.store,
        token_hash=hashed,
        municipality=found.municipality,
        person=found.person,
        label=label,
        now=now,
        expires_at=now + dt.timedelta(days=state.config.token_days),
    )
    person = state.person(found)
    engine = state.engine(found.municipality)
    return {
        "token": token,
        "id": row.id,
        "person": found.person,
        "name": person.name if person is not None else found.person,
        "municipality": found.municipality,
        "organisation": engine.org.name,
        "expires_at": row.expires_at.isoformat(),
    }


@router.get("/tokens", summary="My API tokens (never the tokens themselves)")
def my_tokens(request: Request, who: Annotated[Someone, Depends(someone)]) -> list[dict[str, Any]]:
    current = bearer.used(request)
    rows = tokens.of_person(state_of(request).store, who.municipality, who.person)
    return [
        row.to_dict() | {"current": current is not None and row.id == current.id} for row in rows
    ]


@router.delete("/tokens/current", summary="Revoke the API token of this request (tsk logout)")
def revoke_current(request: Request, actor: Actor) -> dict[str, Any]:
    current = bearer.used(request)
    if current is None:
        raise Problem(
            400,
            "invalid",
            _("Only a request made with an API token can revoke it: this one has none."),
        )
    return _revoke(request, actor.someone, current.id)


@router.delete("/tokens/{token_id}", summary="Revoke one of my API tokens")
def revoke(token_id: int, request: Request, actor: Actor) -> dict[str, Any]:
    return _revoke(request, actor.someone, token_id)


def _revoke(request: Request, who: Someone, token_id: int) -> dict[str, Any]:
    store = state_of(request).store
    if not tokens.revoke(store, who.municipality, who.person, token_id, bearer.wall_clock()):
        raise Problem(
            404, "not-found", _("You have no API token {id} in force.").format(id=token_id)
        )
    return {"id": token_id, "revoked": True}
