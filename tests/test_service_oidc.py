"""Signing in to the service (``tsk serve``) through the municipality's OpenID provider, end to
end, on SQLite and PostgreSQL.

The provider is the real oidc-provider (``tests/oidcfixtures.py``), started on 127.0.0.1 with
``http://testserver/auth/callback`` as the service's redirect URI; the service runs in the test's
process through Starlette's ``TestClient`` (its cookie jar is the person's browser on the
service's side), and an ``httpx.Client`` is the same browser on the provider's pages. Herrljunga
is the organisation; Jessica Wahlström's address is the one the provider gives ``jeswah01``.

What the provider says is refused when it should be: an address that is no person's, none at
all, one the provider has not verified, an ID token of another issuer, for another client, of
another sign-in (nonce), expired or dated ahead (the provider's clock off), signed with a key
that is not the provider's, and a callback this browser did not start. Each refusal is a page
that says what happened in the person's language (no exception's name), leaves nobody signed
in, and is recorded among Herrljunga's refused acts. Sign-in and its callback are rate-limited;
a provider that cannot be reached gives a page, not a crash.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.enginekit import Clock, local
from tests.oidcfixtures import DEFAULT_ACCOUNTS, WEB_CLIENT_ID, OIDCFactory, OIDCProvider
from tests.webkit import herrljunga, service_client
from tsk_workflow import i18n
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import RefusedAct
from tsk_workflow.web.app import SESSION_COOKIE
from tsk_workflow.web.ratelimit import LIMITS

CLOCK_START = local(2027, 3, 1)

SERVICE = "http://testserver"
CALLBACK = f"{SERVICE}/auth/callback"
ENGLISH = {"Accept-Language": "en"}

JESSICA = "jessica.wahlstrom"
UNKNOWN_ADDRESS = "okand.person@herrljunga.example.org"
ACCOUNTS: dict[str, dict[str, Any]] = {
    **DEFAULT_ACCOUNTS,
    # Known to the provider, with a verified address that is no person's of Herrljunga.
    "okapet01": {"email": UNKNOWN_ADDRESS, "email_verified": True, "name": "Okänd Person"},
}
NO_EMAIL_LOGIN = "extern.konsult"  # not among the accounts: the provider gives only a sub

SIGNIN_LIMIT = int(LIMITS["signin"].split("/")[0])

EXCEPTION_NAME = re.compile(r"\b[A-Z][A-Za-z]+(Error|Exception)\b")


# ---------------------------------------------------------------- the provider and the service


class Providers:
    """The module's providers, one for each way of behaving, started on first use."""

    def __init__(self, factory: OIDCFactory) -> None:
        self._factory = factory
        self._started: dict[str, OIDCProvider] = {}

    def __call__(self, **misbehaviour: Any) -> OIDCProvider:
        key = json.dumps(misbehaviour, sort_keys=True)
        if key not in self._started:
            self._started[key] = self._factory.start(
                redirect_uris=[CALLBACK], accounts=ACCOUNTS, **misbehaviour
            )
        return self._started[key]

    def stop(self) -> None:
        for provider in self._started.values():
            provider.stop()


@pytest.fixture(scope="module")
def providers(oidc_factory: OIDCFactory) -> Iterator[Providers]:
    started = Providers(oidc_factory)
    yield started
    started.stop()


@pytest.fixture
def provider(providers: Providers) -> OIDCProvider:
    """The provider as it should be."""
    return providers()


def environ(provider: OIDCProvider) -> dict[str, str]:
    return {
        "TSK_OIDC_ISSUER": provider.issuer,
        "TSK_OIDC_CLIENT_ID": provider.client_id,
        "TSK_OIDC_CLIENT_SECRET": provider.client_secret,
        "TSK_BASE_URL": SERVICE,
    }


def service(store: Store, clock: Clock, provider: OIDCProvider) -> TestClient:
    """The service over Herrljunga's database, signing in through ``provider``."""
    herrljunga(store, clock)
    return service_client(store, clock, environ(provider))


@pytest.fixture
def client(store: Store, clock: Clock, provider: OIDCProvider) -> Iterator[TestClient]:
    with service(store, clock, provider) as client:
        yield client


# ---------------------------------------------------------------- the browser's steps


def begin(client: TestClient) -> str:
    """``GET /auth/login``: the provider's authorization URL the service sends the browser to."""
    answer = client.get("/auth/login")
    assert answer.status_code == 302, answer.text
    location: str = answer.headers["location"]
    return location


def at_provider(provider: OIDCProvider, authorize_url: str, login: str) -> str:
    """Sign in as ``login`` on the provider's pages: the callback URL it redirects to."""
    with httpx.Client(timeout=30) as browser:
        return provider.sign_in(browser, authorize_url, login)


def back(
    client: TestClient, callback_url: str, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """The browser follows the provider's redirect to the service's callback."""
    parts = urlsplit(callback_url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK
    answer: httpx.Response = client.get(f"{parts.path}?{parts.query}", headers=headers)
    return answer


def sign_in(
    client: TestClient,
    provider: OIDCProvider,
    login: str,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """The whole sign-in as ``login``: the service's answer to the callback."""
    return back(client, at_provider(provider, begin(client), login), headers)


def signed_in_as(client: TestClient) -> str | None:
    """Who the browser's session is for (None: nobody)."""
    me = client.get("/api/v1/me")
    if me.status_code == 401:
        return None
    assert me.status_code == 200, me.text
    person: str = me.json()["id"]
    return person


def reason_on(page: httpx.Response) -> str:
    found = re.search(r'<p role="alert">(.*?)</p>', page.text, re.DOTALL)
    assert found, f"no reason on the page: {page.text[:2000]}"
    return html.unescape(found.group(1)).strip()


def refusals(store: Store) -> list[RefusedAct]:
    with store.reading() as session:
        return list(session.scalars(select(RefusedAct).order_by(RefusedAct.id)))


def in_swedish(message: str, **values: Any) -> str:
    """``message`` as the Swedish catalogue has it (the English one until it is translated)."""
    with i18n.speaking("sv"):
        return i18n._(message).format(**values)


def assert_refused(
    client: TestClient,
    store: Store,
    page: httpx.Response,
    *,
    reason: str,
    actor: str,
    before: int,
) -> None:
    """A refusal page (403) with ``reason``, nobody signed in, and one refusal recorded."""
    assert page.status_code == 403, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert reason_on(page) == reason
    assert not EXCEPTION_NAME.search(page.text), page.text
    assert signed_in_as(client) is None
    recorded = refusals(store)
    assert len(recorded) == before + 1
    last = recorded[-1]
    assert (last.municipality, last.actor, last.action, last.subject, last.reason) == (
        "herrljunga",
        actor,
        "signin",
        "service",
        reason,
    )


# ---------------------------------------------------------------- signed in


def test_a_person_signs_in_through_the_provider_and_is_named_by_the_api(
    client: TestClient, provider: OIDCProvider, store: Store
) -> None:
    """The provider requires PKCE and gives the tokens only for the verifier of the challenge:
    the service's sign-in getting through is its verifier checked."""
    authorize = begin(client)
    parts = urlsplit(authorize)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    endpoint = provider.metadata()["authorization_endpoint"]
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == endpoint
    assert query["response_type"] == "code"
    assert query["client_id"] == provider.client_id
    assert query["redirect_uri"] == CALLBACK
    assert set(query["scope"].split()) >= {"openid", "email"}
    assert query["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", query["code_challenge"])
    assert len(query["nonce"]) >= 16
    assert len(query["state"]) >= 16

    callback = at_provider(provider, authorize, "jeswah01")
    assert parse_qs(urlsplit(callback).query)["state"] == [query["state"]]
    answer = back(client, callback)

    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in attributes  # plain http here; the TLS case is test_service's
    me = client.get("/api/v1/me").json()
    assert (me["id"], me["name"], me["municipality"]) == (
        JESSICA,
        "Jessica Wahlström",
        "herrljunga",
    )
    assert client.get("/").status_code == 200
    assert refusals(store) == []


# ---------------------------------------------------------------- who the provider says


def test_an_address_that_is_no_persons_is_refused_in_the_language_asked_for(
    client: TestClient, provider: OIDCProvider, store: Store
) -> None:
    message = "{value} ({claim}) is not a person of any organisation here"
    page = sign_in(client, provider, "okapet01")
    assert 'lang="sv"' in page.text
    reason = in_swedish(message, value=UNKNOWN_ADDRESS, claim="email")
    assert_refused(client, store, page, reason=reason, actor=UNKNOWN_ADDRESS, before=0)

    english = sign_in(client, provider, "okapet01", headers=ENGLISH)
    assert 'lang="en"' in english.text
    reason = f"{UNKNOWN_ADDRESS} (email) is not a person of any organisation here"
    assert_refused(client, store, english, reason=reason, actor=UNKNOWN_ADDRESS, before=1)
    assert "Sign-in refused" in english.text


def test_a_sign_in_without_an_address_is_refused(
    client: TestClient, provider: OIDCProvider, store: Store
) -> None:
    assert NO_EMAIL_LOGIN not in ACCOUNTS
    page = sign_in(client, provider, NO_EMAIL_LOGIN, headers=ENGLISH)
    reason = "the provider did not say who you are (no 'email' claim)"
    assert_refused(client, store, page, reason=reason, actor=NO_EMAIL_LOGIN, before=0)


def test_an_address_the_provider_has_not_verified_is_refused(
    client: TestClient, provider: OIDCProvider, store: Store
) -> None:
    """Marie Lind is a person of Herrljunga (an admin), but the provider says her address is
    not verified: anyone could have typed it there."""
    address = ACCOUNTS["marlin01"]["email"]
    assert ACCOUNTS["marlin01"]["email_verified"] is False
    page = sign_in(client, provider, "marlin01", headers=ENGLISH)
    reason = f"the provider has not verified the address {address}"
    assert_refused(client, store, page, reason=reason, actor=address, before=0)


# ---------------------------------------------------------------- what the ID token says

MISBEHAVIOUR: dict[str, tuple[dict[str, Any], str]] = {
    "iss": (
        {"tamper_id_token": {"iss": "http://evil.example.org"}},
        "the ID token was not issued by the provider configured here (iss mismatch)",
    ),
    "aud": (
        {"tamper_id_token": {"aud": "someone-else"}},
        "the ID token was issued for another service (aud mismatch)",
    ),
    # Issued to another client, saying this one may present it: azp alone is not the audience.
    "aud-azp": (
        {"tamper_id_token": {"aud": "someone-else", "azp": WEB_CLIENT_ID}},
        "the ID token was issued for another service (aud mismatch)",
    ),
    "nonce": (
        {"tamper_id_token": {"nonce": "not-the-one-sent"}},
        "the ID token was issued for another sign-in (nonce mismatch)",
    ),
    "expired": (
        {"clock_offset_seconds": -7200},
        "the ID token has expired: the clocks of the provider and of this service may differ",
    ),
    "ahead": (
        {"clock_offset_seconds": 7200},
        "the ID token is dated in the future: the clocks of the provider and of this service"
        " may differ",
    ),
    "signature": (
        {"forge_id_token_signature": True},
        "the ID token is not signed with the provider's keys",
    ),
}


@pytest.mark.parametrize("case", list(MISBEHAVIOUR))
def test_an_id_token_the_service_should_not_trust_is_refused(
    store: Store, clock: Clock, providers: Providers, case: str
) -> None:
    """Each is Jessica's, from the provider the service is configured with, signed with that
    provider's own key (but the forged one): only the service's checks of the token refuse it."""
    misbehaviour, reason = MISBEHAVIOUR[case]
    provider = providers(**misbehaviour)
    with service(store, clock, provider) as client:
        page = sign_in(client, provider, "jeswah01", headers=ENGLISH)
        assert_refused(client, store, page, reason=reason, actor="oidc", before=0)
        assert "Jessica" not in page.text


# ---------------------------------------------------------------- the callback itself


STATE_MISMATCH = "the sign-in was not started here, or it was started twice (state mismatch)"


def test_a_callback_started_in_another_browser_is_refused(
    client: TestClient, provider: OIDCProvider, store: Store
) -> None:
    """Someone signs in at the provider and has another browser open the callback (login CSRF,
    or a stolen callback URL): that browser has no such sign-in pending."""
    callback = at_provider(provider, begin(client), "jeswah01")
    with TestClient(client.app, follow_redirects=False) as other:
        begin(other)  # a sign-in of its own pending, with another state
        page = back(other, callback, headers=ENGLISH)
        assert_refused(other, store, page, reason=STATE_MISMATCH, actor="oidc", before=0)

    assert signed_in_as(client) is None  # nor is the browser that started it, yet
    assert back(client, callback).status_code == 303
    assert signed_in_as(client) == JESSICA


def test_a_callback_replayed_after_use_is_refused(
    client: TestClient, provider: OIDCProvider, store: Store
) -> None:
    callback = at_provider(provider, begin(client), "jeswah01")
    assert back(client, callback).status_code == 303

    # Signed in, the page speaks the person's language (Swedish), whatever the browser asks.
    again = back(client, callback, headers=ENGLISH)
    assert again.status_code == 403
    assert reason_on(again) == in_swedish(STATE_MISMATCH)
    assert signed_in_as(client) == JESSICA  # the session the first answer made, unchanged
    assert [(r.actor, r.reason) for r in refusals(store)] == [("oidc", in_swedish(STATE_MISMATCH))]

    client.cookies.clear()  # the same URL in a browser without the session
    page = back(client, callback, headers=ENGLISH)
    assert_refused(client, store, page, reason=STATE_MISMATCH, actor="oidc", before=1)


def test_a_sign_in_cancelled_at_the_provider_gives_a_clear_page(
    client: TestClient, provider: OIDCProvider, store: Store
) -> None:
    authorize = begin(client)
    with httpx.Client(timeout=30) as browser:
        callback = provider.cancel(browser, authorize)
    answer = parse_qs(urlsplit(callback).query)
    assert answer["error"] == ["access_denied"]

    page = back(client, callback, headers=ENGLISH)
    reason = "the sign-in was cancelled, or the provider did not allow it"
    assert_refused(client, store, page, reason=reason, actor="oidc", before=0)
    assert answer["error_description"][0] not in page.text


def test_an_error_answer_shows_no_text_of_the_links(client: TestClient, store: Store) -> None:
    """The callback's ``error_description`` is anyone's text (a link in a mail can carry it):
    the page does not show it under the service's name."""
    state = parse_qs(urlsplit(begin(client)).query)["state"][0]
    planted = "Ring 08-123 45 67 och uppge ditt BankID"
    query = urlencode({"error": "access_denied", "error_description": planted, "state": state})
    page = client.get(f"/auth/callback?{query}", headers=ENGLISH)
    reason = "the sign-in was cancelled, or the provider did not allow it"
    assert_refused(client, store, page, reason=reason, actor="oidc", before=0)
    assert planted not in page.text
    assert planted not in refusals(store)[-1].reason

    other = urlencode({"error": "temporarily_unavailable", "state": state})
    page = client.get(f"/auth/callback?{other}", headers=ENGLISH)
    reason = "the provider refused the sign-in (temporarily_unavailable)"
    assert_refused(client, store, page, reason=reason, actor="oidc", before=1)


# ---------------------------------------------------------------- limits and outages


def test_sign_in_is_rate_limited_and_the_callback_shares_the_limit(
    client: TestClient, provider: OIDCProvider, store: Store
) -> None:
    authorize = begin(client)
    callback = at_provider(provider, authorize, "jeswah01")
    answers = [client.get("/auth/login").status_code for _ in range(SIGNIN_LIMIT - 1)]
    assert answers == [302] * (SIGNIN_LIMIT - 1)

    limited = client.get("/auth/login", headers=ENGLISH)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "60"
    assert "Too many attempts" in limited.text
    # The callback counts at the same door: even a good one is not taken past the limit.
    assert back(client, callback).status_code == 429
    assert signed_in_as(client) is None
    assert refusals(store) == []


def test_the_callback_is_rate_limited(client: TestClient, store: Store) -> None:
    answers = [
        client.get("/auth/callback?code=guess&state=guess").status_code for _ in range(SIGNIN_LIMIT)
    ]
    assert answers == [403] * SIGNIN_LIMIT
    assert client.get("/auth/callback?code=guess&state=guess").status_code == 429
    assert len(refusals(store)) == SIGNIN_LIMIT  # the one past the limit is not looked at


def test_a_provider_that_cannot_be_reached_gives_a_page(
    store: Store, clock: Clock, oidc_factory: OIDCFactory
) -> None:
    provider = oidc_factory.start(redirect_uris=[CALLBACK], accounts=ACCOUNTS)
    with service(store, clock, provider) as client:
        callback = at_provider(provider, begin(client), "jeswah01")
        provider.stop()
        page = back(client, callback, headers=ENGLISH)
        assert page.status_code == 502, page.text
        assert "The sign-in provider cannot be reached" in page.text
        assert not EXCEPTION_NAME.search(page.text)
        assert signed_in_as(client) is None

    # A service started while it is down: its metadata cannot be read at the sign-in either.
    with service_client(store, clock, environ(provider)) as client:
        page = client.get("/auth/login", headers=ENGLISH)
        assert page.status_code == 502, page.text
        assert "The sign-in provider cannot be reached" in page.text
    assert refusals(store) == []
