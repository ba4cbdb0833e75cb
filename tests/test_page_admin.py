"""The administration page (``/admin``): for the organisation's admins only (anyone else is
refused with a page, and the refusal recorded); the versions of the organisation and who loaded
them; the mail's state, and retrying failed mail, which changes the outbox row and records who
did it (once for a double submit); the checkpoints the service keeps, and one made now. On
SQLite and PostgreSQL, through HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import REPO
from tests.enginekit import Clock, events, local
from tests.pagekit import table
from tests.webkit import csrf_of, demo_sign_in, herrljunga, service_client
from tsk_workflow import checkpoints
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import OutboxMessage, RefusedAct

CLOCK_START = local(2027, 3, 1, 8)
CHAIR = "jessica.wahlstrom"
REPORTER = "ida.wikstrom"
ADMIN = "marie.lind"


@pytest.fixture
def world(store: Store, clock: Clock, tmp_path: Path) -> Any:
    engine = herrljunga(store, clock)
    engine.open_cycle(CHAIR, "est", "2027-03")
    key = checkpoints.generate_key(tmp_path / "audit.key")
    environ = {
        "TSK_AUDIT_KEY": str(key.private),
        "TSK_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
    }
    with service_client(store, clock, environ) as client:
        yield client, engine, environ


def _fail(store: Store, reply: str = "550 <b>no such user</b>") -> int:
    """Mark the first queued mail failed, as the sender does after a permanent failure."""
    with store.transaction() as session:
        first = session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).first()
        assert first is not None
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == first)
            .values(status="failed", attempts=3, last_reply=reply)
        )
    return first


def _message(store: Store, message_id: int) -> OutboxMessage:
    with store.reading() as session:
        found = session.get(OutboxMessage, message_id)
        assert found is not None
        session.expunge(found)
        return found


def _last_refusal(store: Store) -> RefusedAct:
    with store.reading() as session:
        found = session.scalars(select(RefusedAct).order_by(RefusedAct.id.desc())).first()
        assert found is not None
        return found


def test_a_reporter_is_refused_the_page_and_its_acts(world: Any, store: Store) -> None:
    client, _engine, environ = world
    failed = _fail(store)
    token = demo_sign_in(client, REPORTER)
    page = client.get("/admin")
    assert page.status_code == 403
    assert "endast administratörerna för Herrljunga kommun" in page.text
    assert (_last_refusal(store).actor, _last_refusal(store).action) == (REPORTER, "admin")
    retried = client.post("/admin/mail/retry", data={"csrf_token": token, "message": failed})
    assert retried.status_code == 403
    assert _message(store, failed).status == "failed"
    assert (_last_refusal(store).actor, _last_refusal(store).action) == (REPORTER, "mail.retried")
    signed = client.post("/admin/checkpoint", data={"csrf_token": token})
    assert signed.status_code == 403
    assert not (Path(environ["TSK_CHECKPOINT_DIR"]) / "checkpoints.jsonl").exists()


def test_the_organisation_versions_and_who_loaded_them(world: Any) -> None:
    client, _engine, _environ = world
    token = demo_sign_in(client, ADMIN)
    text = (REPO / "municipalities" / "herrljunga.yaml").read_text(encoding="utf-8")
    loaded = client.post(
        "/api/v1/org",
        files={"file": ("herrljunga.yaml", text + "\n# <b>version 2</b>\n", "application/yaml")},
        headers={"X-CSRF-Token": token},
    )
    assert loaded.status_code == 200, loaded.text
    page = client.get("/admin")
    assert page.status_code == 200, page.text
    versions = table(page.text, "version-table")[1:]
    assert [row[0] for row in versions] == ["2", "1"]  # newest first
    assert versions[0][2].startswith("Marie Lind (marie.lind)")
    assert versions[1][2].startswith("tsk")
    assert versions[0][3].startswith("herrljunga.yaml | sha256 ")


def test_retrying_failed_mail_changes_the_row_and_records_who(world: Any, store: Store) -> None:
    client, _engine, _environ = world
    failed = _fail(store)
    demo_sign_in(client, ADMIN)
    page = client.get("/admin")
    rows = table(page.text, "failed-table")[1:]
    assert [(row[0], row[3], row[4]) for row in rows] == [
        (str(failed), "3", "550 <b>no such user</b>")  # the server's reply as text
    ]
    assert "<b>no such user</b>" not in page.text
    token = csrf_of(page.text)
    form = {"csrf_token": token, "message": str(failed)}
    answer = client.post("/admin/mail/retry", data=form)
    assert (answer.status_code, answer.headers["location"]) == (303, "/admin")
    row = _message(store, failed)
    assert (row.status, row.attempts) == ("pending", 0)
    retried = events(store, "mail.retried")
    assert [(e.actor, e.subject) for e in retried] == [(ADMIN, f"mail:{failed}")]
    after = client.get("/admin").text
    assert "1 meddelande köat igen." in after
    assert 'id="failed-table"' not in after
    again = client.post("/admin/mail/retry", data=form)  # a double submit: no second act
    assert again.status_code == 303
    assert len(events(store, "mail.retried")) == 1
    assert "inte misslyckat eller hållet" in client.get("/admin").text


def test_retrying_all_and_a_bad_number(world: Any, store: Store) -> None:
    client, _engine, _environ = world
    failed = _fail(store)
    token = demo_sign_in(client, ADMIN)
    bad = client.post("/admin/mail/retry", data={"csrf_token": token, "message": "1; DROP"})
    assert bad.status_code == 303
    assert "är inget nummer" in client.get("/admin").text
    assert _message(store, failed).status == "failed"
    everything = client.post("/admin/mail/retry", data={"csrf_token": token})
    assert everything.status_code == 303
    assert _message(store, failed).status == "pending"
    assert [e.subject for e in events(store, "mail.retried")] == ["municipality:herrljunga"]
    missing_token = client.post("/admin/mail/retry", data={"message": str(failed)})
    assert missing_token.status_code == 403


def test_a_checkpoint_made_now_is_listed(world: Any, store: Store) -> None:
    client, _engine, environ = world
    demo_sign_in(client, ADMIN)
    page = client.get("/admin")
    assert "Ingen kontrollpunkt" in page.text
    token = csrf_of(page.text)
    made = client.post("/admin/checkpoint", data={"csrf_token": token})
    assert made.status_code == 303
    kept = checkpoints.kept(environ)
    assert len(kept.checkpoints) == 1
    assert "Kontrollpunkt för händelse" in client.get("/admin").text
    again = client.post("/admin/checkpoint", data={"csrf_token": token})  # sent twice
    assert again.status_code == 303
    assert len(checkpoints.kept(environ).checkpoints) == 1
    assert "ingen gjordes" in client.get("/admin").text
    listed = client.get("/admin").text
    rows = table(listed, "checkpoint-table")[1:]
    assert [row[1] for row in rows] == [str(kept.checkpoints[0].seq)]
    assert environ["TSK_CHECKPOINT_DIR"] in listed


def test_without_a_key_no_checkpoint_is_offered(store: Store, clock: Clock) -> None:
    herrljunga(store, clock)
    with service_client(store, clock) as client:
        demo_sign_in(client, ADMIN)
        page = client.get("/admin").text
    assert "TSK_CHECKPOINT_DIR" in page
    assert 'action="/admin/checkpoint"' not in page
