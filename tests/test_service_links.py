"""The links in task mail, as the service answers them (``GET``/``POST /t/{token}``): the task
and its form without signing in, completing it as its person ``via: e-postlänk``, and each way
a link is refused, recorded. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from tests.enginekit import Clock, local
from tests.webkit import csrf_of, herrljunga, service_client, service_config
from tsk_workflow import links
from tsk_workflow.engine.service import Engine
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, AuditPayload, RefusedAct

CLOCK_START = local(2027, 3, 1, 8)
CHAIR = "jessica.wahlstrom"
REPORTER = "ida.wikstrom"
OTHER = "jonas.ek"

ANSWERS = {"a.kategori": "klotter", "a.ort": "herrljunga", "a.beskrivning": "Klotter på stationen."}


@pytest.fixture
def world(store: Store, clock: Clock) -> Any:
    engine = herrljunga(store, clock)
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")
    task_id = next(t.id for t in cycle.tasks if REPORTER in t.assignee_ids)
    with service_client(store, clock) as client:
        yield client, engine, task_id


def _token(engine: Engine, person: str, task_id: int) -> str:
    settings = service_config().links
    assert settings is not None
    return links.make_token(settings, "herrljunga", person, task_id, engine.clock())


def _refused(store: Store) -> list[tuple[str, str, str]]:
    with store.reading() as session:
        rows = session.scalars(select(RefusedAct).order_by(RefusedAct.id))
        return [(r.actor, r.action, r.subject) for r in rows]


def test_the_link_shows_the_task_and_its_form_and_changes_nothing(world: Any, store: Store) -> None:
    client, engine, task_id = world
    page = client.get(f"/t/{_token(engine, REPORTER, task_id)}")
    assert page.status_code == 200
    assert "Månadsrapport till EST" in page.text
    assert 'name="a.kategori"' in page.text
    assert '<label for="f-ort">I vilken ort?' in page.text
    assert "Inget att rapportera (svaren ovan tas då inte med)" in page.text
    with store.reading() as session:
        assert engine.find_task(session, task_id).status == "open"
    english = client.get(f"/t/{_token(engine, REPORTER, task_id)}?lang=en")
    assert "Monthly report to EST" in english.text


def test_completing_through_the_link_is_recorded_as_the_person_via_the_link(
    world: Any, store: Store
) -> None:
    client, engine, task_id = world
    token = _token(engine, REPORTER, task_id)
    page = client.get(f"/t/{token}")
    done = client.post(f"/t/{token}", data={**ANSWERS, "csrf_token": csrf_of(page.text)})
    assert done.status_code == 200, done.text
    assert 'role="status" class="done"' in done.text
    with store.reading() as session:
        task = engine.find_task(session, task_id)
        assert (task.status, task.done_by) == ("done", REPORTER)
        assert task.answers["kategori"] == "klotter"
        payload = session.scalars(
            select(AuditPayload.payload)
            .join(AuditEvent, AuditEvent.seq == AuditPayload.seq)
            .where(AuditEvent.action == "task.done")
        ).one()
    assert payload["via"] == "e-postlänk"


def test_a_post_without_the_pages_token_is_refused(world: Any, store: Store) -> None:
    client, engine, task_id = world
    token = _token(engine, REPORTER, task_id)
    client.get(f"/t/{token}")
    answer = client.post(f"/t/{token}", data={**ANSWERS, "csrf_token": "forged"})
    assert answer.status_code == 403
    with store.reading() as session:
        assert engine.find_task(session, task_id).status == "open"


def test_wrong_answers_come_back_next_to_their_fields(world: Any, store: Store) -> None:
    client, engine, task_id = world
    token = _token(engine, REPORTER, task_id)
    page = client.get(f"/t/{token}")
    answer = client.post(
        f"/t/{token}",
        data={"a.kategori": "klotter", "a.antal": "0", "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 422
    errors = re.findall(r'<p class="error" id="e-(\w+)">', answer.text)
    assert errors == ["ort", "antal", "beskrivning"]
    assert 'aria-describedby="h-antal e-antal"' in answer.text
    assert '<option value="klotter" selected>' in answer.text  # what was given stays
    with store.reading() as session:
        assert engine.find_task(session, task_id).status == "open"


def test_a_link_used_again_after_the_task_is_done_is_refused_and_recorded(
    world: Any, store: Store
) -> None:
    client, engine, task_id = world
    token = _token(engine, REPORTER, task_id)
    csrf = csrf_of(client.get(f"/t/{token}").text)
    assert client.post(f"/t/{token}", data={**ANSWERS, "csrf_token": csrf}).status_code == 200
    shown = client.get(f"/t/{token}")
    assert shown.status_code == 200
    assert "Uppgiften är klar." in shown.text
    again = client.post(f"/t/{token}", data={**ANSWERS, "csrf_token": csrf})
    assert again.status_code == 409
    assert "Uppgiften är klar." in again.text  # what it is now: a double click's second submit
    assert _refused(store)[-1][:2] == (REPORTER, "link.replayed")


def test_a_tampered_link_is_refused_and_recorded(world: Any, store: Store) -> None:
    client, engine, task_id = world
    token = _token(engine, REPORTER, task_id)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    answer = client.get(f"/t/{forged}")
    assert answer.status_code == 403
    assert _refused(store)[-1][:2] == ("-", "link.tampered")
    other_task = _token(engine, REPORTER, task_id + 1).split(".")[0] + "." + token.split(".")[1]
    assert client.get(f"/t/{other_task}").status_code == 403


def test_an_expired_link_is_refused_and_recorded(world: Any, store: Store, clock: Clock) -> None:
    client, engine, task_id = world
    token = _token(engine, REPORTER, task_id)
    clock.advance(days=15)
    answer = client.get(f"/t/{token}")
    assert answer.status_code == 410
    assert _refused(store)[-1] == (
        REPORTER,
        "link.expired",
        f"task:{task_id} link:{links.token_id(token)}",
    )


def test_a_link_to_a_task_that_is_not_the_persons_says_so(world: Any, store: Store) -> None:
    client, engine, task_id = world
    page = client.get(f"/t/{_token(engine, OTHER, task_id)}")
    assert page.status_code == 200
    assert "Uppgiften är inte längre din" in page.text
    assert "Markera som klar" not in page.text
    assert 'name="a.kategori"' not in page.text
