"""The action register's pages in Chromium: a filter applies when it changes, in place (the
register swapped in, the address updated); a follow-up that changes the status without a note
is refused by the note field, in place, and with the note it is recorded."""

from __future__ import annotations

import pytest

from tests.browser import harness
from tests.browser.conftest import OpenPage, page_problems

pytestmark = pytest.mark.xdist_group("browser")


def test_the_registers_filters_apply_on_change_in_place(
    open_page: OpenPage, world: harness.World
) -> None:
    page = open_page("phone", "en", "reporter")
    page.goto(world.url("/actions", "en"))
    page.wait_for_function("window.htmx !== undefined")
    page.evaluate("window.__sameDocument = true")
    assert page.locator("#actions tbody tr").count() == 2
    with page.expect_response(lambda r: "/actions?" in r.url and "overdue=1" in r.url):
        page.get_by_label("Only overdue").check()
    page.wait_for_url("**/actions?*overdue=1*")
    assert page.evaluate("window.__sameDocument === true")
    rows = page.locator("#actions tbody tr")
    assert rows.count() == 1
    assert "Klotterplan" in rows.first.inner_text()
    assert "overdue" in rows.first.inner_text()
    assert page_problems(page) == []


def test_a_status_change_without_a_note_is_refused_by_the_note(
    open_page: OpenPage, world: harness.World
) -> None:
    page = open_page("desktop", "en", "chair")
    page.goto(world.url("/actions/{action}", "en"))
    page.get_by_role("radio", name="red (off track)").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Record the follow-up").click()
    assert page.locator("#e-u-note").is_visible()
    assert page.locator("#u-f-note").get_attribute("aria-invalid") == "true"
    page.locator("#u-f-note").fill("Leverantören har inte levererat")
    with page.expect_navigation():
        page.get_by_role("button", name="Record the follow-up").click()
    assert "The follow-up is recorded." in page.inner_text("main")
    assert "Leverantören har inte levererat" in page.inner_text("#followup-list")
