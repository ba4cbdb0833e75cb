"""The service in a real browser: Debian's Chromium driven by Playwright, the service served by
uvicorn on a free port of 127.0.0.1 in a thread of this process, and axe-core.

Used by the browser tests (``tests/browser/conftest.py``) and by ``scripts/screenshots.py``.

- :func:`problem`: why the browser tests cannot run here (Playwright, ``/usr/bin/chromium`` or
  axe-core missing), or None.
- :func:`live_server`: serves an app made for its address until the block ends; it yields once
  the server listens and answers ``/healthz`` (observed, not slept on).
- :func:`launch`: Chromium, headless, with the flags below.
- :class:`World`: a served database (the tests' Herrljunga, or the demo's), who plays which role
  on its pages, and the values that fill the pages' paths (``/t/{token}``, ``/actions/{action}``).
- :func:`sign_in`: the demo's sign-in form, as a person fills it.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from tests.browser.pages import PEOPLE
from tsk_workflow import links
from tsk_workflow.engine.actions import Actions
from tsk_workflow.engine.service import Engine
from tsk_workflow.store.database import Store
from tsk_workflow.web.app import create_app
from tsk_workflow.web.config import ServiceConfig, load_config
from tsk_workflow.web.state import ServiceState

if TYPE_CHECKING:
    from fastapi import FastAPI
    from playwright.sync_api import Browser, Page, Playwright

HERE = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"

VIEWPORTS = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 375, "height": 740},
}
LANGUAGES = ("sv", "en")
LOCALES = {"sv": "sv-SE", "en": "en-GB"}

READY_TIMEOUT = 30.0  # seconds for uvicorn to listen (a busy machine)
MUNICIPALITY = "herrljunga"


def problem() -> str | None:
    """Why the browser tests cannot run here, or None if they can."""
    if importlib.util.find_spec("playwright") is None:
        return "browser tests need Playwright for Python: pip install -e '.[dev]'"
    if not CHROMIUM.is_file():
        return f"browser tests need Debian's chromium at {CHROMIUM}: apt-get install -y chromium"
    if not AXE.is_file():
        return "browser tests need axe-core: run npm ci --prefix tests/browser"
    return None


def axe_version() -> str:
    """The version of axe-core installed for the tests."""
    manifest = json.loads((AXE.parent / "package.json").read_text(encoding="utf-8"))
    return str(manifest["version"])


def launch(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, without its own networking (updates, sync, QUIC)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


@contextmanager
def live_server(make_app: Callable[[str], FastAPI]) -> Iterator[str]:
    """Serve ``make_app(base_url)`` on uvicorn, in a thread, on a free port of 127.0.0.1;
    yields the base URL once the server listens and answers ``/healthz``."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        make_app(base_url), log_level="warning", server_header=False, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
    )
    thread.start()
    try:
        _wait_until_ready(server, thread, base_url)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(READY_TIMEOUT)
        sock.close()


def _wait_until_ready(server: Any, thread: threading.Thread, base_url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the live server stopped before it listened (see its log above)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the live server did not listen within {READY_TIMEOUT:.0f} s")
        time.sleep(0.01)
    answer = httpx.get(f"{base_url}/healthz", timeout=READY_TIMEOUT)
    if answer.status_code != 200:
        raise RuntimeError(f"the live server's /healthz answered {answer.status_code}")


def service_config(base_url: str, environ: dict[str, str] | None = None) -> ServiceConfig:
    """The service's settings at ``base_url``, on virtual time (the demo's sign-in). The
    lägesbild's map has no tiles (``TSK_MAP_TILES`` empty: the points alone): the browser
    fetches nothing from outside this machine."""
    env = {
        "TSK_SECRET_KEY": "a-browser-test-key-that-is-long-enough-0123",
        "TSK_MAP_TILES": "",
        **(environ or {}),
    }
    env["TSK_BASE_URL"] = base_url
    return load_config(env, host="127.0.0.1", port=0, virtual_time=True)


@dataclass
class World:
    """A served database: its address, store, engine, who plays each role (``pages.PEOPLE``)
    and the values that fill the pages' paths (``token``: a mail link to the reporter's first
    open task; ``task``: its id; ``cycle``: its cycle's reference; ``action``: the first
    action of the register)."""

    base_url: str
    store: Store
    engine: Engine
    config: ServiceConfig
    people: dict[str, str] = field(default_factory=lambda: dict(PEOPLE))
    params: dict[str, str] = field(default_factory=dict)

    def url(self, path: str, lang: str | None = None) -> str:
        """The address of ``path`` (filled from ``params``), in ``lang`` if given."""
        filled = path.format(**self.params)
        if lang is None:
            return f"{self.base_url}{filled}"
        joiner = "&" if "?" in filled else "?"
        return f"{self.base_url}{filled}{joiner}{urlencode({'lang': lang})}"

    def link(self, person: str, task_id: int | None = None) -> str:
        """The path of a mail link (``/t/{token}``) to ``person``'s task (by default their
        first open one), as a task mail carries it."""
        if task_id is None:
            task_id = self.open_tasks(person)[0]
        settings = self.config.links
        assert settings is not None, "the service has no link settings"
        token = links.make_token(
            settings, self.engine.org.municipality, person, task_id, self.engine.clock()
        )
        return f"/t/{token}"

    def open_tasks(self, person: str) -> list[int]:
        """The ids of ``person``'s open tasks, oldest first."""
        with self.store.reading() as session:
            return [task.id for task in self.engine.tasks(session, person=person)]

    def task_status(self, task_id: int) -> tuple[str, str | None]:
        """``(status, done_by)`` of a task, from the database."""
        with self.store.reading() as session:
            task = self.engine.find_task(session, task_id)
            return task.status, task.done_by


@contextmanager
def serve(store: Store, clock: Callable[[], dt.datetime]) -> Iterator[World]:
    """The service over ``store`` (a database on virtual time) at ``clock``, served live,
    without the scheduler's pass (the world stays as it was made). The path values are
    filled for the reporter's first open task when there is one."""
    made: dict[str, Any] = {}

    def make_app(base_url: str) -> FastAPI:
        config = service_config(base_url)
        state = ServiceState(config, store, clock, virtual_time=True)
        made["config"] = config
        made["engine"] = state.engine(MUNICIPALITY)
        return create_app(state, run_passes=False)

    with live_server(make_app) as base_url:
        world = World(base_url, store, made["engine"], made["config"])
        reporter = world.people["reporter"]
        tasks = world.open_tasks(reporter)
        if tasks:
            world.params["token"] = world.link(reporter, tasks[0]).removeprefix("/t/")
            world.params["task"] = str(tasks[0])
            with store.reading() as session:
                world.params["cycle"] = world.engine.find_task(session, tasks[0]).cycle.ref
        actions = Actions(world.engine).listing(states=None)
        if actions:
            world.params["action"] = str(actions[0].id)
        yield world


def sign_in(page: Page, world: World, person: str, lang: str = "sv") -> None:
    """Sign in as ``person`` on the demo's sign-in form, choosing them from the list and
    pressing the button, as a person does; the browser lands on the start page."""
    page.goto(world.url("/signin", lang))
    page.select_option("#person", f"{world.engine.org.municipality}:{person}")
    with page.expect_navigation():
        page.click("form[action='/auth/demo'] button[type=submit]")
    assert page.url.split("?")[0] == f"{world.base_url}/", f"sign-in ended at {page.url}"
