"""What the service's tests share: Herrljunga's database on a test store, the service over it
(``tsk_workflow.web``), and a browser-like client signed in as one of its people.

The service runs in the test's process through Starlette's ``TestClient`` (real HTTP
semantics: cookies, redirects, headers) on the test's virtual clock; without OIDC, as on the
demo's database, people sign in from the list (``/auth/demo``), the form carrying its CSRF
token as a browser's would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from tests.enginekit import Clock, make_engine, set_up
from tsk_workflow.engine.service import Engine
from tsk_workflow.store.database import Store
from tsk_workflow.web.app import create_app
from tsk_workflow.web.config import ServiceConfig, load_config
from tsk_workflow.web.state import ServiceState

KEY = "a-test-key-that-is-long-enough-0123456789"


def herrljunga(store: Store, clock: Clock) -> Engine:
    """Herrljunga loaded into ``store`` (virtual time), its engine at ``clock``."""
    return set_up(make_engine(store, "herrljunga", clock))


def service_config(environ: Mapping[str, str] | None = None) -> ServiceConfig:
    env = {"TSK_SECRET_KEY": KEY, "TSK_BASE_URL": "http://testserver", **(environ or {})}
    return load_config(env, host="127.0.0.1", port=8000, virtual_time=True)


def service_client(
    store: Store, clock: Clock, environ: Mapping[str, str] | None = None
) -> TestClient:
    """The service over ``store``, without its scheduler pass (the tests drive the clock)."""
    state = ServiceState(service_config(environ), store, clock, virtual_time=True)
    return TestClient(create_app(state, run_passes=False), follow_redirects=False)


@contextmanager
def live_service(store: Store, clock: Clock) -> Iterator[str]:
    """The service over ``store`` on uvicorn, at a free port of 127.0.0.1, without its
    scheduler pass: its address, for ``tsk`` through the service (``TSK_URL``)."""
    from tests.browser.harness import live_server

    def make_app(base_url: str) -> Any:
        state = ServiceState(
            service_config({"TSK_BASE_URL": base_url}), store, clock, virtual_time=True
        )
        return create_app(state, run_passes=False)

    with live_server(make_app) as url:
        yield url


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def demo_sign_in(client: TestClient, person: str, municipality: str = "herrljunga") -> str:
    """Sign ``client`` in as ``person`` from the demo's list (whoever was signed in before is
    forgotten, as in a new browser); the session's CSRF token."""
    client.cookies.clear()
    page = client.get("/signin")
    assert page.status_code == 200, page.text
    token = csrf_of(page.text)
    answer = client.post(
        "/auth/demo", data={"person": f"{municipality}:{person}", "csrf_token": token}
    )
    assert answer.status_code == 303, answer.text
    return session_csrf(client)


def session_csrf(client: TestClient) -> str:
    """The CSRF token of the client's session, as a page shows it."""
    token: str = client.get("/api/v1/me").json()["csrf_token"]
    return token
