"""Personal data: ``tsk gdpr purge --before DATE`` removes the free text people wrote (task notes,
text answers, closing notes, the notes of mail already sent, and the audit payloads holding
them) once the municipality's retention time has passed, records the purge with its counts, and
the audit chain still verifies. On both databases."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.enginekit import Clock, Tsk, local, tasks
from tests.reliability.kit import CHAIR, dump, herrljunga
from tests.smtp_server import SmtpServer
from tsk_workflow import audit
from tsk_workflow.engine.service import Engine
from tsk_workflow.mail.outbox import deliver
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, AuditPayload, Cycle, OutboxMessage, Task

OLD = local(2023, 3, 6, 9)
"""When the old cycle ran: more than three years (Herrljunga's retention, P3Y) before NOW."""
NEW = local(2027, 3, 1, 9)
NOW = local(2027, 6, 1, 9)
KANSLICHEF = "marie.lind"
SECRET = "Kalle Svensson på Storgatan 3 klottrar"


def run_month(engine: Engine, clock: Clock, period: str, when: dt.datetime) -> int:
    """An EST month: one report with a form (text answers and a note), the rest with notes, a
    step advanced with a note, the cycle closed with a note, its mail sent."""
    clock.set(when)
    cycle = engine.open_cycle(CHAIR, "est", period).id
    reports = tasks(engine, cycle)
    first = reports[0]
    answers = {
        "kategori": "klotter",
        "ort": "herrljunga",
        "antal": 3,
        "beskrivning": SECRET,
        "forslag": "Ring Kalle",
    }
    engine.complete_task(first.assignees[0], first.id, f"{SECRET} (anteckning)", answers)
    for report in reports[1:3]:
        engine.complete_task(
            report.assignees[0], report.id, "Inget att rapportera", nothing_to_report=True
        )
    clock.set(when + dt.timedelta(days=1))
    engine.advance(CHAIR, cycle, "sammanstall", f"Vi går vidare trots {SECRET}")
    engine.close_cycle(CHAIR, cycle, f"Stängd: {SECRET}", force=True)
    return cycle


@pytest.fixture
def purgeable(
    store: Store, monkeypatch: pytest.MonkeyPatch, runner: CliRunner
) -> tuple[Store, Tsk, int, int]:
    world = herrljunga(store, OLD)
    old = run_month(world.engine, world.clock, "2023-03", OLD)
    with SmtpServer() as smtp:
        env = {"TSK_SMTP_HOST": smtp.host, "TSK_SMTP_PORT": str(smtp.port)}
        deliver(store, {"herrljunga": world.engine.org}, env, OLD + dt.timedelta(days=1))
    new = run_month(world.engine, world.clock, "2027-03", NEW)
    tsk = Tsk(runner, store, "herrljunga", Clock(NOW), monkeypatch)
    return store, tsk, old, new


def texts(store: Store, cycle: int) -> dict[str, Any]:
    """Every free text the cycle has, in rows and audit payloads."""
    with store.reading() as session:
        row = session.get(Cycle, cycle)
        assert row is not None
        found = {
            "close_note": row.close_note,
            "notes": sorted(
                t.note or "" for t in session.scalars(select(Task).where(Task.cycle_id == cycle))
            ),
            "answers": [
                t.answers
                for t in session.scalars(select(Task).where(Task.cycle_id == cycle))
                if t.answers
            ],
            "mail_notes": [
                m.context.get("note")
                for m in session.scalars(
                    select(OutboxMessage).where(OutboxMessage.cycle_id == cycle)
                )
                if m.context.get("note")
            ],
            "payloads": [
                payload
                for (payload,) in session.execute(
                    select(AuditPayload.payload)
                    .join(AuditEvent, AuditEvent.seq == AuditPayload.seq)
                    .where(AuditEvent.cycle_id == cycle)
                    .order_by(AuditEvent.seq)
                )
            ],
        }
    return found


def test_purge_removes_old_free_text_and_the_chain_still_verifies(
    purgeable: tuple[Store, Tsk, int, int],
) -> None:
    store, tsk, old, new = purgeable
    new_before = texts(store, new)
    assert SECRET in json.dumps(texts(store, old), ensure_ascii=False)

    dry = tsk.ok("gdpr", "purge", "--before", "2024-01-01", "--dry-run", as_=KANSLICHEF)
    assert dry["dry_run"]
    assert dry["event"] is None
    assert dry["counts"]["task_notes"] == 3
    result = tsk.ok("gdpr", "purge", "--before", "2024-01-01", as_=KANSLICHEF)

    assert (
        result["counts"]
        == dry["counts"]
        == {
            "task_notes": 3,  # the report's and the two "nothing to report" notes
            "task_answers": 1,  # the report's two text answers; its choices and count stay
            "cycle_notes": 1,
            "mail_notes": 2,  # cycle_closed, sent to the chair and the deputy
            "audit_payloads": 5,  # three task.done, cycle.advanced, cycle.closed (with notes)
            "event_texts": 0,  # no events reported at any time (tests/test_events.py)
            "action_notes": 0,  # no actions followed up (tests/test_actions.py)
            "documents": 0,  # no lägesbild made (test_gdpr_complete.py)
        }
    )
    after = texts(store, old)
    assert SECRET not in json.dumps(after, ensure_ascii=False)
    assert "Ring Kalle" not in json.dumps(after, ensure_ascii=False)
    assert after["close_note"] is None
    assert after["answers"] == [{"kategori": "klotter", "ort": "herrljunga", "antal": 3}]
    assert audit.PURGED in after["payloads"]
    assert texts(store, new) == new_before  # within the retention time: untouched

    verified = tsk("audit", "verify")
    assert verified.exit_code == 0, verified.output
    with store.reading() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "personal_data.purged")
        ).one()
        payload = session.get(AuditPayload, event.seq)
    assert event.actor == KANSLICHEF
    assert event.seq == result["event"]
    assert payload is not None
    assert set(payload.payload) == {
        "before",
        "retention",
        "forced",
        *result["counts"],
        "seqs",  # the events purged: verify holds a purged payload valid only when listed
        "kept",  # what of them is not personal (the task, the step moved to, ...)
        "documents",  # the generated documents made again: none here
        "kept_on_purpose",  # the kinds of data kept on purpose
    }
    with store.reading() as session:
        purged = session.scalars(
            select(AuditPayload.seq).where(AuditPayload.purged_at.is_not(None))
        ).all()
    assert payload.payload["seqs"] == sorted(purged)
    assert len(purged) == result["counts"]["audit_payloads"]
    assert set(payload.payload["kept"]) == {str(seq) for seq in purged}
    assert "Kalle" not in json.dumps(payload.payload, ensure_ascii=False)

    again = tsk.ok("gdpr", "purge", "--before", "2024-01-01", as_=KANSLICHEF)
    assert set(again["counts"].values()) == {0}


def test_purge_within_the_retention_time_needs_force(
    purgeable: tuple[Store, Tsk, int, int],
) -> None:
    store, tsk, _old, new = purgeable
    before = dump(store)
    line = tsk.refused("gdpr", "purge", "--before", "2027-04-01", as_=KANSLICHEF)
    assert "ligger inom lagringstiden (P3Y" in line
    assert "2024-06-01" in line
    assert tsk.refused(
        "gdpr", "purge", "--before", "2027-07-01", "--force", as_=KANSLICHEF
    ).endswith("ligger i framtiden: inget så gammalt kan rensas")
    assert dump(store) == before

    forced = tsk.ok("gdpr", "purge", "--before", "2027-04-01", "--force", as_=KANSLICHEF)
    assert forced["forced"] is True
    assert SECRET not in json.dumps(texts(store, new), ensure_ascii=False)
    assert tsk("audit", "verify").exit_code == 0


def test_only_the_kanslichef_or_a_deputy_may_purge(purgeable: tuple[Store, Tsk, int, int]) -> None:
    store, tsk, _old, _new = purgeable
    before = dump(store)
    line = tsk.refused("gdpr", "purge", "--before", "2024-01-01", as_="sofie.ahlin")
    assert "bara kanslichefen (marie.lind) eller en ersättare får rensa" in line
    assert dump(store) == before
    assert [row["action"] for row in tsk.ok("audit", "--refused")] == ["personal_data.purge"]
    tsk.ok("gdpr", "purge", "--before", "2024-01-01", as_=CHAIR)  # deputy for the kanslichef
    with store.reading() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "personal_data.purged")
        ).one()
    assert (event.actor, event.role) == (CHAIR, "deputy kanslichef")


def test_text_output(purgeable: tuple[Store, Tsk, int, int]) -> None:
    _store, tsk, _old, _new = purgeable
    purge = ("gdpr", "purge", "--before", "2024-01-01")
    english = tsk.text("--lang", "en", *purge, "--dry-run", as_=KANSLICHEF)
    assert english.startswith(
        "Would purge (before 2024-01-01): task notes 3, task answers 1, cycle notes 1"
    )
    assert english.rstrip().endswith("; nothing changed.")
    assert "; kept on purpose: who did what and when, " in english
    line = tsk.text(*purge, as_=KANSLICHEF)
    assert line.startswith(
        "Rensat (före 2024-01-01): anteckningar på uppgifter 3, svar på uppgifter 1,"
        " anteckningar på cykler 1"
    )
