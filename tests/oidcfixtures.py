"""A real OpenID provider for the tests (a pytest plugin): oidc-provider on 127.0.0.1.

``tests/oidc/provider.mjs`` runs the npm package ``oidc-provider`` (version 9, the certified
reference implementation) with its development login and consent pages, the device flow and
token revocation, PKCE (S256) required for every code flow, and a fresh RS256 signing key. No
identity provider is mocked: the tests sign in over HTTP as a browser would.

Fixtures:

- ``oidc_factory`` (session): ``start(redirect_uris=None, accounts=None, id_token_ttl=None, *,
  token_endpoint_auth_method="client_secret_basic", pkce_required=True,
  clock_offset_seconds=0, tamper_id_token=None, forge_id_token_signature=False) ->
  OIDCProvider``. Each call starts a provider
  of its own (oidc-provider matches redirect URIs exactly, so a service on a port of its own
  needs a provider that knows that port); all are stopped at the end of the session, or earlier
  with ``OIDCProvider.stop()``.
- ``oidc_provider`` (session): one provider started with the defaults, shared.

A provider can misbehave, for the relying party's tests; by default it does not:

- ``clock_offset_seconds`` (``-7200``): its clock runs that far off the real one (the node
  process's ``Date`` is shifted before oidc-provider is loaded), so the ID tokens it signs carry
  an ``iat`` and ``exp`` on that clock: two hours behind, an hour's token has expired when it
  arrives.
- ``tamper_id_token`` (``{"iss": "http://evil"}``, ``{"aud": "someone-else"}``, ``{"nonce":
  "..."}``; ``None`` as a value removes the claim): the token endpoint's ID token gets these
  claims and is signed again with the provider's own key (same ``kid``, RS256). The signature
  verifies; only the relying party's checks of the claims can refuse it.
- ``forge_id_token_signature``: the ID token is signed again with a key under the provider's
  ``kid`` that it never published (a forger's); only the signature check can refuse it.

An ``OIDCProvider`` has two clients: the confidential web client ``client_id`` /
``client_secret`` (authorization code flow, ``redirect_uris``) and the public device client
``device_client_id`` (device authorization grant, no secret). Its ``accounts`` map a login name
to the claims the provider gives (``sub``, ``email``, ``email_verified``, ``name``); the ``sub``
is always the login name (oidc-provider makes the account id the subject). Any other login name
signs in too, as a person with only a ``sub`` and no email.
``sign_in``, ``cancel`` and ``approve_device`` play the person at the browser: they walk the
provider's own pages with an ``httpx.Client`` (its cookies are the browser's).

When ``node`` or the npm package is missing the tests that use these fixtures are skipped with
the reason (``npm ci --prefix tests/oidc`` installs it); when ``CI`` is ``true`` they fail.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

import httpx
import pytest

from tests.dbfixtures import _refuse

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
PROVIDER_SCRIPT = OIDC_DIR / "provider.mjs"
PACKAGE_DIR = OIDC_DIR / "node_modules" / "oidc-provider"

READY_TIMEOUT = 180.0  # seconds for the provider to say it listens: a give-up limit only (a
# working provider says so in a second or two; under a full CI run on two cores it once took over 60)
STOP_TIMEOUT = 10.0

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_REDIRECT_URIS = ("http://127.0.0.1/auth/callback",)
WEB_CLIENT_ID = "tsk-web"
DEVICE_CLIENT_ID = "tsk-cli"

# Herrljunga's people (municipalities/herrljunga.yaml) as their municipality's provider knows
# them: a login name of the directory's kind (not the organisation file's person id), which is
# also the subject (oidc-provider makes the account id the ``sub``), and the work address. Marie
# Lind's address is not verified.
DEFAULT_ACCOUNTS: dict[str, dict[str, Any]] = {
    "jeswah01": {
        "email": "jessica.wahlstrom@herrljunga.example.org",
        "email_verified": True,
        "name": "Jessica Wahlström",
    },
    "hannyb01": {
        "email": "hanna.nyberg@herrljunga.example.org",
        "email_verified": True,
        "name": "Hanna Nyberg",
    },
    "marlin01": {
        "email": "marie.lind@herrljunga.example.org",
        "email_verified": False,
        "name": "Marie Lind",
    },
}

_MAX_STEPS = 20  # pages and redirects in one walk through the provider's pages


class SignInError(AssertionError):
    """The provider's pages did not lead where a sign-in or a device approval should."""


def _problem() -> str | None:
    """Why the provider cannot be started here, or None if it can."""
    if shutil.which("node") is None:
        return "oidc-provider tests need Node.js: 'node' is not on PATH"
    if not PACKAGE_DIR.is_dir():
        return "oidc-provider not installed: run npm ci --prefix tests/oidc"
    return None


# -- the provider's pages, read as a browser would ---------------------------------------------


@dataclass
class _Form:
    action: str
    method: str
    inputs: list[tuple[str, str, str]] = field(default_factory=list)  # (name, type, value)


class _LinkParser(HTMLParser):
    """The ``href`` of every link of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)


class _FormParser(HTMLParser):
    """The forms of a page and their inputs (buttons are not read: no form needs one's value)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self._current: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = _Form(
                action=attributes.get("action", ""),
                method=attributes.get("method", "get").lower(),
            )
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None and "name" in attributes:
            self._current.inputs.append(
                (
                    attributes["name"],
                    attributes.get("type", "text").lower(),
                    attributes.get("value", ""),
                )
            )

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _forms(page: str) -> list[_Form]:
    parser = _FormParser()
    parser.feed(page)
    parser.close()
    return parser.forms


def _fill(form: _Form, login: str, password: str) -> dict[str, str]:
    """The form's fields as submitted: hidden ones as they are, the login name and a password."""
    data: dict[str, str] = {}
    for name, kind, value in form.inputs:
        if kind == "hidden":
            data[name] = value
        elif name == "login":
            data[name] = login
        elif name == "password":
            data[name] = password
        else:
            raise SignInError(
                f"a field the walk cannot fill: {name!r} ({kind}) in a form to {form.action}"
            )
    return data


def _describe(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url} -> {response.status_code}: {response.text[:500]}"


def _without_query(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(query="", fragment=""))


def _walk(
    client: httpx.Client, url: str, login: str, password: str, *, until: tuple[str, ...]
) -> str | None:
    """Follow the provider's redirects and submit its forms, from ``url``.

    Returns the first redirect to one of the URLs ``until`` (its query aside), not requested, or
    None when a page without a form ends the walk (the device flow's success page).
    """
    until = tuple(_without_query(stop) for stop in until)
    response = client.get(url, follow_redirects=False)
    for _ in range(_MAX_STEPS):
        if response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if _without_query(location) in until:
                return location
            response = client.get(location, follow_redirects=False)
            continue
        if response.status_code != 200:
            raise SignInError(_describe(response))
        forms = _forms(response.text)
        if not forms:
            return None
        if len(forms) != 1:
            raise SignInError(f"{len(forms)} forms on one page: {_describe(response)}")
        (form,) = forms
        target = urljoin(str(response.url), form.action)
        data = _fill(form, login, password)
        if form.method == "post":
            response = client.post(target, data=data, follow_redirects=False)
        else:
            response = client.get(target, params=data, follow_redirects=False)
    raise SignInError(f"no end after {_MAX_STEPS} pages and redirects from {url}")


# -- the provider -----------------------------------------------------------------------------


@dataclass
class OIDCProvider:
    """A running oidc-provider, its clients and its accounts."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    device_client_id: str
    accounts: dict[str, dict[str, Any]]
    process: subprocess.Popen[str]
    log_path: Path
    _metadata: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def metadata(self) -> dict[str, Any]:
        """The discovery document (fetched once)."""
        if self._metadata is None:
            response = httpx.get(self.discovery_url, timeout=10)
            response.raise_for_status()
            self._metadata = response.json()
        return self._metadata

    def sign_in(
        self, client: httpx.Client, authorize_url: str, login: str, password: str = "secret"
    ) -> str:
        """Sign in as ``login`` at ``authorize_url``, through the login and consent pages.

        Returns the URL the provider finally redirects the browser to, the client's redirect URI
        with ``code`` and ``state`` (or ``error``), without requesting it. ``client`` is the
        browser: its cookies carry the provider's session between the pages.
        """
        query = parse_qs(urlsplit(authorize_url).query)
        until = tuple(query.get("redirect_uri", ())) or self.redirect_uris
        final = _walk(client, authorize_url, login, password, until=until)
        if final is None:
            raise SignInError(f"the sign-in at {authorize_url} ended on a page, not a redirect")
        return final

    def cancel(self, client: httpx.Client, authorize_url: str) -> str:
        """Go to ``authorize_url`` and press the login page's "[ Cancel ]" instead of signing in.

        Returns the URL the provider then redirects the browser to: the client's redirect URI
        with ``error=access_denied`` and the ``state``, not requested.
        """
        query = parse_qs(urlsplit(authorize_url).query)
        until = tuple(_without_query(uri) for uri in query.get("redirect_uri", ()))
        until = until or tuple(_without_query(uri) for uri in self.redirect_uris)
        response = client.get(authorize_url, follow_redirects=True)
        if response.status_code != 200:
            raise SignInError(_describe(response))
        parser = _LinkParser()
        parser.feed(response.text)
        aborts = [href for href in parser.links if urlsplit(href).path.endswith("/abort")]
        if len(aborts) != 1:
            raise SignInError(f"no one cancel link on the login page: {_describe(response)}")
        url = urljoin(str(response.url), aborts[0])
        for _ in range(_MAX_STEPS):
            response = client.get(url, follow_redirects=False)
            if not response.is_redirect:
                raise SignInError(_describe(response))
            url = urljoin(str(response.url), response.headers["location"])
            if _without_query(url) in until:
                return url
        raise SignInError(f"no redirect to {until} after {_MAX_STEPS} from the cancel link")

    def approve_device(
        self,
        client: httpx.Client,
        verification_uri_complete: str,
        login: str,
        password: str = "secret",
    ) -> None:
        """Approve a device authorization as ``login``: confirm the user code, sign in, consent.

        Afterwards the device's next poll of the token endpoint gets its tokens.
        """
        final = _walk(client, verification_uri_complete, login, password, until=())
        if final is not None:
            raise SignInError(f"the device approval ended in a redirect to {final}")

    def stop(self) -> None:
        """Stop the provider (closing its stdin ends it; then terminate, then kill)."""
        _stop(self.process)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(STOP_TIMEOUT)
        return
    except subprocess.TimeoutExpired:
        process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _accounts(accounts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The accounts with their ``sub``: the login name, as oidc-provider makes it."""
    people: dict[str, dict[str, Any]] = {}
    for login, claims in accounts.items():
        if claims.get("sub", login) != login:
            raise ValueError(
                f"account {login!r}: oidc-provider makes the login name the sub, not {claims['sub']!r}"
            )
        people[login] = {**claims, "sub": login}
    return people


def _read_line(stream: IO[str], timeout: float) -> str | None:
    """The stream's next line, or None if none came within ``timeout`` seconds."""
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0] if line else None


class OIDCFactory:
    """Starts providers; stops every one it started."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._started: list[OIDCProvider] = []

    def start(
        self,
        redirect_uris: list[str] | tuple[str, ...] | None = None,
        accounts: dict[str, dict[str, Any]] | None = None,
        id_token_ttl: int | None = None,
        *,
        token_endpoint_auth_method: str = "client_secret_basic",
        pkce_required: bool = True,
        clock_offset_seconds: int = 0,
        tamper_id_token: dict[str, Any] | None = None,
        forge_id_token_signature: bool = False,
    ) -> OIDCProvider:
        """Start a provider whose web client redirects to ``redirect_uris`` (exactly these);
        ``clock_offset_seconds``, ``tamper_id_token`` and ``forge_id_token_signature`` make it
        misbehave (module docstring)."""
        redirects = tuple(redirect_uris or DEFAULT_REDIRECT_URIS)
        people = _accounts(DEFAULT_ACCOUNTS if accounts is None else accounts)
        secret = secrets.token_urlsafe(24)
        config = {
            "port": 0,
            "clients": [
                {
                    "client_id": WEB_CLIENT_ID,
                    "client_secret": secret,
                    "client_name": "tsk serve",
                    "redirect_uris": list(redirects),
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": token_endpoint_auth_method,
                },
                {
                    "client_id": DEVICE_CLIENT_ID,
                    "client_name": "tsk",
                    "redirect_uris": [],
                    "grant_types": [DEVICE_CODE_GRANT, "refresh_token"],
                    "response_types": [],
                    "token_endpoint_auth_method": "none",
                },
            ],
            "accounts": people,
            "pkce_required": pkce_required,
        }
        if id_token_ttl is not None:
            config["id_token_ttl"] = id_token_ttl
        if clock_offset_seconds:
            config["clock_offset_seconds"] = clock_offset_seconds
        if tamper_id_token:
            config["tamper_id_token"] = tamper_id_token
        if forge_id_token_signature:
            config["forge_id_token_signature"] = True

        log_path = self._log_dir / f"oidc-provider-{len(self._started) + 1}.log"
        with log_path.open("w", encoding="utf-8") as log:
            process = subprocess.Popen(
                ["node", str(PROVIDER_SCRIPT)],
                cwd=OIDC_DIR,
                env={**os.environ, "OIDC_TEST_CONFIG": json.dumps(config)},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert process.stdout is not None
        line = _read_line(process.stdout, READY_TIMEOUT)
        if not line:
            _stop(process)
            said = log_path.read_text(encoding="utf-8").strip()[-2000:]
            why = "exited" if line == "" else f"did not say it listens within {READY_TIMEOUT:.0f} s"
            pytest.fail(
                f"oidc-provider {why} (exit code {process.returncode}); it said:\n{said}",
                pytrace=False,
            )
        issuer = json.loads(line)["issuer"]
        provider = OIDCProvider(
            issuer=issuer,
            client_id=WEB_CLIENT_ID,
            client_secret=secret,
            redirect_uris=redirects,
            device_client_id=DEVICE_CLIENT_ID,
            accounts=people,
            process=process,
            log_path=log_path,
        )
        self._started.append(provider)
        return provider

    def stop_all(self) -> None:
        for provider in self._started:
            provider.stop()


@pytest.fixture(scope="session")
def oidc_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCFactory]:
    """Starts real OpenID providers (``oidc_factory.start(...)``); all stop after the session."""
    problem = _problem()
    if problem is not None:
        _refuse(problem)
    factory = OIDCFactory(tmp_path_factory.mktemp("oidc"))
    yield factory
    factory.stop_all()


@pytest.fixture(scope="session")
def oidc_provider(oidc_factory: OIDCFactory) -> OIDCProvider:
    """One real OpenID provider with the default clients and accounts, shared by the session."""
    return oidc_factory.start()
