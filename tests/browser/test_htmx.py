"""htmx in Chromium: the pages' progressive enhancement. A filter applies when it changes,
the results swapped in place (no new page: a marker set on the old document survives) and the
address updated so that it can be bookmarked; a value the page refuses (422) is still shown
next to its field; adding an event to a report keeps what was typed. Without JavaScript the
same forms post as ever (the server-side tests, ``tests/test_page_*.py``)."""

from __future__ import annotations

import pytest

from tests.browser import harness
from tests.browser.conftest import OpenPage, page_problems

pytestmark = pytest.mark.xdist_group("browser")


def _mark(page: object) -> None:
    page.evaluate("window.__sameDocument = true")  # type: ignore[attr-defined]


def _same_document(page: object) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))  # type: ignore[attr-defined]


def test_a_filter_applies_on_change_in_place(open_page: OpenPage, world: harness.World) -> None:
    page = open_page("desktop", "sv", "reporter")
    page.goto(f"{world.base_url}/tasks")
    page.wait_for_function("window.htmx !== undefined")
    _mark(page)
    with page.expect_response(lambda r: "/tasks?" in r.url and "show=all" in r.url):
        page.get_by_label("Visa").select_option("all")
    page.wait_for_url("**/tasks?*show=all*")
    assert _same_document(page)
    assert page.get_by_label("Visa").input_value() == "all"
    assert page_problems(page) == []


def test_a_refused_filter_value_is_shown_by_its_field(
    open_page: OpenPage, world: harness.World
) -> None:
    page = open_page("desktop", "sv", "chair")
    page.goto(f"{world.base_url}/cycles")
    page.wait_for_function("window.htmx !== undefined")
    _mark(page)
    year = page.locator("#f-year")
    year.fill("tjugo")
    with page.expect_response(lambda r: "/cycles?" in r.url) as answer:
        year.dispatch_event("change")
    assert answer.value.status == 422
    page.locator("#e-year").wait_for()
    assert _same_document(page)
    assert page.locator("#f-year").get_attribute("aria-invalid") == "true"


def test_adding_an_event_keeps_what_was_typed(open_page: OpenPage, world: harness.World) -> None:
    page = open_page("phone", "en", "reporter")
    page.goto(f"{world.base_url}/report")
    page.wait_for_function("window.htmx !== undefined")
    _mark(page)
    page.locator("#e0-description").fill("Bins set on fire <b>behind</b> the school")
    with page.expect_response(lambda r: r.url.endswith("/report")):
        page.locator('button[name="add"]').click()
    page.locator("#e1-description").wait_for()
    assert _same_document(page)
    assert page.locator("#e0-description").input_value() == (
        "Bins set on fire <b>behind</b> the school"
    )
    assert page.locator("#e0-description b").count() == 0
    assert page_problems(page) == []
