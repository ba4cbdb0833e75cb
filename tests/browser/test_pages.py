"""Every page of ``pages.PAGES`` in Chromium: axe-core finds no serious or critical violation at
desktop width and at 375 px, in Swedish and in English; on a phone the page does not scroll
sideways; focus is visible on whatever Tab reaches; and nothing is refused by the CSP or
logged as an error in the console."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser import harness
from tests.browser.conftest import OpenPage, page_problems
from tests.browser.pages import PAGES, Page

pytestmark = pytest.mark.xdist_group("browser")

SERIOUS = ("serious", "critical")
TABS = 12  # how many Tab presses each page's focus check follows


def _page_ids(page: Page) -> str:
    return page.name


def _visit(open_page: OpenPage, world: harness.World, page: Page, **options: Any) -> Any:
    browser_page = open_page(role=page.as_role, **options)
    response = browser_page.goto(world.url(page.path, options.get("lang", "sv")))
    assert response is not None
    assert response.status == 200, f"{page.path}: {response.status}"
    return browser_page


def _violations(browser_page: Any) -> list[dict[str, Any]]:
    browser_page.add_script_tag(path=str(harness.AXE))
    result = browser_page.evaluate("async () => await axe.run(document)")
    return [v for v in result["violations"] if v["impact"] in SERIOUS]


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']}: {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['failureSummary']}")
            lines.append(f"    {node['html'][:200]}")
    return "\n".join(lines)


@pytest.mark.parametrize("lang", harness.LANGUAGES)
@pytest.mark.parametrize("viewport", list(harness.VIEWPORTS))
@pytest.mark.parametrize("page", PAGES, ids=_page_ids)
def test_axe_finds_no_serious_violation(
    open_page: OpenPage, world: harness.World, page: Page, viewport: str, lang: str
) -> None:
    # axe-core is injected as an inline script, which the service's CSP refuses: this page
    # bypasses the CSP; test_nothing_is_refused_or_logged_as_an_error keeps it.
    browser_page = _visit(open_page, world, page, viewport=viewport, lang=lang, bypass_csp=True)
    assert browser_page.evaluate("document.documentElement.lang") == lang
    violations = _violations(browser_page)
    unknown = [v for v in violations if v["id"] not in page.axe_known]
    assert not unknown, f"{page.name} ({viewport}, {lang}):\n{_describe(unknown)}"
    if violations:  # only those the page list says are known: reported, not passed
        pytest.xfail(f"known, to be fixed (pages.py):\n{_describe(violations)}")


@pytest.mark.parametrize("lang", harness.LANGUAGES)
@pytest.mark.parametrize("page", PAGES, ids=_page_ids)
def test_a_phone_does_not_scroll_sideways(
    open_page: OpenPage, world: harness.World, page: Page, lang: str
) -> None:
    browser_page = _visit(open_page, world, page, viewport="phone", lang=lang)
    width = browser_page.evaluate("document.documentElement.scrollWidth")
    wide = browser_page.evaluate(
        """() => [...document.body.querySelectorAll('*')]
            .filter(e => e.getBoundingClientRect().right > 375.5 && !e.closest('.scroll'))
            .slice(0, 5).map(e => e.outerHTML.slice(0, 120))"""
    )
    assert width <= 375, f"{page.name} ({lang}) is {width} px wide at 375 px: {wide}"


@pytest.mark.parametrize("page", PAGES, ids=_page_ids)
def test_focus_is_visible_on_what_tab_reaches(
    open_page: OpenPage, world: harness.World, page: Page
) -> None:
    browser_page = _visit(open_page, world, page)
    reached = []
    for _ in range(TABS):
        browser_page.keyboard.press("Tab")
        focused = browser_page.evaluate(
            """() => {
                const e = document.activeElement;
                if (!e || e === document.body) return null;
                const style = getComputedStyle(e);
                return {
                    what: e.outerHTML.slice(0, 100),
                    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
                    outlineWidth: style.outlineWidth,
                };
            }"""
        )
        if focused is None:
            break
        reached.append(focused)
    assert reached, f"{page.name}: Tab reaches nothing"
    hidden = [f["what"] for f in reached if not f["outline"]]
    assert not hidden, f"{page.name}: no visible focus outline on {json.dumps(hidden, indent=1)}"


@pytest.mark.parametrize("viewport", list(harness.VIEWPORTS))
@pytest.mark.parametrize("page", PAGES, ids=_page_ids)
def test_nothing_is_refused_or_logged_as_an_error(
    open_page: OpenPage, world: harness.World, page: Page, viewport: str
) -> None:
    browser_page = _visit(open_page, world, page, viewport=viewport)
    browser_page.wait_for_load_state("networkidle")
    problems = page_problems(browser_page)
    assert not problems, f"{page.name} ({viewport}):\n" + "\n".join(problems)
    # htmx is loaded (deferred) and configured by its meta tag, not by an inline style.
    assert browser_page.evaluate("typeof htmx") == "object"
    assert browser_page.evaluate("htmx.config.includeIndicatorStyles") is False
