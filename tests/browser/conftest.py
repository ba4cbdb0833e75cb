"""Fixtures of the browser tests (``tests/browser/harness.py`` says what runs).

- ``browser`` (module): Debian's Chromium under Playwright. When Playwright, the browser or
  axe-core is missing the tests are skipped with the reason; under ``CI=true`` they fail.
- ``world`` (module): Herrljunga's database on virtual time (1 March 2027, 08:00), EST's
  March cycle opened so that its reporters have tasks, served live. Tests that change it act
  on people no other test looks at (``test_task_page.KEYBOARD_CASES``).
- ``open_page``: ``open_page(viewport="desktop", lang="sv", role=None, *, person=None,
  bypass_csp=False)``, a new browser context and page at that size (``harness.VIEWPORTS``:
  desktop 1280 px, phone 375 px) and language, signed in through the demo's sign-in form as
  ``person`` or as the role's person (``pages.PEOPLE``) when either is given. Every console
  error, page error, CSP violation and answer of 400 or above on it is gathered in
  ``page_problems(page)``.

The browser tests run one after another on one pytest-xdist worker (``xdist_group
"browser"``): one browser and one server, not one per worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser import harness
from tests.dbfixtures import _refuse
from tests.enginekit import Clock, local
from tests.webkit import herrljunga
from tsk_workflow.store import installation, migrate
from tsk_workflow.store.database import Store

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

WORLD_START = local(2027, 3, 1, 8)
CHAIR = "jessica.wahlstrom"

# Listens for CSP violations from the first moment of every document (an init script runs
# through the DevTools protocol, so the CSP does not refuse it); the tests read them back.
_CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} refused ${event.blockedURI || "inline"} ` +
    `(${event.sourceFile || ""}:${event.lineNumber || ""})`
  );
});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one module's tests. Not for the session: Playwright's sync API keeps its
    event loop set as the thread's running loop while it is started, and the tests that a
    pytest-xdist worker runs after the browser's (``asyncio.run`` in the mail's tests) would
    fail with "cannot be called from a running event loop"."""
    problem = harness.problem()
    if problem is not None:
        _refuse(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = harness.launch(playwright)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def world(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.World]:
    folder: Path = tmp_path_factory.mktemp("browser-world")
    store = Store(f"sqlite:///{folder / 'tsk.db'}")
    migrate.upgrade(store)
    with store.transaction() as session:
        installation.make_virtual(session)
    clock = Clock(WORLD_START)
    engine = herrljunga(store, clock)
    engine.open_cycle(CHAIR, "est", "2027-03")
    _actions(engine)
    try:
        with harness.serve(store, clock) as served:
            yield served
    finally:
        store.dispose()


def _actions(engine: Any) -> None:
    """Two actions for the register's pages: one of EST's cycle followed up, one overdue."""
    from tsk_workflow.engine.actions import Actions

    register = Actions(engine)
    made = register.add(
        CHAIR,
        {
            "title": "Belysning i Stationsparken",
            "cause": "Otrygghet kvällstid vid stationen",
            "goal": "Färre som undviker parken kvällstid",
            "start": "2027-03-01",
            "due": "2027-05-31",
            "owner": "jonas.ek",
            "cost": "120000",
            "category": "otrygg_plats",
            "town": "herrljunga",
            "place": "Stationsparken",
            "cycle": "est-2027-03",
        },
    )
    register.followup(CHAIR, made.id, status="yellow", note="Leverantören är försenad")
    register.add(
        CHAIR,
        {"title": "Klotterplan", "cause": "Klotter", "start": "2027-01-10", "due": "2027-02-26"}
        | {"owner": "ida.wikstrom"},
    )


_PROBLEMS: dict[int, list[str]] = {}


def page_problems(page: Page) -> list[str]:
    """The console errors, page errors, CSP violations and failed answers (4xx, 5xx) seen on
    ``page`` so far."""
    seen = list(_PROBLEMS.get(id(page), []))
    try:
        violations = page.evaluate("window.__cspViolations || []")
    except Exception as exc:  # a page mid-navigation: say so rather than hide it
        violations = [f"(could not read the CSP violations: {exc})"]
    return seen + [f"CSP: {text}" for text in violations]


OpenPage = Callable[..., "Page"]


@pytest.fixture
def open_page(browser: Browser, world: harness.World) -> Iterator[OpenPage]:
    contexts: list[Any] = []

    def open_(
        viewport: str = "desktop",
        lang: str = "sv",
        role: str | None = None,
        *,
        person: str | None = None,
        bypass_csp: bool = False,
    ) -> Page:
        context = browser.new_context(
            viewport=harness.VIEWPORTS[viewport],
            locale=harness.LOCALES[lang],
            bypass_csp=bypass_csp,
        )
        contexts.append(context)
        context.add_init_script(_CSP_LISTENER)
        page = context.new_page()
        problems = _PROBLEMS.setdefault(id(page), [])
        page.on(
            "console",
            lambda message: (
                problems.append(f"console {message.type}: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "response",
            lambda response: (
                problems.append(f"HTTP {response.status}: {response.url}")
                if response.status >= 400
                else None
            ),
        )
        who = person or (world.people[role] if role is not None else None)
        if who is not None:
            harness.sign_in(page, world, who, lang)
        return page

    yield open_
    for context in contexts:
        for page in context.pages:
            _PROBLEMS.pop(id(page), None)
        context.close()
