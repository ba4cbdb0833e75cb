"""Tampering with the record, kind by kind, on SQLite and PostgreSQL (issue 14).

Each test builds the same small, honest record: Herrljunga's organisation stored, an EST month
with reports, a document, a decision routed and recorded, a real GDPR purge, a checkpoint signed
with a key kept off the database, and a few acts after it. Then it tampers with the record as an
attacker who owns the database would (past the triggers: replica mode on PostgreSQL, the
triggers dropped on SQLite), or with the checkpoint file, and ``tsk audit verify --checkpoints
FILE --public-key FILE --json`` must exit 1 naming the first bad event with the kind of problem.
The honest record verifies, anchored to the checkpoint.

What the database itself refuses to the application role (UPDATE, DELETE, TRUNCATE, disabling
triggers...) is shown by ``tests/test_db_roles.py``; here every kind is detected even when the
attacker has every right.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, create_engine, select, text

from tests.enginekit import Clock, finish_step, local, make_engine, set_up, tasks
from tsk_workflow import audit, gdpr
from tsk_workflow.checkpoints import generate_key, load_private_key, parse, sign
from tsk_workflow.cli import cli
from tsk_workflow.engine import service
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.documents import Upload, attach
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, Task

CHAIR, SECRETARY, KANSLICHEF = "jessica.wahlstrom", "nina.bergqvist", "marie.lind"


@dataclass
class Record:
    """The honest record, and where its notable events are."""

    store: Store
    folder: Path
    key: Path
    checkpoints: Path
    anchored: int
    """The seq the checkpoint signs."""
    last: int
    decision_recorded: int
    task_done: int
    document_attached: int
    after_checkpoint: int
    """A ``task.done`` event after the checkpoint (not yet anchored)."""
    cycle_id: int
    decision_id: int
    document_id: int


def seq_of(store: Store, action: str, *, after: int = 0) -> int:
    with store.reading() as session:
        found = session.scalar(
            select(AuditEvent.seq)
            .where(AuditEvent.action == action, AuditEvent.seq > after)
            .order_by(AuditEvent.seq)
        )
    assert found is not None, action
    return int(found)


def attached_event(store: Store, document: int) -> int:
    """The ``document.attached`` event of ``document`` (the system attaches its own too)."""
    with store.reading() as session:
        found = [
            row.seq
            for row in audit.query(session)
            if row.action == "document.attached" and (row.payload or {}).get("document") == document
        ]
    assert len(found) == 1, found
    return found[0]


def last_seq(store: Store) -> int:
    with store.reading() as session:
        return int(session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())) or 0)


def tsk(store: Store, *args: str, env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(cli, ["--db", store.url, "--org", "herrljunga", *args], env=env)
    return result


@pytest.fixture
def record(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Record:
    clock = Clock(local(2027, 3, 1, 8))
    monkeypatch.setattr(service, "system_clock", clock)
    engine = set_up(make_engine(store, "herrljunga", clock))
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")
    clock.advance(days=2)
    finish_step(engine, cycle.id)
    clock.advance(hours=1)
    document = attach(
        engine, CHAIR, cycle.id, Upload("lagesbild.pdf", b"%PDF-1.7 mars"), "lagesbild"
    )
    clock.advance(hours=1)
    decisions = Decisions(engine)
    decision, _route = decisions.propose(CHAIR, cycle.id, "Belysning vid resecentrum", 20_000)
    clock.advance(days=5)  # Monday 8 March: KLG meets and decides
    decisions.record(SECRETARY, decision.id, "klg", clock.now.date(), "§ 12", "approved")
    clock.advance(days=1)
    # A real purge of the notes written so far: it must verify (forced: within retention).
    gdpr.purge(engine, KANSLICHEF, clock.now.date(), force=True)
    clock.advance(hours=1)

    folder = tmp_path / "off-the-database"
    folder.mkdir()
    key = folder / "audit.key"
    generate_key(key)
    env = {"TSK_AUDIT_KEY": str(key), "TSK_CHECKPOINT_DIR": str(folder)}
    signed = tsk(store, "audit", "checkpoint", "--json", env=env)
    assert signed.exit_code == 0, signed.output
    anchored = int(json.loads(signed.stdout)["seq"])

    clock.advance(days=1)
    open_task = next(t for t in tasks(engine, cycle.id) if t.required)
    engine.complete_task(open_task.assignees[0], open_task.id, "efter kontrollpunkten")
    return Record(
        store=store,
        folder=folder,
        key=key,
        checkpoints=folder / "checkpoints.jsonl",
        anchored=anchored,
        last=last_seq(store),
        decision_recorded=seq_of(store, "decision.recorded"),
        task_done=seq_of(store, "task.done"),
        document_attached=attached_event(store, document.id),
        after_checkpoint=seq_of(store, "task.done", after=anchored),
        cycle_id=cycle.id,
        decision_id=decision.id,
        document_id=document.id,
    )


def verify(record: Record) -> tuple[int, dict[str, Any]]:
    result = tsk(
        record.store,
        "audit",
        "verify",
        "--checkpoints",
        str(record.checkpoints),
        "--public-key",
        f"{record.key}.pub",
        "--json",
    )
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


# ---------------------------------------------------------------- the attacker's tools


@contextmanager
def owner(store: Store) -> Iterator[Connection]:
    """A connection with every right, past the append-only triggers."""
    if store.dialect == "sqlite":
        engine = create_engine(store.url)  # no listeners: foreign keys off, as by default
        try:
            with engine.begin() as connection:
                triggers = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                for (trigger,) in connection.execute(text(triggers)).all():
                    connection.execute(text(f'DROP TRIGGER "{trigger}"'))
                yield connection
        finally:
            engine.dispose()
        return
    with store.engine.begin() as connection:
        # Replica mode skips user triggers and foreign keys (the owner or a superuser may).
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        yield connection


def sql(store: Store, *statements: str, **params: Any) -> None:
    with owner(store) as connection:
        for statement in statements:
            connection.execute(text(statement), params)


def chain_hash(row: dict[str, Any]) -> str:
    """The link's hash as the (public) algorithm makes it: what an attacker recomputes."""
    values = {name: row[name] for name in audit.CHAIN_FIELDS}
    at = values["at"]
    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    values["at"] = at.astimezone(dt.UTC).isoformat()
    return hashlib.sha256(audit.canonical(values)).hexdigest()


Rows = list[dict[str, Any]]


def rewrite_chain(store: Store, change: Callable[[Rows], Rows], *, start: int = 1) -> None:
    """Read the whole chain, let ``change`` edit, drop or insert events, then write it back with
    every link from ``start`` renumbered and rehashed: a chain that verifies on its own."""
    columns = ", ".join((*audit.CHAIN_FIELDS, "hash"))
    with owner(store) as connection:
        rows = [
            dict(r)
            for r in connection.execute(
                text(f"SELECT {columns} FROM audit_events ORDER BY seq")
            ).mappings()
        ]
        payloads = {
            int(r["seq"]): dict(r)
            for r in connection.execute(
                text("SELECT seq, payload, purged_at FROM audit_payloads")
            ).mappings()
        }
        for row in rows:
            row["_payload"] = payloads.get(int(row["seq"]))
        rows = change(rows)
        prev = audit.GENESIS
        for index, row in enumerate(rows, start=1):
            if index >= start:
                if row["_payload"] is not None:
                    row["_payload"] = {**row["_payload"], "seq": index}
                row["seq"] = index
                row["prev_hash"] = prev
                row["hash"] = chain_hash(row)
            prev = row["hash"]
        connection.execute(text("DELETE FROM audit_payloads"))
        connection.execute(text("DELETE FROM audit_events"))
        for row in rows:
            payload = row.pop("_payload")
            connection.execute(
                text(
                    f"INSERT INTO audit_events ({columns}) VALUES ({', '.join(':' + c for c in (*audit.CHAIN_FIELDS, 'hash'))})"
                ),
                row,
            )
            if payload is not None:
                connection.execute(
                    text(
                        "INSERT INTO audit_payloads (seq, payload, purged_at) VALUES (:seq, :payload, :purged_at)"
                    ),
                    {**payload, "payload": _json(payload["payload"])},
                )


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def at_seq(seq: int, change: Callable[[dict[str, Any]], None]) -> Callable[[Rows], Rows]:
    def edit(rows: Rows) -> Rows:
        for row in rows:
            if int(row["seq"]) == seq:
                change(row)
        return rows

    return edit


def checkpoint_line(record: Record) -> dict[str, Any]:
    lines = record.checkpoints.read_text(encoding="utf-8").splitlines()
    return dict(json.loads(lines[-1]))


def write_checkpoint(record: Record, value: dict[str, Any]) -> None:
    record.checkpoints.write_text(json.dumps(value) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- the kinds of tampering


def edit_actor(r: Record) -> int:
    sql(
        r.store,
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = :seq",
        seq=r.decision_recorded,
    )
    return r.decision_recorded


def edit_actor_rehashed(r: Record) -> int:
    rewrite_chain(
        r.store,
        at_seq(r.decision_recorded, lambda row: row.update(actor="mallory")),
        start=r.decision_recorded,
    )
    return r.anchored


def delete_middle(r: Record) -> int:
    sql(
        r.store,
        "DELETE FROM audit_payloads WHERE seq = :seq",
        "DELETE FROM audit_events WHERE seq = :seq",
        seq=r.task_done,
    )
    return r.task_done


def delete_tail(r: Record) -> int:
    cut = r.anchored - 2
    sql(
        r.store,
        "DELETE FROM audit_payloads WHERE seq > :cut",
        "DELETE FROM audit_events WHERE seq > :cut",
        cut=cut,
    )
    return cut + 1


def renumber_middle(r: Record) -> int:
    rewrite_chain(
        r.store,
        lambda rows: [row for row in rows if int(row["seq"]) != r.task_done],
        start=r.task_done,
    )
    return r.anchored


def insert_recomputed(r: Record) -> int:
    def insert(rows: Rows) -> Rows:
        index = next(i for i, row in enumerate(rows) if int(row["seq"]) == r.decision_recorded)
        forged = dict(rows[index])
        forged["_payload"] = {"seq": 0, "payload": {"outcome": "rejected"}, "purged_at": None}
        forged["payload_digest"] = audit.digest({"outcome": "rejected"})
        return [*rows[: index + 1], forged, *rows[index + 1 :]]

    rewrite_chain(r.store, insert, start=r.decision_recorded + 1)
    return r.anchored


def reorder(r: Record) -> int:
    first, second = r.decision_recorded - 1, r.decision_recorded
    sql(
        r.store,
        "UPDATE audit_events SET seq = -1 WHERE seq = :first",
        "UPDATE audit_events SET seq = :first WHERE seq = :second",
        "UPDATE audit_events SET seq = :second WHERE seq = -1",
        first=first,
        second=second,
    )
    return first


def rewrite_whole_chain(r: Record) -> int:
    rewrite_chain(r.store, at_seq(r.decision_recorded, lambda row: row.update(role="kanslichef")))
    return r.anchored


def fake_purge(r: Record) -> int:
    sql(
        r.store,
        "UPDATE audit_payloads SET payload = :purged, purged_at = :at WHERE seq = :seq",
        purged=json.dumps(audit.PURGED),
        at=dt.datetime(2027, 3, 9, 12),
        seq=r.decision_recorded,
    )
    return r.decision_recorded


def fake_purge_uncovered(r: Record) -> int:
    sql(
        r.store,
        "UPDATE audit_payloads SET payload = :purged, purged_at = :at WHERE seq = :seq",
        purged=json.dumps(audit.PURGED),
        at=dt.datetime(2027, 3, 13, 12),
        seq=r.after_checkpoint,
    )
    return r.after_checkpoint


def payload_edit(r: Record) -> int:
    with owner(r.store) as connection:
        payload = connection.execute(
            text("SELECT payload FROM audit_payloads WHERE seq = :seq"), {"seq": r.after_checkpoint}
        ).scalar_one()
        payload = json.loads(payload) if isinstance(payload, str) else payload
        payload["note"] = "skrivet i efterhand"
        connection.execute(
            text("UPDATE audit_payloads SET payload = :payload WHERE seq = :seq"),
            {"payload": json.dumps(payload), "seq": r.after_checkpoint},
        )
    return r.after_checkpoint


def document_swap(r: Record) -> int:
    content = b"%PDF-1.7 en annan bild"
    sql(
        r.store,
        "UPDATE documents SET content = :content, sha256 = :sha, size = :size WHERE id = :id",
        "UPDATE audit_payloads SET payload = :purged, purged_at = :at WHERE seq = :seq",
        content=content,
        sha=hashlib.sha256(content).hexdigest(),
        size=len(content),
        id=r.document_id,
        purged=json.dumps(audit.PURGED),
        at=dt.datetime(2027, 3, 9, 12),
        seq=r.document_attached,
    )
    return r.document_attached


def document_content(r: Record) -> int:
    sql(
        r.store,
        "UPDATE documents SET content = :content WHERE id = :id",
        content=b"%PDF x",
        id=r.document_id,
    )
    return r.document_attached


def document_delete(r: Record) -> int:
    sql(r.store, "DELETE FROM documents WHERE id = :id", id=r.document_id)
    return r.document_attached


def decision_edit(r: Record) -> int:
    sql(
        r.store,
        "UPDATE decisions SET outcome = 'rejected', paragraph = '§ 7' WHERE id = :id",
        id=r.decision_id,
    )
    return r.decision_recorded


def cycle_state_edit(r: Record) -> int:
    sql(
        r.store,
        "UPDATE cycles SET state = 'avslutad', status = 'closed' WHERE id = :id",
        id=r.cycle_id,
    )
    return r.last


def task_status_edit(r: Record) -> int:
    with r.store.reading() as session:
        task = session.scalars(select(Task).where(Task.status == "open").order_by(Task.id)).first()
        assert task is not None
    sql(r.store, "UPDATE tasks SET status = 'done' WHERE id = :id", id=task.id)
    return r.last


def time_backwards(r: Record) -> int:
    def back(row: dict[str, Any]) -> None:
        at = row["at"]
        at = dt.datetime.fromisoformat(at) if isinstance(at, str) else at
        row["at"] = at - dt.timedelta(days=30)

    rewrite_chain(r.store, at_seq(r.after_checkpoint, back), start=r.after_checkpoint)
    return r.after_checkpoint


def forged_checkpoint(r: Record) -> int:
    line = checkpoint_line(r)
    line["seq"] -= 1  # claim a shorter chain was signed
    write_checkpoint(r, line)
    return r.anchored - 1


def checkpoint_other_key(r: Record) -> int:
    other = r.folder / "mallory.key"
    generate_key(other)
    line = checkpoint_line(r)
    made = sign(
        load_private_key(other),
        line["seq"],
        line["hash"],
        line["count"],
        parse(json.dumps(line)).at,
    )
    write_checkpoint(r, made.to_dict())
    return r.anchored


TAMPERING: dict[str, tuple[Callable[[Record], int], set[str]]] = {
    "edit": (edit_actor, {"edited"}),
    "edit_rehashed": (edit_actor_rehashed, {"checkpoint_mismatch"}),
    "delete": (delete_middle, {"missing"}),
    "truncate_tail": (delete_tail, {"truncated"}),
    "renumber": (renumber_middle, {"checkpoint_mismatch"}),
    "insert_recomputed": (insert_recomputed, {"checkpoint_mismatch"}),
    "reorder": (reorder, {"reordered", "link", "edited"}),
    "rewrite_whole_chain": (rewrite_whole_chain, {"checkpoint_mismatch"}),
    "fake_purge": (fake_purge, {"fake_purge"}),
    "fake_purge_uncovered": (fake_purge_uncovered, {"fake_purge"}),
    "payload_edit": (payload_edit, {"payload_edited"}),
    "document_swap": (document_swap, {"fake_purge", "document_changed"}),
    "document_content": (document_content, {"document_changed"}),
    "document_delete": (document_delete, {"document_missing"}),
    "decision_edit": (decision_edit, {"state_mismatch"}),
    "cycle_state_edit": (cycle_state_edit, {"state_mismatch"}),
    "task_status_edit": (task_status_edit, {"state_mismatch"}),
    "time_backwards": (time_backwards, {"time_backwards"}),
    "forged_checkpoint": (forged_checkpoint, {"checkpoint_signature"}),
    "checkpoint_other_key": (checkpoint_other_key, {"checkpoint_signature"}),
}


def test_the_honest_record_verifies_anchored_to_its_checkpoint(record: Record) -> None:
    code, result = verify(record)
    assert (code, result["ok"], result["problems"]) == (0, True, [])
    assert result["events"] == record.last
    assert result["anchored_to"] == record.anchored
    assert result["unanchored"] == record.last - record.anchored


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_tampering_is_detected(record: Record, kind: str) -> None:
    tamper, kinds = TAMPERING[kind]
    first_bad = tamper(record)
    code, result = verify(record)
    assert code == 1
    assert result["ok"] is False
    found = {problem["kind"] for problem in result["problems"]}
    assert found & kinds, result["problems"]
    named = [p["seq"] for p in result["problems"] if p["kind"] in kinds and p["seq"] is not None]
    assert min(named) == first_bad, result["problems"]
