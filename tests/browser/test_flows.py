"""Whole flows in Chromium, as people go through them (issue 18): a reporter following the link
in a mail that really went through SMTP, a partner reporting two events, a chair advancing and
closing a cycle, a secretary recording a KS decision, an auditor filtering and exporting the
trail; each in Swedish at desktop width and in English at 375 px, the labels looked up in the
catalogue of that language (``i18n.speaking``). Then bad input in the browser: a double click on
a submit button makes one act, HTML typed into a description is shown as text.

The flows share one world of their own (this module's ``world``: Herrljunga on virtual time,
EST's January, February and March cycles opened, their mails sent to an aiosmtpd server); each
flow acts on people or cycles no other flow here looks at. Every step waits for what it
observes (a navigation, an element), never for a time.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.browser import harness
from tests.browser.conftest import CHAIR, WORLD_START, OpenPage, page_problems
from tests.browser.test_pages import _describe, _violations
from tests.enginekit import Clock
from tests.smtp_server import SmtpServer
from tests.webkit import herrljunga
from tsk_workflow import audit, forms, i18n, links
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.events import readable_reports
from tsk_workflow.mail import outbox
from tsk_workflow.store import installation, migrate
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Decision, EventReport

pytestmark = pytest.mark.xdist_group("browser")

SECRETARY = "nina.bergqvist"
AUDITOR = "marie.lind"
MARCH = "est-2027-03"

# (language, viewport) of each flow: Swedish on a desktop, English on a phone
FLOWS = [
    pytest.param("sv", "desktop", id="sv-desktop"),
    pytest.param("en", "phone", id="en-phone"),
]


def _(lang: str, message: str, **values: Any) -> str:
    """``message`` as the catalogue has it in ``lang``, filled with ``values``."""
    with i18n.speaking(lang):
        text = i18n._(message)
    return text % values if values else text


def _axe(open_page: OpenPage, page: Any, lang: str, viewport: str) -> None:
    """axe-core on the page ``page`` landed on, seen again in a context without the CSP (axe is
    injected inline, which the CSP refuses) and signed in the same way (the same cookies)."""
    twin = open_page(viewport=viewport, lang=lang, bypass_csp=True)
    twin.context.add_cookies(page.context.cookies())
    twin.goto(page.url)
    violations = _violations(twin)
    assert not violations, f"{page.url}:\n{_describe(violations)}"


# ---------------------------------------------------------------- the world of the flows


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def world(
    browser: Any, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> Iterator[harness.World]:
    """Herrljunga served live, EST's March, February and January cycles opened (their task
    mails sent, through the outbox, to ``smtp`` with the links of this server)."""
    folder: Path = tmp_path_factory.mktemp("browser-flows")
    store = Store(f"sqlite:///{folder / 'tsk.db'}")
    migrate.upgrade(store)
    with store.transaction() as session:
        installation.make_virtual(session)
    clock = Clock(WORLD_START)
    engine = herrljunga(store, clock)
    for period in ("2027-03", "2027-02", "2027-01"):
        engine.open_cycle(CHAIR, "est", period)
    try:
        with harness.serve(store, clock) as served:
            env = {
                **served.config.environ,
                "TSK_SMTP_HOST": smtp.host,
                "TSK_SMTP_PORT": str(smtp.port),
                "TSK_SMTP_TIMEOUT": "5",
            }
            # The outbox runs its own event loop: in a thread, beside Playwright's.
            with ThreadPoolExecutor(1) as pool:
                sent = pool.submit(
                    outbox.deliver, store, {engine.org.municipality: engine.org}, env, clock.now
                ).result()
            assert (sent.failed, sent.held) == (0, 0), sent.replies
            yield served
    finally:
        store.dispose()


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage), message
    return str(part.get_content())


def _mailed_link(world: harness.World, smtp: SmtpServer, person: str, ref: str) -> tuple[str, int]:
    """The link in the task mail ``person`` received for their task of cycle ``ref``, read
    from the SMTP server: ``(url, task id)``."""
    address = world.engine.org.person(person).email  # type: ignore[union-attr]
    pattern = re.compile(re.escape(world.base_url) + r"/t/([A-Za-z0-9_.-]+)")
    settings = world.config.links
    assert settings is not None
    found = []
    for received in smtp.messages:
        if address not in received.rcpt_tos:
            continue
        for token in pattern.findall(_text_of(received.message)):
            claims = links.read_token(settings, token, world.engine.clock())
            with world.store.reading() as session:
                if world.engine.find_task(session, claims.task).cycle.ref == ref:
                    found.append((f"{world.base_url}/t/{token}", claims.task))
    assert len(found) == 1, f"{person} got {len(found)} links to their {ref} task"
    return found[0]


def _audit(world: harness.World, action: str) -> list[audit.AuditRow]:
    with world.store.reading() as session:
        return audit.query(session, world.engine.org.municipality, action=action)


def _done(world: harness.World, task_id: int) -> list[audit.AuditRow]:
    """The trail's ``task.done`` events of a task."""
    return [
        row
        for row in _audit(world, "task.done")
        if row.payload is not None and row.payload.get("task") == task_id
    ]


def _labelled(where: Any, label: str) -> Any:
    """The field whose label begins with ``label`` (then "(required)" or nothing)."""
    return where.get_by_label(re.compile(rf"^{re.escape(label)}(\s|$)"))


def _labels(world: harness.World, task_id: int, lang: str) -> dict[str, str]:
    """The labels of a task's questions as its form shows them in ``lang``, by key."""
    with world.store.reading() as session:
        task = world.engine.find_task(session, task_id)
        definition = world.engine.definition_for(
            session, task.cycle.process, task.cycle.process_digest
        )
        found = forms.task_definition(definition, task.step, task.key)
        assert found is not None
        assert found.form is not None
        shown = forms.form_json(found.form, world.engine.org, lang)
    return {q["key"]: q["label"] for q in shown["questions"]}


# ---------------------------------------------------------------- 1. a reporter's mail link

MAIL_READERS = {"sv": "ida.wikstrom", "en": "viktor.holmberg"}


@pytest.mark.parametrize(("lang", "viewport"), FLOWS)
def test_a_reporter_follows_the_link_in_a_mail_and_completes_the_task(
    open_page: OpenPage, world: harness.World, smtp: SmtpServer, lang: str, viewport: str
) -> None:
    person = MAIL_READERS[lang]
    url, task_id = _mailed_link(world, smtp, person, MARCH)
    assert world.task_status(task_id) == ("open", None)
    labels = _labels(world, task_id, lang)
    page = open_page(viewport=viewport, lang=lang)  # not signed in: the link is enough
    page.goto(f"{url}?lang={lang}")

    _labelled(page, labels["kategori"]).select_option("klotter")
    _labelled(page, labels["ort"]).select_option("herrljunga")
    _labelled(page, labels["plats"]).fill("Stationen")
    _labelled(page, labels["antal"]).fill("2")
    _labelled(page, labels["beskrivning"]).fill("Klotter på väntkuren.")
    page.get_by_label(_(lang, "Note for the record (optional)")).fill("Anmält.")
    with page.expect_navigation():
        page.get_by_role("button", name=_(lang, "Mark as done")).click()

    done = _(lang, "Done: the task is marked as done in your name. Thank you!")
    assert page.locator("p.done[role=status]").inner_text() == done
    assert world.task_status(task_id) == ("done", person)
    (completed,) = _done(world, task_id)
    assert completed.actor == person
    assert completed.payload["via"] == links.VIA
    assert not page_problems(page), page_problems(page)
    _axe(open_page, page, lang, viewport)


# ---------------------------------------------------------------- 2. a partner, two events

PARTNERS = {"sv": "erik.sundin", "en": "johanna.falk"}  # Polisen, Räddningstjänsten


def _fill_event(page: Any, lang: str, index: int, category: str, town: str, place: str) -> None:
    event = page.locator(f"#event-{index}")
    _labelled(event, _(lang, "What happened")).select_option(category)
    _labelled(event, _(lang, "Date")).fill("2027-02-26")
    _labelled(event, _(lang, "Town or area")).select_option(town)
    _labelled(event, _(lang, "Place in the town (optional)")).fill(place)
    _labelled(event, _(lang, "Describe what happened")).fill(f"Händelse vid {place}.")


def _reports_of(world: harness.World, person: str) -> list[Any]:
    return readable_reports(world.engine, person)


@pytest.mark.parametrize(("lang", "viewport"), FLOWS)
def test_a_partner_reports_two_events_with_a_place(
    open_page: OpenPage, world: harness.World, lang: str, viewport: str
) -> None:
    person = PARTNERS[lang]
    page = open_page(viewport=viewport, lang=lang, person=person)
    page.goto(world.url("/report", lang))
    assert page.locator("#event-1").count() == 0
    _fill_event(page, lang, 0, "klotter", "herrljunga", "stationen")
    page.get_by_role("button", name=_(lang, "Add another event")).click()
    page.locator("#event-1").wait_for()  # the form comes back with a second event, the first kept
    assert page.locator("#e0-place").input_value() == "stationen"
    _fill_event(page, lang, 1, "nedskrapning", "annelund", "torget")
    with page.expect_navigation(url=re.compile(r"/report/\d+")):
        page.get_by_role("button", name=_(lang, "Send the report"), exact=True).last.click()

    status = page.locator("p.done[role=status]").inner_text()
    assert "2" in status, status
    assert page.locator("section.event").count() == 2
    main = page.locator("main").inner_text()
    assert "stationen" in main
    assert "torget" in main
    assert "Annelund" in main
    department = world.engine.org.person(person).department  # type: ignore[union-attr]
    assert department in main  # reported as a partner organisation
    report_id = int(page.url.split("?")[0].rsplit("/", 1)[-1])
    (report,) = _reports_of(world, person)
    assert report.id == report_id
    assert report.partner == department
    assert [(e.category, e.town, e.place) for e in report.events] == [
        ("klotter", "herrljunga", "stationen"),
        ("nedskrapning", "annelund", "torget"),
    ]
    assert not page_problems(page), page_problems(page)
    _axe(open_page, page, lang, viewport)


# ---------------------------------------------------------------- 3. a chair's cycle

CHAIR_CYCLES = {"sv": "est-2027-02", "en": "est-2027-01"}


def _cycle_state(world: harness.World, ref: str) -> tuple[str, str]:
    with world.store.reading() as session:
        cycle = world.engine.find_cycle(session, ref)
        return cycle.status, cycle.state


@pytest.mark.parametrize(("lang", "viewport"), FLOWS)
def test_a_chair_advances_and_closes_a_cycle(
    open_page: OpenPage, world: harness.World, lang: str, viewport: str
) -> None:
    ref = CHAIR_CYCLES[lang]
    assert _cycle_state(world, ref) == ("open", "insamling")
    page = open_page(viewport=viewport, lang=lang, person=CHAIR)
    page.goto(world.url(f"/cycles/{ref}", lang))

    advance = page.locator("form", has=page.locator("input[name=trigger][value=sammanstall]"))
    advance.get_by_label(_(lang, "Note for the record")).fill("Dags att sammanställa")
    with page.expect_navigation():
        advance.get_by_role("button").click()
    assert page.locator("p.done[role=status]").inner_text() == _(lang, "The cycle has moved on.")
    assert "Dags att sammanställa" in page.locator("ol.steps").inner_text()
    assert _cycle_state(world, ref) == ("open", "egna_lagesbilder")

    close = page.locator("section.close form")
    close.get_by_label(_(lang, "Close even with open tasks (they are cancelled)")).check()
    close.get_by_label(_(lang, "Note for the record")).fill("Inställt <i>denna</i> månad")
    with page.expect_navigation():
        close.get_by_role("button", name=_(lang, "Close the cycle")).click()
    assert page.locator("p.done[role=status]").inner_text() == _(lang, "The cycle is closed.")
    assert page.locator("dd.note").inner_text() == "Inställt <i>denna</i> månad"
    assert page.locator("form[action*='/cycles/']").count() == 0  # nothing left to act on
    assert _cycle_state(world, ref)[0] == "closed"
    assert not page_problems(page), page_problems(page)
    _axe(open_page, page, lang, viewport)


# ---------------------------------------------------------------- 4. a secretary's decision


def _decision(world: harness.World, decision_id: int) -> Decision:
    with world.store.reading() as session:
        found = session.get(Decision, decision_id)
        assert found is not None
        return found


@pytest.mark.parametrize(("lang", "viewport"), FLOWS)
def test_a_secretary_records_a_ks_decision(
    open_page: OpenPage, world: harness.World, lang: str, viewport: str
) -> None:
    proposed, _route = Decisions(world.engine).propose(
        CHAIR, MARCH, f"Kameraövervakning vid resecentrum ({lang})", 250_000
    )
    assert proposed.routed_to == "ks"
    page = open_page(viewport=viewport, lang=lang, person=SECRETARY)
    page.goto(world.url(f"/decisions/{proposed.id}", lang))

    page.get_by_label(_(lang, "Body that decided")).select_option("ks")
    page.get_by_label(_(lang, "Meeting date")).fill("2027-03-01")
    # The module's world stays on Monday 1 March, and KS's next meeting (3 March) is ahead:
    # KS met in an extra meeting, which the form's box says.
    page.get_by_label(_(lang, "An extra meeting, not in the meeting calendar")).check()
    page.get_by_label(_(lang, "Paragraph (§)")).fill("§ 42")
    page.get_by_role("radio", name=_(lang, "approved"), exact=True).check()
    page.get_by_label(_(lang, "Decision text (optional)")).fill("Kommunstyrelsen bifaller.")
    with page.expect_navigation():
        page.get_by_role("button", name=_(lang, "Record"), exact=True).click()

    assert page.locator("p.done[role=status]").inner_text() == _(lang, "The outcome is recorded.")
    main = page.locator("main").inner_text()
    assert _(lang, "approved") in main
    assert f"2027-03-01 ({_(lang, 'an extra meeting')})" in main
    assert "§ 42" in main
    recorded = _decision(world, proposed.id)
    assert (recorded.status, recorded.body, recorded.paragraph, recorded.recorded_by) == (
        "approved",
        "ks",
        "§ 42",
        SECRETARY,
    )
    assert (recorded.decided_on, recorded.extra_meeting) == (dt.date(2027, 3, 1), True)
    assert page.locator("#f-body").count() == 0  # recorded: no form left
    assert not page_problems(page), page_problems(page)
    _axe(open_page, page, lang, viewport)


# ---------------------------------------------------------------- 5. an auditor's export


@pytest.mark.parametrize(("lang", "viewport"), FLOWS)
def test_an_auditor_filters_the_trail_and_exports_it(
    open_page: OpenPage, world: harness.World, lang: str, viewport: str
) -> None:
    page = open_page(viewport=viewport, lang=lang, person=AUDITOR)
    page.goto(world.url("/audit", lang))
    page.get_by_label(_(lang, "Person (id)")).fill(CHAIR)
    page.get_by_label(_(lang, "Kind of event")).select_option("cycle.opened")
    with page.expect_navigation(url=re.compile(r"action=cycle\.opened")):
        page.get_by_role("button", name=_(lang, "Filter"), exact=True).click()
    page.locator("#audit-table").wait_for()

    shown = [
        [cell.strip() for cell in row]
        for row in page.locator("#audit-table tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.children].map(c => c.textContent))"
        )
    ]
    assert len(shown) == 3  # EST's three cycles, opened by the chair
    with page.expect_download() as downloading:
        page.get_by_role("link", name=_(lang, "Export as CSV")).click()
    download = downloading.value
    assert download.suggested_filename.endswith(".csv")
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM, for the spreadsheets
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert [int(row["seq"]) for row in table] == [int(row[0]) for row in shown]
    assert {row["action"] for row in table} == {"cycle.opened"}
    assert {row["actor"] for row in table} == {CHAIR}
    assert [row[4] for row in shown] == ["cycle.opened"] * 3
    assert all(f"({CHAIR})" in row[2] for row in shown)
    assert not page_problems(page), page_problems(page)
    _axe(open_page, page, lang, viewport)


# ---------------------------------------------------------------- 7. bad input in the browser


def _double_click(page: Any, button: Any, path: str, landed: str) -> list[str]:
    """Double-click ``button`` (a submit button) and wait for the page it leads to; the POSTs to
    ``path`` the browser sent. Chromium itself sends only the last submit of a form made within
    one task, so this is what a person's double click usually does here; on a loaded machine both
    may go, and ``landed`` must be what either leads to. Two submits that both reach the server
    are also the racing test's below (the one-time ``form_id``)."""
    posts: list[str] = []
    page.on(
        "request",
        lambda request: (
            posts.append(request.url)
            if request.method == "POST" and request.url.split("?")[0].endswith(path)
            else None
        ),
    )
    button.dblclick()
    page.locator(landed).wait_for()  # what the page it leads to shows, whichever submit led
    page.wait_for_load_state()
    assert 1 <= len(posts) <= 2, posts
    return posts


def test_a_double_click_on_mark_as_done_completes_the_task_once(
    open_page: OpenPage, world: harness.World, smtp: SmtpServer
) -> None:
    person = "jonas.ek"
    url, task_id = _mailed_link(world, smtp, person, MARCH)
    labels = _labels(world, task_id, "sv")
    page = open_page()
    page.goto(url)
    _labelled(page, labels["kategori"]).select_option("klotter")
    _labelled(page, labels["ort"]).select_option("herrljunga")
    _labelled(page, labels["antal"]).fill("1")
    _labelled(page, labels["beskrivning"]).fill("Klotter.")
    button = page.get_by_role("button", name=_("sv", "Mark as done"))
    _double_click(page, button, url.removeprefix(world.base_url), "[role=status]")

    assert world.task_status(task_id) == ("done", person)
    assert len(_done(world, task_id)) == 1
    status = page.locator("[role=status]").inner_text()  # what became of it, no traceback
    assert status in (
        _("sv", "Done: the task is marked as done in your name. Thank you!"),
        _("sv", "This task is done."),
    ), status


def _count_reports(world: harness.World, person: str) -> int:
    with world.store.reading() as session:
        found = select(func.count()).select_from(EventReport)
        return int(session.scalar(found.where(EventReport.reporter == person)) or 0)


def test_a_double_click_on_send_makes_one_report(open_page: OpenPage, world: harness.World) -> None:
    person = "ida.wikstrom"
    before = _count_reports(world, person)
    page = open_page(person=person)
    page.goto(world.url("/report"))
    _fill_event(page, "sv", 0, "klotter", "herrljunga", "skolan")
    button = page.get_by_role("button", name=_("sv", "Send the report"), exact=True).last
    _double_click(page, button, "/report", "p.done[role=status]")

    assert re.search(r"/report/\d+$", page.url), page.url  # the receipt
    assert _count_reports(world, person) == before + 1
    assert page.locator("section.event").count() == 1


# Two submits of one form that both reach the server, at the same moment: what a double click
# becomes on a slow line (within one task Chromium itself sends only the last one). Sent by the
# page's own fetch, with the form's data and its one-time form_id, through DevTools (not
# refused by the CSP); each answer is followed to where it leads.
_SEND_TWICE = """async () => {
    const form = document.querySelector("form.report");
    const send = [...form.querySelectorAll("button[name=send]")].pop();
    const one = () => fetch(form.action, {method: "POST", body: new FormData(form, send)});
    const answers = await Promise.all([one(), one()]);
    return answers.map(answer => [answer.status, answer.url]);
}"""


def test_two_submits_of_one_report_racing_to_the_server_make_one_report(
    open_page: OpenPage, world: harness.World
) -> None:
    person = "ida.wikstrom"
    before = _count_reports(world, person)
    page = open_page(person=person)
    page.goto(world.url("/report"))
    _fill_event(page, "sv", 0, "skadegorelse", "herrljunga", "busskuren")
    (first, second) = page.evaluate(_SEND_TWICE)

    assert first[0] == second[0] == 200, (first, second)
    assert first[1] == second[1], (first, second)  # both end on the one receipt
    assert re.search(r"/report/\d+$", first[1]), first
    assert _count_reports(world, person) == before + 1
    page.goto(first[1])
    assert page.locator("section.event").count() == 1
    assert not page_problems(page), page_problems(page)


_MARK_TWICE = """async () => {
    const form = document.querySelector("main form[method=post]");
    const one = () => fetch(form.action, {method: "POST", body: new FormData(form)});
    const answers = await Promise.all([one(), one()]);
    return Promise.all(answers.map(async answer => [answer.status, await answer.text()]));
}"""


def test_two_submits_of_one_task_racing_to_the_server_complete_it_once(
    open_page: OpenPage, world: harness.World, smtp: SmtpServer
) -> None:
    person = "rachel.moore"
    url, task_id = _mailed_link(world, smtp, person, MARCH)
    labels = _labels(world, task_id, "en")
    page = open_page(lang="en")
    page.goto(f"{url}?lang=en")
    _labelled(page, labels["kategori"]).select_option("klotter")
    _labelled(page, labels["ort"]).select_option("herrljunga")
    _labelled(page, labels["antal"]).fill("1")
    _labelled(page, labels["beskrivning"]).fill("Graffiti.")
    answers = page.evaluate(_MARK_TWICE)

    by_status = dict(answers)
    # One completes it; the other is told, on a page, that it is done already (a conflict).
    assert sorted(by_status) == [200, 409], [text[-2000:] for _status, text in answers]
    done = _("en", "Done: the task is marked as done in your name. Thank you!")
    assert done in by_status[200]
    assert _("en", "This task is done.") in by_status[409]
    assert "Traceback" not in by_status[409]
    assert world.task_status(task_id) == ("done", person)
    assert len(_done(world, task_id)) == 1


def test_html_typed_into_a_description_is_shown_as_text(
    open_page: OpenPage, world: harness.World
) -> None:
    typed = '<img src="x" id="injected"><b>fet</b> text <script>window.hit = 1</script>'
    page = open_page(person="ida.wikstrom")
    page.goto(world.url("/report"))
    _fill_event(page, "sv", 0, "hot_vald", "herrljunga", "biblioteket")
    _labelled(page, _("sv", "Describe what happened")).fill(typed)
    with page.expect_navigation(url=re.compile(r"/report/\d+")):
        page.get_by_role("button", name=_("sv", "Send the report"), exact=True).last.click()

    description = page.locator("section.event dd.text")
    assert description.inner_text() == typed
    assert description.locator("*").count() == 0  # no element made of it
    assert page.locator("#injected").count() == 0
    assert page.evaluate("window.hit") is None
    assert not page_problems(page), page_problems(page)
