"""The OpenID provider of the tests (tests/oidcfixtures.py) is real and usable.

Each test signs in as a browser would, against oidc-provider on 127.0.0.1, with Authlib as the
relying party: the flows ``tsk serve`` (the code flow with PKCE) and the command line (the device
authorization grant) will use. Its misbehaviour for the service's tests (a clock behind, ID tokens
with changed claims signed again, or signed with a forger's key) is checked here on what the
provider signs.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError
from joserfc.jwk import KeySet

from tests.oidcfixtures import DEVICE_CODE_GRANT, OIDCFactory, OIDCProvider

SCOPE = "openid email profile"


def web_client(provider: OIDCProvider) -> OAuth2Client:
    """``tsk serve``'s side: the confidential client, PKCE with S256."""
    return OAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        scope=SCOPE,
        redirect_uri=provider.redirect_uris[0],
        code_challenge_method="S256",
        timeout=30,
    )


def id_token_claims(
    provider: OIDCProvider, token: dict[str, Any], client_id: str, nonce: str | None
) -> CodeIDToken:
    """The token's ID token, its signature checked with the provider's JWKS, validated."""
    metadata = provider.metadata()
    keys = KeySet.import_key_set(httpx.get(metadata["jwks_uri"], timeout=10).json())
    decoded = jwt.decode(
        token["id_token"], keys, algorithms=metadata["id_token_signing_alg_values_supported"]
    )
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {
            "iss": {"essential": True, "value": provider.issuer},
            "aud": {"essential": True, "value": client_id},
        },
        {"client_id": client_id, "nonce": nonce, "access_token": token["access_token"]},
    )
    claims.validate()
    return claims


def sign_in_with_code(
    provider: OIDCProvider, login: str, *, pkce: bool = True
) -> tuple[OAuth2Client, str, str, str]:
    """Start a code flow and sign in: the client, the callback URL, the verifier and the nonce."""
    client = web_client(provider)
    verifier = generate_token(48)
    nonce = secrets.token_urlsafe(16)
    url, _state = client.create_authorization_url(
        provider.metadata()["authorization_endpoint"],
        code_verifier=verifier if pkce else None,
        nonce=nonce,
    )
    with httpx.Client(timeout=30) as browser:
        callback = provider.sign_in(browser, url, login)
    return client, callback, verifier, nonce


def test_discovery_names_the_issuer_and_requires_s256(oidc_provider: OIDCProvider) -> None:
    document = httpx.get(oidc_provider.discovery_url, timeout=10).json()

    assert document["issuer"] == oidc_provider.issuer
    assert oidc_provider.issuer.startswith("http://127.0.0.1:")
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert DEVICE_CODE_GRANT in document["grant_types_supported"]
    assert "revocation_endpoint" in document


def test_code_flow_with_pkce_gives_a_valid_id_token_with_the_email(
    oidc_provider: OIDCProvider,
) -> None:
    account = oidc_provider.accounts["jeswah01"]
    client, callback, verifier, nonce = sign_in_with_code(oidc_provider, "jeswah01")
    assert callback.startswith(oidc_provider.redirect_uris[0] + "?")

    with client:
        token = client.fetch_token(
            oidc_provider.metadata()["token_endpoint"],
            authorization_response=callback,
            code_verifier=verifier,
        )
    claims = id_token_claims(oidc_provider, token, oidc_provider.client_id, nonce)

    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == oidc_provider.client_id
    assert claims["nonce"] == nonce
    assert claims["sub"] == account["sub"]
    assert claims["email"] == account["email"]
    assert claims["email_verified"] is True
    assert claims["name"] == account["name"]


def test_the_token_endpoint_refuses_a_code_without_its_verifier(
    oidc_provider: OIDCProvider,
) -> None:
    client, callback, _verifier, _nonce = sign_in_with_code(oidc_provider, "hannyb01")

    with client, pytest.raises(OAuthError) as refused:
        client.fetch_token(
            oidc_provider.metadata()["token_endpoint"], authorization_response=callback
        )

    assert refused.value.error == "invalid_grant"


def test_an_authorization_request_without_pkce_is_refused(oidc_provider: OIDCProvider) -> None:
    client, callback, _verifier, _nonce = sign_in_with_code(oidc_provider, "hannyb01", pkce=False)
    client.close()

    answer = parse_qs(urlsplit(callback).query)
    assert answer["error"] == ["invalid_request"]
    assert "PKCE" in answer["error_description"][0]
    assert "code" not in answer


def test_an_unknown_login_gets_an_id_token_without_email(oidc_provider: OIDCProvider) -> None:
    assert "okand.person" not in oidc_provider.accounts
    client, callback, verifier, nonce = sign_in_with_code(oidc_provider, "okand.person")

    with client:
        token = client.fetch_token(
            oidc_provider.metadata()["token_endpoint"],
            authorization_response=callback,
            code_verifier=verifier,
        )
    claims = id_token_claims(oidc_provider, token, oidc_provider.client_id, nonce)

    assert claims["sub"] == "okand.person"
    assert "email" not in claims
    assert "name" not in claims


def test_cancelling_at_the_login_page_answers_access_denied(oidc_provider: OIDCProvider) -> None:
    client = web_client(oidc_provider)
    url, state = client.create_authorization_url(
        oidc_provider.metadata()["authorization_endpoint"],
        code_verifier=generate_token(48),
        nonce=secrets.token_urlsafe(16),
    )
    client.close()
    with httpx.Client(timeout=30) as browser:
        callback = oidc_provider.cancel(browser, url)

    assert callback.startswith(oidc_provider.redirect_uris[0] + "?")
    answer = parse_qs(urlsplit(callback).query)
    assert answer["error"] == ["access_denied"]
    assert answer["state"] == [state]
    assert "code" not in answer


def test_device_authorization_grant(oidc_provider: OIDCProvider) -> None:
    metadata = oidc_provider.metadata()
    account = oidc_provider.accounts["hannyb01"]
    started = httpx.post(
        metadata["device_authorization_endpoint"],
        data={"client_id": oidc_provider.device_client_id, "scope": SCOPE},
        timeout=30,
    )
    started.raise_for_status()
    device = started.json()

    with httpx.Client(timeout=30) as browser:
        oidc_provider.approve_device(browser, device["verification_uri_complete"], "hannyb01")

    with OAuth2Client(
        client_id=oidc_provider.device_client_id, token_endpoint_auth_method="none", timeout=30
    ) as cli:
        token = cli.fetch_token(
            metadata["token_endpoint"],
            grant_type=DEVICE_CODE_GRANT,
            device_code=device["device_code"],
        )
    claims = id_token_claims(oidc_provider, token, oidc_provider.device_client_id, nonce=None)

    assert token["token_type"].lower() == "bearer"
    assert claims["sub"] == account["sub"]
    assert claims["email"] == account["email"]


def test_a_provider_of_its_own_for_another_redirect_uri(oidc_factory: OIDCFactory) -> None:
    provider = oidc_factory.start(
        redirect_uris=["http://127.0.0.1:8123/auth/callback"],
        accounts={"anna": {"email": "anna@example.org", "email_verified": True, "name": "Anna"}},
        id_token_ttl=120,
    )
    try:
        client, callback, verifier, nonce = sign_in_with_code(provider, "anna")
        assert callback.startswith("http://127.0.0.1:8123/auth/callback?")
        with client:
            token = client.fetch_token(
                provider.metadata()["token_endpoint"],
                authorization_response=callback,
                code_verifier=verifier,
            )
        claims = id_token_claims(provider, token, provider.client_id, nonce)
        assert claims["email"] == "anna@example.org"
        assert claims["exp"] - claims["iat"] == 120
    finally:
        provider.stop()
    assert provider.process.returncode == 0


def test_pkce_can_be_left_to_the_client(oidc_factory: OIDCFactory) -> None:
    """With ``pkce_required=False`` (oidc-provider's own policy) a confidential client may omit it."""
    provider = oidc_factory.start(pkce_required=False)
    try:
        client, callback, _verifier, nonce = sign_in_with_code(provider, "hannyb01", pkce=False)
        with client:
            token = client.fetch_token(
                provider.metadata()["token_endpoint"], authorization_response=callback
            )
        assert id_token_claims(provider, token, provider.client_id, nonce)["sub"] == "hannyb01"
    finally:
        provider.stop()


def _tokens(provider: OIDCProvider, login: str) -> tuple[dict[str, Any], str]:
    """Sign in as ``login`` and exchange the code: the token response and the nonce sent."""
    client, callback, verifier, nonce = sign_in_with_code(provider, login)
    with client:
        token = client.fetch_token(
            provider.metadata()["token_endpoint"],
            authorization_response=callback,
            code_verifier=verifier,
        )
    return dict(token), nonce


def _verified(provider: OIDCProvider, id_token: str) -> jwt.Token:
    """The ID token decoded, its signature checked with the provider's published keys only."""
    keys = KeySet.import_key_set(httpx.get(provider.metadata()["jwks_uri"], timeout=10).json())
    return jwt.decode(id_token, keys, algorithms=["RS256"])


def test_a_provider_whose_clock_is_behind_signs_id_tokens_already_expired(
    oidc_factory: OIDCFactory,
) -> None:
    provider = oidc_factory.start(clock_offset_seconds=-7200)
    try:
        before = int(time.time())
        token, nonce = _tokens(provider, "jeswah01")
        after = int(time.time())
        decoded = _verified(provider, token["id_token"])
        claims = decoded.claims
        # Stamped by the provider on its own clock, two hours behind; an hour's token.
        assert before - 7200 - 1 <= claims["iat"] <= after - 7200 + 1
        assert claims["exp"] - claims["iat"] == 3600
        assert claims["exp"] < before
        with pytest.raises(ExpiredTokenError):
            id_token_claims(provider, token, provider.client_id, nonce)
    finally:
        provider.stop()


def test_a_tampering_provider_signs_the_changed_claims_with_its_own_key(
    oidc_factory: OIDCFactory,
) -> None:
    changes = {"iss": "http://evil", "aud": "someone-else", "nonce": "not-the-one-sent"}
    provider = oidc_factory.start(tamper_id_token={**changes, "name": None})
    try:
        token, nonce = _tokens(provider, "jeswah01")
        decoded = _verified(provider, token["id_token"])

        assert decoded.header == {"alg": "RS256", "kid": "test-rs256"}
        assert {name: decoded.claims[name] for name in changes} == changes
        assert nonce != changes["nonce"]
        assert "name" not in decoded.claims
        # The rest is the provider's as it signed it.
        assert decoded.claims["sub"] == "jeswah01"
        assert decoded.claims["email"] == provider.accounts["jeswah01"]["email"]
        assert decoded.claims["exp"] - decoded.claims["iat"] == 3600
    finally:
        provider.stop()


def test_a_forged_signature_does_not_verify_with_the_providers_keys(
    oidc_factory: OIDCFactory,
) -> None:
    provider = oidc_factory.start(forge_id_token_signature=True)
    try:
        token, _nonce = _tokens(provider, "jeswah01")
        header, payload, _signature = token["id_token"].split(".")
        assert json.loads(base64.urlsafe_b64decode(header + "==")) == {
            "alg": "RS256",
            "kid": "test-rs256",
        }
        assert json.loads(base64.urlsafe_b64decode(payload + "=="))["sub"] == "jeswah01"
        with pytest.raises(BadSignatureError):
            _verified(provider, token["id_token"])
    finally:
        provider.stop()


def test_a_provider_started_without_misbehaviour_signs_what_it_issues(
    oidc_provider: OIDCProvider,
) -> None:
    token, nonce = _tokens(oidc_provider, "hannyb01")
    claims = _verified(oidc_provider, token["id_token"]).claims

    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == oidc_provider.client_id
    assert claims["nonce"] == nonce
    assert abs(claims["iat"] - time.time()) < 60
