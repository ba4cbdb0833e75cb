"""The audit trail: an append-only chain of events, each hashed over the one before.

``hash = SHA-256(canonical JSON of the event fields, payload digest and previous hash)``. The
payload is stored apart (``audit_payloads``) and only its digest is chained, so purging personal
data from a payload does not break the chain. Appending serialises on the chain's head: SQLite
write transactions are already exclusive; PostgreSQL takes a transaction-level advisory lock.

``verify`` recomputes the chain and locates any edit, deletion or reordering. What it cannot see
on its own is the removal of the newest events (the chain is then shorter, but intact); compare
``VerifyResult.head_hash`` and ``checked`` with a copy kept elsewhere (a printed report, a mail)
to catch that too. Database triggers refuse UPDATE and DELETE of events in the first place.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Select, insert, select, text
from sqlalchemy.orm import Session

from tsk_workflow.errors import NotFound
from tsk_workflow.store.models import AuditEvent, AuditPayload

GENESIS = "0" * 64
CHAIN_LOCK = 7_356_001
"""The PostgreSQL advisory lock key that serialises appends to the chain."""

PURGED: dict[str, Any] = {"purged": True}
"""What a purged payload is replaced with; its digest no longer matches, and need not."""

YIELD_PER = 2_000
"""Rows fetched at a time while verifying: memory stays flat however long the chain is."""

MAX_PROBLEMS = 100
"""``verify`` lists at most this many problems (it still checks every event)."""

CHAIN_FIELDS = (
    "seq",
    "at",
    "municipality",
    "actor",
    "role",
    "action",
    "subject",
    "cycle_id",
    "payload_digest",
    "prev_hash",
)
"""The event fields each link's hash covers (all of them but ``hash`` itself)."""


def canonical(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8; non-JSON values as ``str(value)``."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    ).encode()


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def event_hash(event: AuditEvent) -> str:
    return _chain_hash({name: getattr(event, name) for name in CHAIN_FIELDS})


def _chain_hash(fields: Mapping[Any, Any]) -> str:
    """The hash of one link, from the values of ``CHAIN_FIELDS`` (an event or a result row)."""
    values = {name: fields[name] for name in CHAIN_FIELDS}
    values["at"] = values["at"].astimezone(dt.UTC).isoformat()
    return hashlib.sha256(canonical(values)).hexdigest()


@dataclass(frozen=True)
class Act:
    """What happened, by whom, in which role, to what."""

    municipality: str
    actor: str
    role: str
    action: str
    subject: str
    payload: dict[str, Any]
    cycle_id: int | None = None


def lock_chain(session: Session) -> None:
    """Serialise appends to the chain: on PostgreSQL a transaction-level advisory lock (SQLite's
    write transactions are exclusive already). Taken once per (sub)transaction."""
    if session.get_bind().dialect.name != "postgresql":
        return
    held = session.info.get(_LOCKED_KEY)
    if held is not None and held is _innermost(session):
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    session.info[_LOCKED_KEY] = _innermost(session)


_LOCKED_KEY = "tsk_audit_locked"
"""The (sub)transaction in which ``lock_chain`` took the lock last."""


_HEAD = select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
_INSERT_EVENT = insert(AuditEvent.metadata.tables[AuditEvent.__tablename__])
_INSERT_PAYLOAD = insert(AuditPayload.metadata.tables[AuditPayload.__tablename__])
_HEAD_KEY = "tsk_audit_head"
"""Where ``append`` keeps the chain's head between two appends in one transaction."""


def append(session: Session, act: Act, at: dt.datetime) -> AuditEvent:
    """Add ``act`` as the next link of the chain, in the caller's transaction.

    The payload is stored as its canonical JSON reads back, so that what is kept is exactly what
    was digested (a date in the payload is kept as its ISO text).

    The event and its payload are written at once with two Core statements (not through the
    unit of work: the event is returned as a plain object, not added to the session), after
    flushing what the session has pending. The head of the chain is read once per transaction:
    appending again in the same (sub)transaction takes the head it wrote last.
    """
    return append_many(session, [(act, at)])[0]


def append_many(session: Session, acts: Sequence[tuple[Act, dt.datetime]]) -> list[AuditEvent]:
    """``append`` for each of ``acts`` in order (the same links, the same hashes), written with
    one statement for the events and one for their payloads."""
    return [AuditEvent(**row) for row in write(session, acts)]


def write(session: Session, acts: Sequence[tuple[Act, dt.datetime]]) -> list[dict[str, Any]]:
    """``append_many`` returning the events' rows (the chain fields and ``hash``) instead of
    objects: what the engine's acts use, as they only need the events written."""
    if not acts:
        return []
    if any(at.tzinfo is None for _act, at in acts):
        raise ValueError("naive datetime given to the audit trail; pass an aware one")
    lock_chain(session)
    session.flush()
    connection = session.connection()
    seq, prev = _head(session, connection)
    rows: list[dict[str, Any]] = []
    payloads = []
    for act, at in acts:
        payload = json.loads(canonical(act.payload))
        row: dict[str, Any] = {
            "seq": seq,
            "at": at,
            "municipality": act.municipality,
            "actor": act.actor,
            "role": act.role,
            "action": act.action,
            "subject": act.subject,
            "cycle_id": act.cycle_id,
            "payload_digest": digest(payload),
            "prev_hash": prev,
        }
        row["hash"] = _chain_hash(row)
        rows.append(row)
        payloads.append({"seq": seq, "payload": payload, "purged_at": None})
        seq, prev = seq + 1, row["hash"]
    connection.execute(_INSERT_EVENT, rows)
    connection.execute(_INSERT_PAYLOAD, payloads)
    session.info[_HEAD_KEY] = (_innermost(session), rows[-1]["seq"], rows[-1]["hash"])
    return rows


def _innermost(session: Session) -> object:
    return session.get_nested_transaction() or session.get_transaction()


def _head(session: Session, connection: Any) -> tuple[int, str]:
    """The next sequence number and the previous hash: remembered from the last append in the
    same (sub)transaction, otherwise read. A savepoint rolled back, or a new transaction, is
    another (sub)transaction, so what was remembered in it is not used."""
    remembered = session.info.get(_HEAD_KEY)
    if remembered is not None and remembered[0] is _innermost(session):
        return remembered[1] + 1, remembered[2]
    head = connection.execute(_HEAD).first()
    return (head[0] + 1, head[1]) if head else (1, GENESIS)


def purge(session: Session, seq: int, at: dt.datetime) -> None:
    """Replace the payload of event ``seq`` with ``PURGED`` (personal data gone, chain intact).

    The event itself, with the digest of what the payload was, stays. Record the purge itself as
    an act of its own with ``append`` in the same transaction.
    """
    stored = session.get(AuditPayload, seq)
    if stored is None:
        raise NotFound(f"audit event {seq} has no payload to purge")
    stored.payload = dict(PURGED)
    stored.purged_at = at
    session.flush()


# --- verifying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of ``verify``: ``reason`` is the first problem, in words for people."""

    ok: bool
    checked: int
    first_broken: int | None
    reason: str
    head_hash: str | None = None
    problems: tuple[str, ...] = ()


def with_problems(result: VerifyResult, problems: Sequence[str]) -> VerifyResult:
    """``result`` with further problems found outside the chain (e.g. changed documents)."""
    if not problems:
        return result
    reason = result.reason if not result.ok else problems[0]
    return replace(result, ok=False, reason=reason, problems=(*result.problems, *problems))


@dataclass
class _Checker:
    """Walks the chain in ``seq`` order, one row at a time, remembering only the previous link."""

    checked: int = 0
    prev_seq: int = 0
    prev_hash: str = GENESIS
    first_broken: int | None = None
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    def feed(self, row: Mapping[Any, Any]) -> None:
        seq = int(row["seq"])
        gap = seq != self.prev_seq + 1
        if gap:
            self._problem(self.prev_seq + 1, _gap_message(self.prev_seq, seq))
        contents_ok = _chain_hash(row) == row["hash"]
        link_ok = gap or row["prev_hash"] == self.prev_hash
        if not (contents_ok and link_ok):
            self._problem(seq, _link_message(seq, self.prev_seq, contents_ok, link_ok))
        payload_problem = _payload_message(row)
        if payload_problem:
            self._problem(seq, payload_problem)
        self.checked += 1
        self.prev_seq, self.prev_hash = seq, row["hash"]

    def _problem(self, seq: int, message: str) -> None:
        if self.first_broken is None:
            self.first_broken = seq
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)

    def result(self) -> VerifyResult:
        head = None if self.checked == 0 else self.prev_hash
        if self.problem_count == 0:
            reason = f"all {self.checked} events are intact"
            return VerifyResult(True, self.checked, None, reason, head)
        problems = list(self.problems)
        if self.problem_count > len(problems):
            problems.append(f"... and {self.problem_count - len(problems)} more problems")
        return VerifyResult(
            False, self.checked, self.first_broken, problems[0], head, tuple(problems)
        )


def _gap_message(prev_seq: int, seq: int) -> str:
    first, last = prev_seq + 1, seq - 1
    if last < first:  # pragma: no cover - seq is a primary key read in order
        return f"event {seq} is out of order after event {prev_seq}"
    missing = (
        f"event {first} is missing" if first == last else f"events {first}..{last} are missing"
    )
    if prev_seq == 0:
        return f"{missing}: the chain starts at {seq}"
    return f"{missing}: the sequence jumps from {prev_seq} to {seq}"


def _link_message(seq: int, prev_seq: int, contents_ok: bool, link_ok: bool) -> str:
    if not contents_ok and not link_ok:
        return (
            f"event {seq}: neither its contents nor its link to event {prev_seq} match"
            " (moved, reordered or replaced?)"
        )
    if not contents_ok:
        return f"event {seq}: hash does not match its contents (edited?)"
    if prev_seq == 0:
        return f"event {seq}: previous hash is not the start of the chain (events removed?)"
    return f"event {seq}: previous hash does not match event {prev_seq} (deleted or reordered?)"


def _payload_message(row: Mapping[Any, Any]) -> str | None:
    seq = row["seq"]
    if row["payload_seq"] is None:
        return f"event {seq}: its payload is missing (deleted?)"
    if row["purged_at"] is not None:
        # A purge may only remove: a "purged" payload with content could hide an edit.
        if row["payload"] != PURGED:
            return f"event {seq}: payload is marked purged but is not empty (edited?)"
        return None
    if digest(row["payload"]) != row["payload_digest"]:
        return f"event {seq}: payload does not match its digest (edited?)"
    return None


def _chain_rows() -> Select[Any]:
    columns = [getattr(AuditEvent, name) for name in (*CHAIN_FIELDS, "hash")]
    return (
        select(
            *columns,
            AuditPayload.seq.label("payload_seq"),
            AuditPayload.payload,
            AuditPayload.purged_at,
        )
        .outerjoin(AuditPayload, AuditPayload.seq == AuditEvent.seq)
        .order_by(AuditEvent.seq)
    )


def verify(session: Session) -> VerifyResult:
    """Recompute the whole chain, oldest event first, and say where it breaks, if it does.

    Streams the events (``yield_per``), so a chain of millions of events is checked in constant
    memory. Each payload that is present and not purged is checked against its digest.
    """
    checker = _Checker()
    rows = session.execute(_chain_rows().execution_options(yield_per=YIELD_PER))
    for row in rows.mappings():
        checker.feed(row)
    return checker.result()


# --- reading and exporting -------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRow:
    """One event with its payload (None if missing, ``PURGED`` with ``purged_at`` if purged)."""

    seq: int
    at: dt.datetime
    municipality: str
    actor: str
    role: str
    action: str
    subject: str
    cycle_id: int | None
    payload: dict[str, Any] | None
    purged_at: dt.datetime | None
    payload_digest: str
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 text in UTC."""
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "municipality": self.municipality,
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "subject": self.subject,
            "cycle_id": self.cycle_id,
            "payload": self.payload,
            "purged_at": None if self.purged_at is None else self.purged_at.isoformat(),
            "payload_digest": self.payload_digest,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


CSV_COLUMNS = tuple(AuditRow.__dataclass_fields__)


def _bounds(
    since: dt.datetime | dt.date | None, until: dt.datetime | dt.date | None, tz: dt.tzinfo
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``since`` inclusive, ``until`` exclusive; a date means its whole day in ``tz``."""

    def start(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=tz)

    low = since if isinstance(since, dt.datetime) or since is None else start(since)
    if isinstance(until, dt.datetime) or until is None:
        high = until
    else:
        high = start(until + dt.timedelta(days=1))
    for bound in (low, high):
        if bound is not None and bound.tzinfo is None:
            raise ValueError("naive datetime given as an audit bound; pass an aware one")
    return low, high


def query(
    session: Session,
    municipality: str | None = None,
    cycle_id: int | None = None,
    actor: str | None = None,
    since: dt.datetime | dt.date | None = None,
    until: dt.datetime | dt.date | None = None,
    *,
    tz: dt.tzinfo = dt.UTC,
) -> list[AuditRow]:
    """Events matching every filter given, oldest first.

    ``since`` is inclusive and ``until`` exclusive when they are datetimes; a date stands for
    the whole day in ``tz`` (so ``until=date(2027, 3, 31)`` includes the 31st).
    """
    stmt = _chain_rows()
    low, high = _bounds(since, until, tz)
    filters: list[tuple[Any, Any, Callable[[Any, Any], Any]]] = [
        (AuditEvent.municipality, municipality, operator.eq),
        (AuditEvent.cycle_id, cycle_id, operator.eq),
        (AuditEvent.actor, actor, operator.eq),
        (AuditEvent.at, low, operator.ge),
        (AuditEvent.at, high, operator.lt),
    ]
    for column, value, compare in filters:
        if value is not None:
            stmt = stmt.where(compare(column, value))
    return [_audit_row(row) for row in session.execute(stmt).mappings()]


def _audit_row(row: Mapping[Any, Any]) -> AuditRow:
    present = row["payload_seq"] is not None
    return AuditRow(
        **{name: row[name] for name in (*CHAIN_FIELDS, "hash")},
        payload=row["payload"] if present else None,
        purged_at=row["purged_at"],
    )


def rows_to_csv(rows: Iterable[AuditRow]) -> str:
    """CSV (RFC 4180, header first); the payload column holds the payload as canonical JSON.

    Cells are written exactly as stored, nothing escaped for spreadsheets: this is evidence.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        record = row.to_dict()
        payload = record["payload"]
        record["payload"] = "" if payload is None else canonical(payload).decode()
        writer.writerow(["" if record[name] is None else record[name] for name in CSV_COLUMNS])
    return out.getvalue()


def rows_to_json(rows: Iterable[AuditRow]) -> str:
    """A JSON array of ``AuditRow.to_dict()``."""
    return json.dumps([row.to_dict() for row in rows], ensure_ascii=False, indent=2)
