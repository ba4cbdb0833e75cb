"""Notices fired set-based (``engine/notices.py``) do exactly what firing them one by one does.

Two identical databases, the same organisation (one person with the daily digest) and the same
acts; one pass fires the notices set-based, the other with the per-timer handlers (a handler
replaced in ``HANDLERS`` is called for each timer). Everything the passes wrote must be equal:
the outbox rows in order with their contexts, the audit events with their hashes, the timers'
outcomes, and what the passes report.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.dbfixtures import MakeStore
from tests.enginekit import Clock, est_periods
from tests.test_tick import local
from tsk_workflow import audit
from tsk_workflow.catalog import load_catalog, load_organisation, resolve_organisation_path
from tsk_workflow.engine import setup, ticker
from tsk_workflow.engine.service import Engine
from tsk_workflow.engine.ticker import Ticker, TickResult
from tsk_workflow.features import build_engine
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, AuditPayload, OutboxMessage, Timer

START = local(2027, 1, 4, 8)
LATER = local(2027, 2, 15, 10)  # reminders (old and newest), overdue notices, escalations due


def engine_for(store: Store, clock: Clock) -> Engine:
    catalog = load_catalog()
    org = load_organisation("herrljunga", catalog)
    people = [
        person.model_copy(update={"digest": True}) if person.id == "johanna.falk" else person
        for person in org.people
    ]
    return build_engine(store, catalog, org.model_copy(update={"people": people}), clock)


def prepared(store: Store) -> Ticker:
    clock = Clock(START)
    engine = engine_for(store, clock)
    setup.load_organisation(engine, resolve_organisation_path("herrljunga"))
    # Overdue and escalated by LATER; two reminders due, the older skipped; one reminder due.
    openings = [START, START, local(2027, 2, 4, 8), local(2027, 2, 8, 8)]
    for period, opened in zip(est_periods(len(openings)), openings, strict=True):
        clock.now = opened
        engine.open_cycle("jessica.wahlstrom", "est", period)
    clock.now = LATER
    return Ticker({engine.org.municipality: engine}, worker="worker")


def written(store: Store) -> dict[str, Any]:
    with store.reading() as session:
        outbox = [
            (
                row.id,
                row.message_id,
                row.recipient,
                row.email,
                row.language,
                row.template,
                row.context,
                row.status,
                row.attempts,
                row.next_attempt_at,
                row.created_at,
                row.cycle_id,
                row.task_id,
            )
            for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]
        events = [
            (*(getattr(event, name) for name in audit.CHAIN_FIELDS), event.hash, payload)
            for event, payload in session.execute(
                select(AuditEvent, AuditPayload.payload)
                .join(AuditPayload, AuditPayload.seq == AuditEvent.seq)
                .order_by(AuditEvent.seq)
            )
        ]
        timers = [
            (t.id, t.key, t.kind, t.status, t.fire_at, t.fired_at, t.fired_by, t.payload)
            for t in session.scalars(select(Timer).order_by(Timer.id))
        ]
        assert audit.verify(session).ok
    return {"outbox": outbox, "events": events, "timers": timers}


def one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for kind in ("reminder", "due", "escalation"):
        original = ticker.HANDLERS[kind]

        def handler(*args: Any, _original: Any = original) -> bool:
            return bool(_original(*args))

        monkeypatch.setitem(ticker.HANDLERS, kind, handler)


@pytest.mark.parametrize("batch", [500, 7])
def test_set_based_notices_write_what_one_by_one_writes(
    store_kind: str, make_store: MakeStore, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    stores = {way: make_store(store_kind) for way in ("set-based", "one by one")}
    results: dict[str, TickResult] = {}
    for way, store in stores.items():
        ticker_ = prepared(store)
        with monkeypatch.context() as patch:
            if way == "one by one":
                one_by_one(patch)
            results[way] = ticker_.tick(LATER, batch=batch)

    assert results["set-based"].as_dict() == results["one by one"].as_dict()
    fired = results["set-based"].fired
    assert min(fired["reminder"], fired["due"], fired["escalation"]) > 0
    assert results["set-based"].skipped > 0  # the older reminders
    set_based, by_one = (written(store) for store in stores.values())
    assert {row[7] for row in set_based["outbox"]} == {"pending", "digest"}
    for what in ("outbox", "events", "timers"):
        assert set_based[what] == by_one[what], what


def test_a_notice_that_cannot_be_worked_out_fails_alone(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticker_ = prepared(store)
    with store.reading() as session:
        bad = session.scalars(
            select(Timer.id).where(Timer.kind == "escalation").order_by(Timer.id)
        ).first()
    original = ticker.notices._notice

    def failing(engine: Engine, timer: Any, *args: Any) -> Any:
        if timer.id == bad:
            raise RuntimeError("no chair to escalate to")
        return original(engine, timer, *args)

    monkeypatch.setattr(ticker.notices, "_notice", failing)
    result = ticker_.tick(LATER)

    assert result.failed == 1
    with store.reading() as session:
        failed = session.scalars(select(Timer).where(Timer.status == "failed")).one()
        assert failed.id == bad
        assert failed.payload["error"] == "no chair to escalate to"
        assert (failed.fired_by, failed.fired_at) == ("worker", LATER)
        pending = session.scalars(
            select(Timer.id).where(Timer.status == "pending", Timer.fire_at <= LATER)
        ).all()
        assert pending == []
        assert audit.verify(session).ok
