"""The audit trail on both databases: appended, refused, tampered with, verified, exported."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tests.dbfixtures import MakeStore
from tsk_workflow import audit, i18n
from tsk_workflow.errors import NotFound, TskError
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent

T0 = dt.datetime(2027, 3, 1, 8, 0, tzinfo=dt.UTC)
ACTORS = ("anna", "bertil")


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """What verify finds is checked in English, the language of the code here (it is Swedish
    by default: ``tests/test_i18n_errors.py``, ``tests/test_verify_record.py``)."""
    with i18n.speaking("en"):
        yield


def act(i: int, **changes: object) -> audit.Act:
    fields: dict[str, object] = {
        "municipality": "herrljunga" if i % 3 else "tranemo",
        "actor": ACTORS[i % 2],
        "role": "samordnare",
        "action": "task.done",
        "subject": f"task:{i}",
        "payload": {"note": f"klart {i}", "i": i, "namn": "Åsa Öberg"},
        "cycle_id": i % 4 or None,
    }
    fields.update(changes)
    return audit.Act(**fields)  # type: ignore[arg-type]


def append_events(store: Store, count: int, start: int = 1) -> list[AuditEvent]:
    events = []
    for i in range(start, start + count):
        with store.transaction() as session:
            events.append(audit.append(session, act(i), T0 + dt.timedelta(hours=i)))
    return events


def purge_act(*seqs: int, municipality: str = "herrljunga") -> audit.Act:
    """The event of a purge of the payloads of ``seqs`` (as ``gdpr.purge`` appends it)."""
    payload = {"before": "2028-01-01T00:00:00+00:00", "seqs": list(seqs), "kept": {}}
    return audit.Act(
        municipality,
        "marie.lind",
        "kanslichef",
        audit.PURGE_ACTION,
        f"municipality:{municipality}",
        payload,
    )


def check(store: Store) -> audit.VerifyResult:
    with store.reading() as session:
        return audit.verify(session)


def tamper(store: Store, *statements: str) -> None:
    """Change the database as an attacker with full rights would, past the triggers."""
    if store.dialect == "sqlite":
        database = store.engine.url.database
        assert database is not None
        raw = sqlite3.connect(database, isolation_level=None)  # foreign keys off, as by default
        try:
            triggers = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            for (trigger,) in raw.execute(triggers).fetchall():  # those of migrations 0001, 0004
                raw.execute(f"DROP TRIGGER {trigger}")
            for statement in statements:
                raw.execute(statement)
        finally:
            raw.close()
        return
    with store.engine.begin() as connection:
        # Replica mode skips user triggers and foreign keys (a superuser may do this).
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            connection.execute(text(statement))


def sql_time(store: Store, at: dt.datetime) -> str:
    """``at`` as a literal the database reads back as that moment (SQLite keeps UTC text)."""
    at = at.astimezone(dt.UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f") if store.dialect == "sqlite" else at.isoformat()


def forge(store: Store, seq: int, **changes: object) -> None:
    """Change event ``seq`` and rehash it and every event after it, past the triggers: what an
    attacker who can write the database and knows the hash function does (only signed
    checkpoints, or a check of what the events say, catch this)."""
    with store.reading() as session:
        later = list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.seq >= seq).order_by(AuditEvent.seq)
            )
        )
        before = session.get(AuditEvent, seq - 1)
        session.expunge_all()
    prev = before.hash if before is not None else audit.GENESIS
    statements = []
    for event in later:
        if event.seq == seq:
            for name, value in changes.items():
                setattr(event, name, value)
        event.prev_hash = prev
        event.hash = prev = audit.event_hash(event)
        values = {"at": sql_time(store, event.at), "prev_hash": event.prev_hash}
        values |= {name: str(getattr(event, name)) for name in changes if name != "at"}
        assignments = ", ".join(f"{name} = '{value}'" for name, value in values.items())
        statements.append(
            f"UPDATE audit_events SET {assignments}, hash = '{event.hash}' WHERE seq = {event.seq}"
        )
    tamper(store, *statements)


@pytest.fixture
def chain(store: Store) -> Store:
    """A store with ten events appended, one transaction each."""
    append_events(store, 10)
    return store


# --- an honest chain -------------------------------------------------------------------------


def test_empty_chain_is_intact(store: Store) -> None:
    result = check(store)

    assert result.ok
    assert (result.checked, result.first_broken, result.head_hash) == (0, None, None)


def test_appended_chain_verifies(store: Store) -> None:
    events = append_events(store, 10)

    result = check(store)

    assert result.ok, result.reason
    assert result.checked == 10
    assert result.first_broken is None
    assert result.head_hash == events[-1].hash
    assert result.reason == "all 10 events are intact"
    assert [e.seq for e in events] == list(range(1, 11))
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))


def test_verify_streams_across_batches(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "YIELD_PER", 3)
    append_events(store, 10)

    assert check(store).checked == 10


def test_payload_is_kept_as_digested(store: Store) -> None:
    with store.transaction() as session:
        event = audit.append(session, act(1, payload={"on": dt.date(2027, 3, 1)}), T0)

    with store.reading() as session:
        (row,) = audit.query(session)
    assert row.payload == {"on": "2027-03-01"}
    assert row.payload_digest == event.payload_digest
    assert check(store).ok


def test_naive_time_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"), store.transaction() as session:
        audit.append(session, act(1), dt.datetime(2027, 3, 1, 8, 0))


def test_local_time_is_chained_as_utc(store: Store) -> None:
    cet = dt.timezone(dt.timedelta(hours=1))
    with store.transaction() as session:
        event = audit.append(session, act(1), dt.datetime(2027, 3, 1, 9, 0, tzinfo=cet))

    assert event.at == T0
    assert check(store).ok


# --- the database refuses changes --------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET actor = 'mallory' WHERE seq = 3", "DELETE FROM audit_events"],
)
def test_database_refuses_update_and_delete(chain: Store, statement: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"), chain.engine.begin() as connection:
        connection.execute(text(statement))

    assert check(chain).ok


def test_store_reports_the_refusal_in_words(chain: Store) -> None:
    def edit() -> None:
        with chain.transaction() as session:
            event = session.get(AuditEvent, 3)
            assert event is not None
            event.actor = "mallory"

    with pytest.raises(TskError, match="append-only"):
        edit()


@pytest.mark.postgres
def test_postgresql_refuses_truncate(make_store: MakeStore) -> None:
    store = make_store("postgresql")
    append_events(store, 3)

    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_events CASCADE"))

    assert check(store).checked == 3


# --- tampering is detected and located ---------------------------------------------------------


def test_edited_event_is_named(chain: Store) -> None:
    tamper(chain, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 4")

    result = check(chain)

    assert not result.ok
    assert result.first_broken == 4
    assert result.reason == "event 4: hash does not match its contents (edited?)"
    assert result.checked == 10
    assert result.problems == (audit.Problem(4, "edited", result.reason),)
    assert result.problem_count == 1


def test_edit_with_recomputed_hash_breaks_the_next_link(chain: Store) -> None:
    with chain.reading() as session:
        forged = session.get(AuditEvent, 4)
        assert forged is not None
        session.expunge(forged)
    forged.actor = "mallory"
    tamper(
        chain,
        f"UPDATE audit_events SET actor = 'mallory', hash = '{audit.event_hash(forged)}'"
        " WHERE seq = 4",
    )

    result = check(chain)

    assert result.first_broken == 5
    assert result.reason == "event 5: previous hash does not match event 4 (deleted or reordered?)"


def test_deleted_event_is_named_as_a_gap(chain: Store) -> None:
    tamper(
        chain,
        "DELETE FROM audit_payloads WHERE seq = 5",
        "DELETE FROM audit_events WHERE seq = 5",
    )

    result = check(chain)

    assert not result.ok
    assert result.first_broken == 5
    assert result.reason == "event 5 is missing: the sequence jumps from 4 to 6"
    assert result.checked == 9


def test_deleted_range_is_named(chain: Store) -> None:
    tamper(
        chain,
        "DELETE FROM audit_payloads WHERE seq BETWEEN 5 AND 7",
        "DELETE FROM audit_events WHERE seq BETWEEN 5 AND 7",
    )

    assert check(chain).reason == "events 5..7 are missing: the sequence jumps from 4 to 8"


def test_deleted_beginning_is_named(chain: Store) -> None:
    tamper(
        chain,
        "DELETE FROM audit_payloads WHERE seq <= 2",
        "DELETE FROM audit_events WHERE seq <= 2",
    )

    result = check(chain)

    assert result.first_broken == 1
    assert result.reason == "events 1..2 are missing: the chain starts at 3"


def test_deleted_and_renumbered_event_is_detected(chain: Store) -> None:
    tamper(
        chain,
        "DELETE FROM audit_payloads WHERE seq = 5",
        "DELETE FROM audit_events WHERE seq = 5",
        *(f"UPDATE audit_events SET seq = {s - 1} WHERE seq = {s}" for s in range(6, 11)),
        *(f"UPDATE audit_payloads SET seq = {s - 1} WHERE seq = {s}" for s in range(6, 11)),
    )

    result = check(chain)

    assert result.first_broken == 5
    assert "event 5: neither its contents nor its link to event 4 match" in result.reason


def test_swapped_events_are_detected(chain: Store) -> None:
    swap = [
        f"UPDATE {table} SET seq = {new} WHERE seq = {old}"
        for table in ("audit_events", "audit_payloads")
        for old, new in ((3, -1), (6, 3), (-1, 6))
    ]
    tamper(chain, *swap)

    result = check(chain)

    assert not result.ok
    assert result.first_broken == 3
    assert result.reason == (
        "event 3: neither its contents nor its link to event 2 match"
        " (moved, reordered or replaced?)"
    )
    assert any(problem.detail.startswith("event 6:") for problem in result.problems)
    kinds = {problem.kind for problem in result.problems}
    assert {"reordered", "time_backwards"} <= kinds  # event 6 was written 3 hours after 3


def test_edited_payload_is_detected(chain: Store) -> None:
    tamper(chain, """UPDATE audit_payloads SET payload = '{"note": "förfalskad"}' WHERE seq = 2""")

    result = check(chain)

    assert result.first_broken == 2
    assert result.reason == "event 2: payload does not match its digest (edited?)"


def test_deleted_payload_is_detected(chain: Store) -> None:
    tamper(chain, "DELETE FROM audit_payloads WHERE seq = 3")

    assert check(chain).reason == "event 3: its payload is missing (deleted?)"


def test_many_problems_are_counted_not_all_listed(
    chain: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "MAX_PROBLEMS", 2)
    tamper(chain, "UPDATE audit_events SET actor = 'mallory' WHERE seq IN (2, 4, 6, 8)")

    result = check(chain)

    assert [problem.detail for problem in result.problems] == [
        "event 2: hash does not match its contents (edited?)",
        "event 4: hash does not match its contents (edited?)",
    ]
    assert result.problem_count == 4


# --- purging personal data ----------------------------------------------------------------------


def test_purged_payload_keeps_the_chain_intact(chain: Store) -> None:
    purged_at = T0 + dt.timedelta(days=365)
    with chain.transaction() as session:
        audit.purge(session, 4, purged_at)
        audit.append(session, purge_act(4), purged_at)

    result = check(chain)

    assert result.ok, result.reason
    assert result.checked == 11
    with chain.reading() as session:
        row = next(r for r in audit.query(session) if r.seq == 4)
    assert row.payload == audit.PURGED
    assert row.purged_at == purged_at


def test_edit_disguised_as_a_purge_is_detected(chain: Store) -> None:
    tamper(
        chain,
        """UPDATE audit_payloads SET payload = '{"note": "förfalskad"}',"""
        " purged_at = '2028-01-01 00:00:00' WHERE seq = 6",
    )

    result = check(chain)

    assert result.first_broken == 6
    assert result.reason == "event 6: payload is marked purged but is not empty (edited?)"
    assert [problem.kind for problem in result.problems] == ["payload_edited"]


def test_purging_an_unknown_event_is_refused(store: Store) -> None:
    with pytest.raises(NotFound, match="audit event 42"), store.transaction() as session:
        audit.purge(session, 42, T0)


def fake_purge(store: Store, *seqs: int) -> None:
    """Mark payloads purged directly in the database, as no purge did."""
    when = sql_time(store, T0 + dt.timedelta(days=400))
    tamper(
        store,
        *(
            f"""UPDATE audit_payloads SET payload = '{{"purged": true}}', purged_at = '{when}'"""
            f" WHERE seq = {seq}"
            for seq in seqs
        ),
    )


def test_purge_with_no_purge_event_is_fake(chain: Store) -> None:
    fake_purge(chain, 4)

    result = check(chain)

    assert result.problems == (
        audit.Problem(
            4,
            "fake_purge",
            "event 4 (task.done): payload is marked purged, but no later personal_data.purged"
            " event of herrljunga covers it (fake purge?)",
        ),
    )


def test_purge_of_an_act_that_is_never_purged_is_fake(chain: Store) -> None:
    """Even with a purge event naming it: only acts with free text are ever purged."""
    purged_at = T0 + dt.timedelta(days=400)
    with chain.transaction() as session:
        audit.append(session, act(11, action="decision.recorded"), T0 + dt.timedelta(hours=11))
    with chain.transaction() as session:
        audit.purge(session, 11, purged_at)
        audit.append(session, purge_act(11), purged_at)

    result = check(chain)

    assert [(p.seq, p.kind) for p in result.problems] == [(11, "fake_purge")]
    assert result.reason == (
        "event 11 (decision.recorded): payload is marked purged, but a decision.recorded event"
        " holds no personal data and is never purged (fake purge?)"
    )


def test_a_purge_event_covers_only_earlier_events_of_its_municipality(chain: Store) -> None:
    purged_at = T0 + dt.timedelta(days=400)
    with chain.transaction() as session:
        # 4 is Herrljunga's, 6 Tranemo's: a purge by Tranemo cannot cover 4, nor 12 (later)
        audit.append(session, purge_act(4, 6, 12, municipality="tranemo"), purged_at)
        audit.append(session, act(12), purged_at)
    with chain.transaction() as session:
        for seq in (4, 6, 12):
            audit.purge(session, seq, purged_at)

    result = check(chain)

    assert [(p.seq, p.kind) for p in result.problems] == [(4, "fake_purge"), (12, "fake_purge")]


def test_an_older_purge_event_covers_what_is_before_its_cut_off(chain: Store) -> None:
    """A purge event from before purge events listed their events: its cut-off says."""
    purged_at = T0 + dt.timedelta(days=400)
    cut_off = T0 + dt.timedelta(hours=5, minutes=30)
    legacy = replace(purge_act(), payload={"before": cut_off.isoformat(), "audit_payloads": 2})
    with chain.transaction() as session:
        for seq in (2, 4, 7):  # 7 is after the cut-off
            audit.purge(session, seq, purged_at)
        audit.append(session, legacy, purged_at)

    result = check(chain)

    assert [(p.seq, p.kind) for p in result.problems] == [(7, "fake_purge")]


def test_an_edited_purge_event_covers_nothing(chain: Store) -> None:
    purged_at = T0 + dt.timedelta(days=400)
    with chain.transaction() as session:
        audit.purge(session, 4, purged_at)
        audit.append(session, purge_act(4), purged_at)
    tamper(chain, """UPDATE audit_payloads SET payload = '{"seqs": [4, 5]}' WHERE seq = 11""")
    fake_purge(chain, 5)

    result = check(chain)

    assert [(p.seq, p.kind) for p in result.problems] == [
        (4, "fake_purge"),
        (5, "fake_purge"),
        (11, "payload_edited"),
    ]


# --- time --------------------------------------------------------------------------------------


def test_time_going_backwards_is_named(chain: Store) -> None:
    """Event 5 back-dated by 3 hours and the chain rehashed from it: the links hold, time not."""
    forge(chain, 5, at=T0 + dt.timedelta(hours=1))

    result = check(chain)

    assert result.problems == (
        audit.Problem(
            5,
            "time_backwards",
            "event 5: its time 2027-03-01 09:00:00 UTC is 3 h before event 4"
            " (2027-03-01 12:00:00 UTC); clocks may differ by 5 min at most"
            " (back-dated or inserted?)",
        ),
    )
    assert result.first_broken == 5


def test_clocks_may_differ_by_the_stated_skew(store: Store) -> None:
    """Two workers whose clocks differ by a few minutes write a chain whose times go back a
    little: that passes; more than ``CLOCK_SKEW``, or a slow drift back, does not."""
    skew = audit.CLOCK_SKEW
    offsets = [
        dt.timedelta(0),
        -skew + dt.timedelta(seconds=30),  # within the skew of the latest time seen
        dt.timedelta(minutes=1),
        dt.timedelta(minutes=1) - skew + dt.timedelta(seconds=1),
        # 2 min before the event just before it, but 7 min before the latest (event 3)
        dt.timedelta(minutes=1) - skew - dt.timedelta(minutes=2),
        dt.timedelta(minutes=2),
    ]
    for i, offset in enumerate(offsets, start=1):
        with store.transaction() as session:
            audit.append(session, act(i), T0 + offset)

    result = check(store)

    assert [(p.seq, p.kind) for p in result.problems] == [(5, "time_backwards")]
    assert "is 7 min before event 3" in result.reason


# --- concurrent appends ---------------------------------------------------------------------


def test_concurrent_appends_make_one_chain(store: Store) -> None:
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for n in range(25):
                with store.transaction() as session:
                    audit.append(session, act(thread * 100 + n), T0 + dt.timedelta(seconds=n))
        except BaseException as exc:  # reported by the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    result = check(store)
    assert result.ok, result.reason
    with store.reading() as session:
        rows = audit.query(session)
    assert [r.seq for r in rows] == list(range(1, 101))
    assert len({r.prev_hash for r in rows}) == 100  # no two events claim the same predecessor


# --- reading and exporting -------------------------------------------------------------------


def test_query_filters(chain: Store) -> None:
    with chain.reading() as session:
        everything = audit.query(session)
        by_actor = audit.query(session, actor="anna")
        by_town = audit.query(session, municipality="tranemo")
        by_cycle = audit.query(session, cycle_id=2)
        window = audit.query(
            session, since=T0 + dt.timedelta(hours=3), until=T0 + dt.timedelta(hours=5)
        )
        combined = audit.query(session, municipality="herrljunga", actor="bertil", cycle_id=1)

    assert [r.seq for r in everything] == list(range(1, 11))
    assert [r.seq for r in by_actor] == [2, 4, 6, 8, 10]
    assert [r.seq for r in by_town] == [3, 6, 9]
    assert [r.seq for r in by_cycle] == [2, 6, 10]
    assert [r.seq for r in window] == [3, 4]
    assert [r.seq for r in combined] == [1, 5]


def test_query_by_dates_takes_whole_days(store: Store) -> None:
    stockholm = dt.timezone(dt.timedelta(hours=1))
    times = [dt.datetime(2027, 3, d, 23, 30, tzinfo=dt.UTC) for d in (1, 2, 3)]
    for i, at in enumerate(times, start=1):
        with store.transaction() as session:
            audit.append(session, act(i), at)

    with store.reading() as session:
        utc = audit.query(session, since=dt.date(2027, 3, 2), until=dt.date(2027, 3, 2))
        local = audit.query(
            session, since=dt.date(2027, 3, 2), until=dt.date(2027, 3, 3), tz=stockholm
        )

    assert [r.seq for r in utc] == [2]
    assert [r.seq for r in local] == [1, 2]  # 23:30 UTC on the 1st is the 2nd in Stockholm


def test_csv_export(chain: Store) -> None:
    with chain.transaction() as session:
        audit.purge(session, 2, T0)
        rows = audit.query(session, until=T0 + dt.timedelta(hours=3))

    records = list(csv.DictReader(io.StringIO(audit.rows_to_csv(rows))))

    assert [r["seq"] for r in records] == ["1", "2"]
    assert tuple(records[0]) == audit.CSV_COLUMNS
    assert json.loads(records[0]["payload"]) == {"note": "klart 1", "i": 1, "namn": "Åsa Öberg"}
    assert records[0]["at"] == "2027-03-01T09:00:00+00:00"
    assert records[0]["purged_at"] == ""
    assert records[0]["hash"] == rows[0].hash
    assert json.loads(records[1]["payload"]) == audit.PURGED
    assert records[1]["purged_at"] == T0.isoformat()


def test_json_export(chain: Store) -> None:
    with chain.reading() as session:
        rows = audit.query(session, cycle_id=2)

    data = json.loads(audit.rows_to_json(rows))

    assert [d["seq"] for d in data] == [2, 6, 10]
    assert data[0]["payload"]["namn"] == "Åsa Öberg"
    assert data[0]["at"] == "2027-03-01T10:00:00+00:00"
    assert data[0]["prev_hash"] == rows[0].prev_hash


def test_naive_bound_is_refused(chain: Store) -> None:
    with pytest.raises(ValueError, match="naive"), chain.reading() as session:
        audit.query(session, since=dt.datetime(2027, 3, 1))
