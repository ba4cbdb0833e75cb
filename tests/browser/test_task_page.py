"""The task page in Chromium, from a mail link (``/t/{token}``) and signed in
(``/tasks/{id}``): a person answers the form and completes the task by keyboard alone (Tab,
typing, Enter, Space), and the database says it is done in their name; the mail link's page's
first load is under 200 KB."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import harness
from tests.browser.conftest import OpenPage, page_problems

pytestmark = pytest.mark.xdist_group("browser")

MAX_TABS = 40  # Tab presses to reach one field (the date and time field takes several)
FIRST_LOAD_LIMIT = 200_000  # bytes


def _focused(page: Any) -> dict[str, str]:
    focused: dict[str, str] = page.evaluate(
        """() => {
            const e = document.activeElement;
            return {id: e.id || "", tag: e.tagName.toLowerCase(), name: e.name || "",
                    type: e.type || "", cls: e.className || ""};
        }"""
    )
    return focused


def _tab_to(page: Any, **wanted: str) -> None:
    """Press Tab until the focused element has ``wanted`` (``id="f-ort"``, ``type="submit"``)."""
    seen = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = _focused(page)
        if all(focused.get(key) == value for key, value in wanted.items()):
            return
        seen.append(focused.get("id") or focused.get("tag"))
    raise AssertionError(f"Tab never reached {wanted}; it went through {seen}")


# (how the page is reached, viewport, language, person, what to type in the category, its key);
# each person is one no other test looks at (their task is done afterwards)
KEYBOARD_CASES = [
    pytest.param("link", "desktop", "sv", "johanna.falk", "Klotter", "klotter", id="link-sv"),
    pytest.param("link", "phone", "en", "viktor.holmberg", "Graffiti", "klotter", id="link-en"),
    pytest.param("signed-in", "desktop", "sv", "jonas.ek", "Klotter", "klotter", id="page-sv"),
]


@pytest.mark.parametrize(
    ("entry", "viewport", "lang", "person", "typed", "category"), KEYBOARD_CASES
)
def test_a_task_is_answered_and_completed_by_keyboard_alone(
    open_page: OpenPage,
    world: harness.World,
    entry: str,
    viewport: str,
    lang: str,
    person: str,
    typed: str,
    category: str,
) -> None:
    (task_id,) = world.open_tasks(person)
    if entry == "link":
        page = open_page(viewport=viewport, lang=lang)
        page.goto(world.url(world.link(person, task_id), lang))
    else:
        page = open_page(viewport=viewport, lang=lang, person=person)
        page.goto(world.url(f"/tasks/{task_id}", lang))
    keys = page.keyboard

    _tab_to(page, cls="skip")  # the first stop: past the header, to the content
    keys.press("Enter")
    assert _focused(page)["id"] == "main"

    _tab_to(page, id="f-kategori")
    keys.type(typed)  # a closed list takes the option whose text starts so
    _tab_to(page, id="f-ort")
    keys.type("Herrljunga")
    _tab_to(page, id="f-plats")
    keys.type("Stationen")
    _tab_to(page, id="f-antal")
    keys.type("3")
    _tab_to(page, id="f-beskrivning")
    keys.type("Klotter på perrongens väntkur, <b>nytt</b> sedan förra veckan.")
    _tab_to(page, id="note")
    keys.type("Anmält till Trafikverket.")
    assert page.eval_on_selector("#f-kategori", "e => e.value") == category
    assert page.eval_on_selector("#f-ort", "e => e.value") == "herrljunga"

    _tab_to(page, type="submit", tag="button")
    with page.expect_navigation():
        keys.press("Space")

    assert page.locator("p.done[role=status]").is_visible()
    assert world.task_status(task_id) == ("done", person)
    with world.store.reading() as session:
        answers = world.engine.find_task(session, task_id).answers
    assert answers["kategori"] == category
    assert answers["ort"] == "herrljunga"
    assert answers["antal"] == 3
    assert answers["beskrivning"].endswith("<b>nytt</b> sedan förra veckan.")
    assert not page_problems(page), page_problems(page)


def test_the_task_pages_first_load_is_under_200_kb(
    open_page: OpenPage, world: harness.World
) -> None:
    page = open_page()
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    page.goto(world.url(world.link(world.people["reporter"])))
    page.wait_for_load_state("networkidle")
    loaded = {}
    for response in responses:
        response.finished()
        sizes = response.request.sizes()
        loaded[response.url] = sizes["responseBodySize"] + sizes["responseHeadersSize"]
    names = {url.split("?")[0].rsplit("/", 1)[-1] for url in loaded}
    assert {"style.css", "htmx.min.js"} <= names, loaded  # everything the page loads is counted
    total = sum(loaded.values())
    assert total < FIRST_LOAD_LIMIT, f"{total} bytes: {loaded}"
