"""The pages of a person's work: the start page, the inbox, a task with its form, its
attachments and Done; through the service's pages (TestClient), on SQLite and PostgreSQL.

Each act goes through the engine as from the command line: what the page shows is checked
against the database, and each bad input is shown next to its field and changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.enginekit import Clock, local
from tests.webkit import csrf_of, demo_sign_in, herrljunga, service_client
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, Document

CLOCK_START = local(2027, 3, 1, 8)
CHAIR = "jessica.wahlstrom"
REPORTER = "ida.wikstrom"
OUTSIDER = "petra.sjodin"  # fritidschef: no part in EST

ANSWERS = {"a.kategori": "klotter", "a.ort": "herrljunga", "a.beskrivning": "Klotter på stationen."}


@pytest.fixture
def world(store: Store, clock: Clock) -> Any:
    engine = herrljunga(store, clock)
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")
    task_id = next(t.id for t in cycle.tasks if REPORTER in t.assignee_ids)
    with service_client(store, clock) as client:
        yield client, engine, task_id, cycle.ref


def _events(store: Store, action: str) -> int:
    with store.reading() as session:
        count = session.scalar(select(func.count()).where(AuditEvent.action == action))
        return int(count or 0)


def _status(engine: Any, task_id: int) -> tuple[str, str | None]:
    with engine.store.reading() as session:
        task = engine.find_task(session, task_id)
        return task.status, task.done_by


def test_without_a_session_a_page_sends_to_sign_in_and_back(world: Any) -> None:
    client, _engine, task_id, _ref = world
    answer = client.get(f"/tasks/{task_id}")
    assert (answer.status_code, answer.headers["location"]) == (303, "/signin")
    page = client.get("/signin")
    client.post(
        "/auth/demo", data={"person": f"herrljunga:{REPORTER}", "csrf_token": csrf_of(page.text)}
    )
    # The demo sign-in above went back to the page asked for, not the start page.
    signed = client.get("/signin")
    assert signed.headers["location"] == "/"
    assert client.get(f"/tasks/{task_id}").status_code == 200


def test_the_start_page_and_the_inbox_show_what_is_due_and_overdue(
    world: Any, clock: Clock
) -> None:
    client, _engine, task_id, ref = world
    demo_sign_in(client, REPORTER)
    start = client.get("/")
    assert start.status_code == 200
    assert "Välkommen, Ida Wikström" in start.text
    assert "1 öppen uppgift" in start.text
    assert f'href="/tasks/{task_id}"' in start.text
    inbox = client.get("/tasks")
    assert f'href="/cycles/{ref}"' in inbox.text
    assert re.search(
        r"2027-03-\d\d \d\d:\d\d</time> <span class=\"muted\">\(vecka \d+\)", inbox.text
    )
    assert '<strong class="late">' not in inbox.text
    clock.advance(days=40)
    overdue = client.get("/tasks?show=overdue")
    assert '<strong class="late">Försenad' in overdue.text
    assert f'href="/tasks/{task_id}"' in overdue.text
    assert "1 försenad" in client.get("/").text
    english = client.get("/tasks?show=overdue&lang=en")
    assert "Overdue" in english.text
    assert "Monthly report to EST" in english.text
    # An unknown filter value is the default, not an error; a person without
    # read_all_tasks sees their own tasks whatever they ask for.
    assert client.get("/tasks?show=<script>&whose=everyone").status_code == 200
    assert "Allas uppgifter" not in client.get("/tasks?whose=everyone").text


def test_a_reporter_answers_and_completes_the_task_on_its_page(world: Any, store: Store) -> None:
    client, engine, task_id, _ref = world
    csrf = demo_sign_in(client, REPORTER)
    page = client.get(f"/tasks/{task_id}")
    assert '<label for="f-ort">I vilken ort?' in page.text
    done = client.post(
        f"/tasks/{task_id}", data={**ANSWERS, "note": "Se bild.", "csrf_token": csrf}
    )
    assert (done.status_code, done.headers["location"]) == (303, f"/tasks/{task_id}?done=1")
    shown = client.get(done.headers["location"])
    assert 'class="done"' in shown.text
    assert "Klotter på stationen." in shown.text
    assert 'name="a.kategori"' not in shown.text
    assert _status(engine, task_id) == ("done", REPORTER)
    # The same form sent again (a double click, the back button): one act, not two.
    again = client.post(f"/tasks/{task_id}", data={**ANSWERS, "csrf_token": csrf})
    assert again.status_code == 303
    assert _events(store, "task.done") == 1


def test_a_wrong_answer_is_shown_by_its_field_and_changes_nothing(world: Any) -> None:
    client, engine, task_id, _ref = world
    csrf = demo_sign_in(client, REPORTER)
    bad = {
        **ANSWERS,
        "a.kategori": "inte-en-kategori",
        "a.beskrivning": "<script>alert(1)</script>",
    }
    page = client.post(f"/tasks/{task_id}", data={**bad, "csrf_token": csrf})
    assert page.status_code == 422
    assert 'id="e-kategori"' in page.text
    assert 'aria-invalid="true"' in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)" not in page.text
    assert _status(engine, task_id) == ("open", None)


def test_a_form_sent_after_the_session_ended_is_kept_for_after_sign_in(world: Any) -> None:
    client, engine, task_id, _ref = world
    demo_sign_in(client, REPORTER)
    page = client.get(f"/tasks/{task_id}")
    client.cookies.clear()  # the session has ended while the person was writing
    sent = client.post(
        f"/tasks/{task_id}",
        data={**ANSWERS, "note": "Mitt <b>svar</b>", "csrf_token": csrf_of(page.text)},
    )
    assert (sent.status_code, sent.headers["location"]) == (303, "/signin")
    assert _status(engine, task_id) == ("open", None)
    signin = client.get("/signin")
    back = client.post(
        "/auth/demo", data={"person": f"herrljunga:{REPORTER}", "csrf_token": csrf_of(signin.text)}
    )
    assert back.headers["location"] == f"/tasks/{task_id}"
    again = client.get(back.headers["location"])
    assert "Din session hade gått ut" in again.text
    assert "Klotter på stationen." in again.text
    assert "Mitt &lt;b&gt;svar&lt;/b&gt;" in again.text
    assert 'value="klotter" selected' in again.text
    # Shown once: a reload shows the empty form.
    assert "Din session hade gått ut" not in client.get(f"/tasks/{task_id}").text
    done = client.post(f"/tasks/{task_id}", data={**ANSWERS, "csrf_token": csrf_of(again.text)})
    assert done.status_code == 303
    assert _status(engine, task_id) == ("done", REPORTER)


def test_a_form_without_its_token_is_refused(world: Any) -> None:
    client, engine, task_id, _ref = world
    demo_sign_in(client, REPORTER)
    assert client.post(f"/tasks/{task_id}", data=ANSWERS).status_code == 403
    assert _status(engine, task_id) == ("open", None)


def test_another_groups_task_is_refused_and_the_attempt_recorded(world: Any, store: Store) -> None:
    from tsk_workflow.store.models import RefusedAct

    client, engine, task_id, _ref = world
    csrf = demo_sign_in(client, OUTSIDER)
    page = client.get(f"/tasks/{task_id}", headers={"accept": "text/html"})
    assert page.status_code == 403
    assert "<html" in page.text
    sent = client.post(f"/tasks/{task_id}", data={**ANSWERS, "csrf_token": csrf})
    assert sent.status_code == 403
    assert _status(engine, task_id) == ("open", None)
    with store.reading() as session:
        refused = session.scalars(select(RefusedAct.actor)).all()
    assert refused.count(OUTSIDER) == 2


def test_a_file_is_attached_with_its_hash(world: Any, store: Store) -> None:
    client, _engine, task_id, _ref = world
    csrf = demo_sign_in(client, REPORTER)
    content = b"%PDF-1.7 bild av klottret"
    sent = client.post(
        f"/tasks/{task_id}/attachments",
        data={"csrf_token": csrf, "kind": "other"},
        files={"file": ("klotter.pdf", content, "application/pdf")},
    )
    assert sent.status_code == 303, sent.text
    page = client.get(sent.headers["location"])
    assert "klotter.pdf" in page.text
    digest = hashlib.sha256(content).hexdigest()
    assert digest[:16] in page.text
    with store.reading() as session:
        assert session.scalars(select(Document.sha256)).all() == [digest]
    assert _events(store, "document.attached") == 1


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("program.exe", b"MZ\x90\x00", "filer av den här typen tas inte emot"),
        ("bild.pdf", b"MZ\x90\x00 a program", "innehållet är inte en .pdf-fil"),
        ("../../etc/passwd.txt", b"root", "får inte innehålla en mapp"),
        ("notes.txt", b"\xff\xfe\x00binary", "innehållet är inte en .txt-fil"),
    ],
)
def test_a_bad_file_is_refused_by_its_field_and_nothing_is_attached(
    world: Any, store: Store, name: str, content: bytes, says: str
) -> None:
    client, _engine, task_id, _ref = world
    csrf = demo_sign_in(client, REPORTER)
    sent = client.post(
        f"/tasks/{task_id}/attachments",
        data={"csrf_token": csrf, "kind": "other"},
        files={"file": (name, content, "application/octet-stream")},
    )
    assert sent.status_code == 422
    error = re.search(r'<p class="error" id="file-error">([^<]*)</p>', sent.text)
    assert error is not None, sent.text
    assert says in error.group(1)
    with store.reading() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 0


def test_a_file_over_the_limit_is_refused(world: Any, store: Store) -> None:
    from tsk_workflow.engine.documents import MAX_BYTES

    client, _engine, task_id, _ref = world
    csrf = demo_sign_in(client, REPORTER)
    sent = client.post(
        f"/tasks/{task_id}/attachments",
        data={"csrf_token": csrf, "kind": "other"},
        files={"file": ("stor.pdf", b"%PDF" + b"0" * MAX_BYTES, "application/pdf")},
    )
    assert sent.status_code == 422
    assert "större än 50 MB" in sent.text
    with store.reading() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 0


def test_a_mail_link_opened_when_signed_in_as_its_person_leads_to_the_task_page(
    world: Any,
) -> None:
    from tests.webkit import service_config
    from tsk_workflow import links

    client, engine, task_id, _ref = world
    settings = service_config().links
    assert settings is not None
    token = links.make_token(settings, "herrljunga", REPORTER, task_id, engine.clock())
    assert client.get(f"/t/{token}").status_code == 200  # no session: the link's own page
    demo_sign_in(client, REPORTER)
    answer = client.get(f"/t/{token}")
    assert (answer.status_code, answer.headers["location"]) == (303, f"/tasks/{task_id}")
    demo_sign_in(client, CHAIR)  # someone else's browser: the link's page, as its person
    assert client.get(f"/t/{token}").status_code == 200
