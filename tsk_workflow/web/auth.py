"""Sign-in: OpenID Connect with the municipality's identity provider, or, on a database on
virtual time (the demo's), a list of its people.

OIDC is the authorization code flow with PKCE (S256) through Authlib, which keeps the state,
nonce and code verifier in the session cookie and checks the ID token: its signature against
the provider's keys, ``iss`` against the issuer configured, ``aud`` against this client, the
``nonce`` against the one sent, and that it has not expired. The claim ``TSK_OIDC_PERSON_CLAIM``
(``email``) must then name exactly one person of an organisation in the database. Whatever
fails gets a page that says what happened, and is recorded among the refused acts of the
municipalities the service holds (``actor`` is what the provider said, or ``oidc``). A provider
that does not answer gets a page too (502), and no record: nobody was refused.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.i18n import _
from tsk_workflow.web.config import OidcSettings
from tsk_workflow.web.pages import after_sign_in, render
from tsk_workflow.web.problem import Problem
from tsk_workflow.web.ratelimit import limit
from tsk_workflow.web.sessions import check_csrf, sign_in, sign_out, signed_in, state_of
from tsk_workflow.web.state import ServiceState, Someone

router = APIRouter(include_in_schema=False)
log = logging.getLogger("tsk_workflow.web")

CLIENT = "provider"
"""The name of the provider's client in Authlib's registry."""


def oauth_for(oidc: OidcSettings) -> Any:
    """Authlib's client for the provider (its metadata read on first use)."""
    from authlib.integrations.starlette_client import OAuth

    oauth = OAuth()
    oauth.register(
        CLIENT,
        client_id=oidc.client_id,
        client_secret=oidc.client_secret,
        server_metadata_url=oidc.discovery_url,
        client_kwargs={"scope": oidc.scopes, "code_challenge_method": "S256"},
    )
    return oauth


@router.get("/signin")
def signin_page(request: Request) -> Response:
    """Where a person without a session lands: sign in with the provider, or pick a person
    of the demo."""
    state = state_of(request)
    if signed_in(request) is not None:
        return RedirectResponse(after_sign_in(request), status_code=303)
    if state.config.oidc is None:
        people = sorted(state.everyone(), key=lambda found: (found[2], found[1].name))
        return render(request, "demo_signin.html", {"people": people})
    return render(request, "signin.html", {})


@router.get("/auth/login")
async def login(request: Request) -> Response:
    import httpx

    limit(request, "signin")
    state = state_of(request)
    if state.config.oidc is None:
        return RedirectResponse("/signin", status_code=303)
    client = request.app.state.oauth.create_client(CLIENT)
    redirect_uri = f"{state.config.base_url}/auth/callback"
    try:
        response: Response = await client.authorize_redirect(request, redirect_uri)
    except httpx.HTTPError as exc:
        raise unreachable(exc) from None
    return response


@router.get("/auth/callback")
async def callback(request: Request) -> Response:
    """The provider's answer: the code exchanged for tokens, the ID token checked, the
    person found."""
    import httpx
    from authlib.integrations.base_client.errors import OAuthError
    from joserfc.errors import JoseError

    limit(request, "signin")
    state = state_of(request)
    oidc = state.config.oidc
    if oidc is None:
        return RedirectResponse("/signin", status_code=303)
    client = request.app.state.oauth.create_client(CLIENT)
    # Authlib checks ``aud`` only when told to: without it a token for another client passed
    # as long as it named this one in ``azp``.
    expected = {
        "iss": {"essential": True, "value": oidc.issuer},
        "aud": {"essential": True, "value": oidc.client_id},
    }
    try:
        token = await client.authorize_access_token(request, claims_options=expected)
    except httpx.HTTPError as exc:
        raise unreachable(exc) from None
    except (OAuthError, JoseError, ValueError) as exc:
        log.info("OIDC sign-in refused: %r", exc)
        reason = oidc_reason(exc)
        record_refusal(state, "oidc", "signin", reason)
        return _refused(request, reason)
    claims: dict[str, Any] = dict(token.get("userinfo") or {})
    if not claims:
        reason = _("the provider sent no ID token")
        record_refusal(state, "oidc", "signin", reason)
        return _refused(request, reason)
    found, who, reason = person_of(state, oidc, claims)
    if found is None:
        record_refusal(state, who, "signin", reason)
        return _refused(request, reason)
    sign_in(request, found)
    return RedirectResponse(after_sign_in(request), status_code=303)


def person_of(
    state: ServiceState, oidc: OidcSettings, claims: dict[str, Any]
) -> tuple[Someone | None, str, str]:
    """The one person the ID token's claims name (``TSK_OIDC_PERSON_CLAIM``); else None, who
    the provider said it was (for the record) and why nobody is signed in."""
    value = claims.get(oidc.person_claim)
    who = str(value) if value else str(claims.get("sub", "oidc"))
    if oidc.person_claim == "email" and claims.get("email_verified") is False:
        reason = _("the provider has not verified the address {email}").format(email=value)
        return None, who, reason
    found = state.people_matching(oidc.person_claim, str(value)) if value else []
    if len(found) != 1:
        return None, who, unmatched(oidc.person_claim, value, len(found))
    return found[0], who, ""


def oidc_reason(exc: Exception) -> str:
    """What went wrong with the provider's answer, in a sentence for the page and the record.

    The callback's ``error_description`` is not shown: anyone can put text in a link to it."""
    from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
    from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, InvalidKeyIdError

    if isinstance(exc, MismatchingStateError):
        return _("the sign-in was not started here, or it was started twice (state mismatch)")
    if isinstance(exc, OAuthError):
        if exc.error == "access_denied":
            return _("the sign-in was cancelled, or the provider did not allow it")
        code = exc.error if re.fullmatch(r"[a-z_]{1,64}", str(exc.error)) else "?"
        return _("the provider refused the sign-in ({error})").format(error=code)
    if isinstance(exc, ExpiredTokenError):
        return _(
            "the ID token has expired: the clocks of the provider and of this service may differ"
        )
    if isinstance(exc, ClaimError):
        if exc.claim == "iss":
            return _("the ID token was not issued by the provider configured here (iss mismatch)")
        if exc.claim in ("aud", "azp"):
            return _("the ID token was issued for another service (aud mismatch)")
        if exc.claim == "nonce":
            return _("the ID token was issued for another sign-in (nonce mismatch)")
        if exc.claim in ("iat", "nbf"):
            return _(
                "the ID token is dated in the future: the clocks of the provider and of this"
                " service may differ"
            )
        return _("the ID token's claim '{claim}' is missing or not valid").format(
            claim=exc.claim[:64]
        )
    if isinstance(exc, BadSignatureError | InvalidKeyIdError):
        return _("the ID token is not signed with the provider's keys")
    return _("the provider's answer could not be read")


def unreachable(exc: Exception) -> Problem:
    """The provider did not answer (its discovery, keys or token endpoint): a page, not a
    refusal; what failed goes to the log."""
    log.warning("the OIDC provider cannot be reached: %r", exc)
    return Problem(
        502, "provider", _("The sign-in provider cannot be reached: try again in a while.")
    )


def unmatched(claim: str, value: object, count: int) -> str:
    if not value:
        return _("the provider did not say who you are (no '{claim}' claim)").format(claim=claim)
    if count == 0:
        return _("{value} ({claim}) is not a person of any organisation here").format(
            value=value, claim=claim
        )
    return _("{value} ({claim}) names {n} people: ask an admin to tell them apart").format(
        value=value, claim=claim, n=count
    )


def record_refusal(state: ServiceState, actor: str, action: str, reason: str) -> None:
    """Record a refused sign-in with each municipality of the database (a sign-in names none
    until the person is found)."""
    for engine in state.engines().values():
        engine.record_refusal(PermissionDenied(actor[:64], action, "service", reason))


def _refused(request: Request, reason: str) -> Response:
    return render(request, "signin_refused.html", {"reason": reason}, status_code=403)


@router.post("/auth/demo")
def demo_signin(
    request: Request,
    person: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The demo's sign-in: only on a database on virtual time without OIDC."""
    state = state_of(request)
    if state.config.oidc is not None or not state.virtual_time:
        raise Problem(404, "http", _("There is nothing at this address."))
    check_csrf(request, csrf_token)
    municipality, _sep, person_id = person.partition(":")
    someone = Someone(municipality, person_id)
    if state.person(someone) is None:
        raise Problem(422, "invalid", _("no such person: {person}").format(person=person))
    sign_in(request, someone)
    return RedirectResponse(after_sign_in(request), status_code=303)


@router.post("/auth/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, csrf_token)
    sign_out(request)
    return RedirectResponse("/signin", status_code=303)
