"""The cycle pages: the list with its filters, one cycle (steps, tasks, documents, what can
fire and why not), and the chair's forms to advance and close it, through HTTP as a browser
would, without JavaScript. The engine decides: a refusal is its sentence, a permission
refusal is recorded, a form from a page the cycle has left behind is a conflict (409)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import select

from tests.enginekit import Clock, local, shared_catalog, shared_organisation
from tests.webkit import csrf_of, demo_sign_in, herrljunga, service_client
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, RefusedAct

CLOCK_START = local(2027, 3, 1, 8)

CHAIR = "jessica.wahlstrom"  # chairs EST
REPORTER = "ida.wikstrom"  # inrapportör, member of EST
OUTSIDER = "petra.sjodin"  # fritidschef: no part in EST
REF = "est-2027-03"


@pytest.fixture
def client(store: Store, clock: Clock) -> Any:
    herrljunga(store, clock)
    with service_client(store, clock) as client:
        yield client


def _open_est(client: Any) -> dict[str, Any]:
    token = demo_sign_in(client, CHAIR)
    opened = client.post(
        "/api/v1/cycles",
        json={"process": "est", "period": "2027-03"},
        headers={"X-CSRF-Token": token},
    )
    assert opened.status_code == 201, opened.text
    cycle: dict[str, Any] = opened.json()
    return cycle


def _as(client: Any, person: str, lang: str = "en") -> str:
    """Signed in as ``person``, speaking ``lang``; the session's CSRF token."""
    token = demo_sign_in(client, person)
    assert client.get(f"/cycles?lang={lang}").status_code == 200
    return token


def _state(client: Any) -> tuple[str, str]:
    shown = client.get(f"/api/v1/cycles/{REF}").json()
    return shown["status"], shown["state"]


def _refusals(store: Store) -> list[RefusedAct]:
    with store.reading() as session:
        return list(session.scalars(select(RefusedAct).order_by(RefusedAct.id)))


def _advances(store: Store) -> list[AuditEvent]:
    with store.reading() as session:
        found = select(AuditEvent).where(AuditEvent.action == "cycle.advanced")
        return list(session.scalars(found))


def _error_of(page: str, element_id: str) -> str:
    found = re.search(rf'<p class="error" id="{element_id}">([^<]*)</p>', page)
    assert found, f"no error {element_id} on the page"
    return html.unescape(found.group(1))


def _advance(client: Any, token: str, trigger: str, step: str, note: str = "") -> Any:
    return client.post(
        f"/cycles/{REF}/advance",
        data={"csrf_token": token, "trigger": trigger, "step": step, "note": note},
    )


def _close(client: Any, token: str, step: str, note: str = "", force: bool = False) -> Any:
    data = {"csrf_token": token, "step": step, "note": note}
    if force:
        data["force"] = "1"
    return client.post(f"/cycles/{REF}/close", data=data)


# ---------------------------------------------------------------- a chair's cycle


def test_a_chair_advances_and_closes_a_cycle_through_the_pages(client: Any, store: Store) -> None:
    _open_est(client)
    token = _as(client, CHAIR)
    listed = client.get("/cycles")
    assert f'href="/cycles/{REF}"' in listed.text
    assert "Collection" in listed.text or "collection" in listed.text.lower()

    page = client.get(f"/cycles/{REF}")
    assert page.status_code == 200
    assert 'aria-current="step"' in page.text
    assert f'action="/cycles/{REF}/advance"' in page.text
    assert 'name="step" value="insamling"' in page.text
    assert f'action="/cycles/{REF}/close"' in page.text

    moved = _advance(client, token, "sammanstall", "insamling", note="Dags att sammanställa")
    assert moved.status_code == 303, moved.text
    assert moved.headers["location"] == f"/cycles/{REF}"
    after = client.get(f"/cycles/{REF}")
    assert "The cycle has moved on." in after.text
    assert re.search(r"Began 2027-03-01 08:00, by Jessica Wahlström</span>\s*<br><span", after.text)
    assert "Dags att sammanställa" in after.text  # the note, with the step it began
    assert 'name="step" value="egna_lagesbilder"' in after.text
    assert _state(client) == ("open", "egna_lagesbilder")
    assert client.get(f"/cycles/{REF}").text.count("The cycle has moved on.") == 0  # shown once

    # Each organisation's own lägesbild taken at a meeting: on to the common one, which the
    # step makes from the reports.
    note = "Lägesbilderna togs på mötet"
    common = _advance(client, token, "sammanstall_gemensam", "egna_lagesbilder", note=note)
    assert common.status_code == 303, common.text
    after = client.get(f"/cycles/{REF}")
    _the_lagesbild_is_listed_and_downloads(client, after.text)
    assert 'name="step" value="sammanstallning"' in after.text
    assert _state(client) == ("open", "sammanstallning")

    refused = _close(client, token, "sammanstallning")
    assert refused.status_code == 422
    message = _error_of(refused.text, "force-e")
    assert "--force" in message
    assert REF in message
    assert _state(client) == ("open", "sammanstallning")

    closed = _close(client, token, "sammanstallning", note="Inställt i mars", force=True)
    assert closed.status_code == 303, closed.text
    page = client.get(f"/cycles/{REF}")
    assert "The cycle is closed." in page.text
    assert "Inställt i mars" in page.text
    assert f'action="/cycles/{REF}/' not in page.text  # nothing left to act on
    assert _state(client)[0] == "closed"
    assert "/cycles/" + REF not in client.get("/cycles?status=open").text
    assert f'href="/cycles/{REF}"' in client.get("/cycles?status=closed").text


def _the_lagesbild_is_listed_and_downloads(client: Any, page: str) -> None:
    """The step made its lägesbild: listed with its size, who attached it and its hash; its
    name downloads it, and the content has that hash."""
    import hashlib

    found = re.search(
        rf'<a href="(/api/v1/cycles/{REF}/documents/\d+)" download>([^<]+)</a></th>'
        r"<td>lagesbild</td><td>(\d+) bytes</td><td>system, [^<]+</td>"
        r'<td><code class="hash">([0-9a-f]{64})</code>',
        page,
    )
    assert found, page
    download = client.get(found.group(1))
    assert download.status_code == 200
    assert len(download.content) == int(found.group(3))
    assert hashlib.sha256(download.content).hexdigest() == found.group(4)


def test_the_page_lists_the_tasks_with_who_due_and_overdue_in_words(
    client: Any, clock: Clock
) -> None:
    _open_est(client)
    _as(client, CHAIR)
    clock.advance(days=40)  # past every report's due date
    page = client.get(f"/cycles/{REF}").text
    assert "Ida Wikström" in page
    assert "(overdue)" in page
    assert re.search(r"<td>2027-03-\d\d \d\d:\d\d</td>", page)
    assert "No documents." in page


def test_what_cannot_fire_says_why(client: Any) -> None:
    _open_est(client)
    _as(client, REPORTER)
    page = client.get(f"/cycles/{REF}")
    assert page.status_code == 200
    assert "It cannot be fired now:" in page.text
    assert f"{REPORTER} may not fire it" in html.unescape(page.text)


# ---------------------------------------------------------------- refusals


def test_a_reporter_sees_no_form_and_a_forged_post_is_refused_and_recorded(
    client: Any, store: Store
) -> None:
    _open_est(client)
    token = _as(client, REPORTER)
    page = client.get(f"/cycles/{REF}").text
    assert f'action="/cycles/{REF}/advance"' not in page
    assert f'action="/cycles/{REF}/close"' not in page

    forged = _advance(client, token, "sammanstall", "insamling")
    assert forged.status_code == 403
    assert "'sammanstall' may only be fired by: chair, samordnare" in html.unescape(forged.text)
    assert _refusals(store)[-1].action == "advance:sammanstall"
    closing = _close(client, token, "insamling", note="x", force=True)
    assert closing.status_code == 403
    assert _refusals(store)[-1].action == "cycle.close"
    assert _state(client) == ("open", "insamling")


def test_a_form_without_the_sessions_token_is_refused(client: Any) -> None:
    _open_est(client)
    _as(client, CHAIR)
    answer = _advance(client, "wrong-token", "sammanstall", "insamling")
    assert answer.status_code == 403
    assert _state(client) == ("open", "insamling")


def test_a_stale_page_is_a_conflict_with_a_link_to_the_cycle_as_it_is(
    client: Any, store: Store
) -> None:
    _open_est(client)
    token = _as(client, CHAIR)
    assert _advance(client, token, "sammanstall", "insamling").status_code == 303
    again = _advance(client, token, "sammanstall", "insamling")  # the same form, sent twice
    assert again.status_code == 409
    text = html.unescape(again.text)
    assert "is at step 'egna_lagesbilder' now, not 'insamling'" in text
    assert f'href="/cycles/{REF}"' in again.text
    assert len(_advances(store)) == 1  # one act, not two
    stale_close = _close(client, token, "insamling", note="gammal sida", force=True)
    assert stale_close.status_code == 409
    assert _state(client) == ("open", "egna_lagesbilder")
    assert _close(client, token, "egna_lagesbilder", note="klart", force=True).status_code == 303
    closed_twice = _close(client, token, "egna_lagesbilder", note="klart", force=True)
    assert closed_twice.status_code == 409
    assert "was closed meanwhile" in html.unescape(closed_twice.text)


def test_force_without_a_note_is_refused_next_to_the_note(client: Any) -> None:
    _open_est(client)
    token = _as(client, CHAIR)
    answer = _close(client, token, "insamling", note="   ", force=True)
    assert answer.status_code == 422
    assert (
        _error_of(answer.text, "note-close-e") == "closing with --force needs a --note saying why"
    )
    assert 'aria-invalid="true"' in answer.text
    assert 'id="force" name="force" value="1" checked' in answer.text  # what was given stays
    assert _state(client) == ("open", "insamling")


def test_html_in_a_note_is_shown_as_text(client: Any) -> None:
    _open_est(client)
    token = _as(client, CHAIR)
    script = "<script>alert('x')</script><b>fet</b>"
    refused = _close(client, token, "insamling", note="x" * 10_001 + script, force=True)
    assert refused.status_code == 422
    assert "<script>alert" not in refused.text
    assert "&lt;script&gt;" in refused.text
    assert _advance(client, token, "sammanstall", "insamling", note=script).status_code == 303
    assert _close(client, token, "egna_lagesbilder", note=script, force=True).status_code == 303
    page = client.get(f"/cycles/{REF}").text
    assert page.count("&lt;script&gt;alert(") == 2  # the advance's note and the close's
    assert "<script>alert" not in page
    assert "<b>fet</b>" not in page
    assert "&lt;script&gt;alert(" in page


# ---------------------------------------------------------------- who may read what


def test_someone_outside_the_group_gets_what_the_api_gives(client: Any, store: Store) -> None:
    cycle = _open_est(client)
    _as(client, OUTSIDER)
    assert f"/cycles/{REF}" not in client.get("/cycles").text
    api = client.get(f"/api/v1/cycles/{REF}")
    page = client.get(f"/cycles/{REF}")
    assert page.status_code == api.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert OUTSIDER in html.unescape(page.text)
    assert "Ida Wikström" not in page.text
    assert _refusals(store)[-1].subject == f"cycle:{cycle['id']}"
    missing = client.get("/cycles/est-1999-01")
    assert missing.status_code == client.get("/api/v1/cycles/est-1999-01").status_code == 404


def test_the_pages_need_a_session(client: Any) -> None:
    _open_est(client)
    client.cookies.clear()
    answer = client.get(f"/cycles/{REF}")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin"


# ---------------------------------------------------------------- the list's filters


def test_the_filters_refuse_bad_values_next_to_the_field(client: Any) -> None:
    _open_est(client)
    _as(client, CHAIR)
    assert f'href="/cycles/{REF}"' in client.get("/cycles?process=est&year=2027").text
    assert f'href="/cycles/{REF}"' not in client.get("/cycles?year=2026").text
    bad = client.get("/cycles?process=nonsense&year=20x7&status=maybe")
    assert bad.status_code == 422
    assert "nonsense" in html.unescape(_error_of(bad.text, "e-process"))
    assert _error_of(bad.text, "e-year") == "Give a year such as 2027."
    assert _error_of(bad.text, "e-status") == "Choose open, closed or all."


def test_the_pages_speak_swedish_by_default(client: Any) -> None:
    _open_est(client)
    _as(client, CHAIR, lang="sv")
    page = client.get(f"/cycles/{REF}")
    assert '<html lang="sv">' in page.text
    assert "Stäng omgången" in page.text
    assert "Insamling" in page.text


def test_the_api_takes_the_same_guard(client: Any, store: Store) -> None:
    _open_est(client)
    token = _as(client, CHAIR)
    headers = {"X-CSRF-Token": token}
    body = {"trigger": "sammanstall", "expected_step": "insamling"}
    moved = client.post(f"/api/v1/cycles/{REF}/advance", json=body, headers=headers)
    assert moved.status_code == 200, moved.text
    again = client.post(f"/api/v1/cycles/{REF}/advance", json=body, headers=headers)
    assert again.status_code == 409
    assert again.json()["type"].endswith("conflict")
    closing = {"note": "x", "force": True, "expected_step": "insamling"}
    stale = client.post(f"/api/v1/cycles/{REF}/close", json=closing, headers=headers)
    assert stale.status_code == 409
    assert len(_advances(store)) == 1
    assert _state(client) == ("open", "egna_lagesbilder")


def test_a_session_that_ran_out_mid_form_comes_back_to_the_cycle(client: Any) -> None:
    """Without a session the form's POST sends the browser to sign in; after it, the form's
    address shows the cycle as it is now with the note written filled in again, nothing done."""
    _open_est(client)
    token = _as(client, CHAIR)
    client.cookies.clear()
    answer = _advance(client, token, "sammanstall", "insamling", note="<i>Skrivet</i> före")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin"
    signin = client.get("/signin")  # in the same browser: its session keeps the form
    signed = client.post(
        "/auth/demo", data={"person": f"herrljunga:{CHAIR}", "csrf_token": csrf_of(signin.text)}
    )
    assert signed.headers["location"] == f"/cycles/{REF}/advance"
    back = client.get(signed.headers["location"])
    assert back.status_code == 200
    assert "Din session hade gått ut" in back.text
    token = csrf_of(back.text)
    assert ">&lt;i&gt;Skrivet&lt;/i&gt; före</textarea>" in back.text
    assert _state(client) == ("open", "insamling")
    assert _advance(client, token, "sammanstall", "insamling", note="Skrivet").status_code == 303
    again = client.get(f"/cycles/{REF}/advance")  # nothing kept any more
    assert again.status_code == 303
    assert again.headers["location"] == f"/cycles/{REF}"


def test_the_cycle_lists_its_actions_and_offers_to_add_one_to_those_who_may(
    client: Any, store: Store
) -> None:
    from tsk_workflow.engine.actions import Actions
    from tsk_workflow.features import build_engine

    _open_est(client)
    page = client.get(f"/cycles/{REF}?lang=en").text
    assert "No actions from this cycle yet." in page
    assert f'href="/actions/new?cycle={REF}"' in page  # the chair may add

    engine = build_engine(store, shared_catalog(), shared_organisation("herrljunga"), Clock())
    made = Actions(engine).add(
        CHAIR,
        {"title": "Belysning vid torget", "cause": "Mörkt", "due": "2027-06-30",
         "owner": "jonas.ek", "cycle": REF},
    )  # fmt: skip
    page = client.get(f"/cycles/{REF}?lang=en").text
    assert f'<a href="/actions/{made.id}">#{made.id} Belysning vid torget</a> (green, due' in page

    _as(client, "viktor.holmberg")  # a reporter with a task here, not of the group
    page = client.get(f"/cycles/{REF}?lang=en").text
    assert "Belysning vid torget" in page
    assert "/actions/new?cycle=" not in page
