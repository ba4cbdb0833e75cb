"""The audit trail: an append-only chain of events, each hashed over the one before.

``hash = SHA-256(canonical JSON of the event fields, payload digest and previous hash)``. The
payload is stored apart (``audit_payloads``) and only its digest is chained, so purging personal
data from a payload does not break the chain. Appending serialises on the chain's head: SQLite
write transactions are already exclusive; PostgreSQL takes a transaction-level advisory lock.

``verify`` recomputes the chain and locates any edit, deletion or reordering, a payload that
no longer matches its digest, a payload "purged" without a purge event that covers it (or of an
act that is never purged), and time going backwards along the chain (beyond ``CLOCK_SKEW``).
Each thing found is a ``Problem`` with a stable ``kind``. What it cannot see on its own is the
removal of the newest events (the chain is then shorter, but intact): signed checkpoints kept off
the database (``tsk_workflow.checkpoints``) catch that. ``replay.verify_record`` adds the rest
of the record: the documents, and the state (decisions, cycles, tasks) replayed from the events.
Database triggers refuse UPDATE and DELETE of events in the first place.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tsk_workflow.canonical import canonical as canonical  # the chain hashes it
from tsk_workflow.canonical import digest as digest
from tsk_workflow.errors import NotFound
from tsk_workflow.i18n import _, ngettext
from tsk_workflow.store import audit_chain

# The lock and its key are the store's; named here too, as the engine's acts call
# ``audit.lock_chain(session)`` before they append.
from tsk_workflow.store.audit_chain import CHAIN_LOCK as CHAIN_LOCK
from tsk_workflow.store.audit_chain import lock_chain as lock_chain
from tsk_workflow.store.models import AuditEvent

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session

GENESIS = "0" * 64

PURGED: dict[str, Any] = {"purged": True}
"""What a purged payload is replaced with; its digest no longer matches, and need not."""

YIELD_PER = 2_000
"""Rows fetched at a time while verifying: memory stays flat however long the chain is."""

MAX_PROBLEMS = 100
"""``verify`` lists at most this many problems (it still checks every event)."""

CHAIN_FIELDS = tuple(name for name in audit_chain.LINK_FIELDS if name != "hash")
"""The event fields each link's hash covers (all of them but ``hash`` itself)."""


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
    last = audit_chain.last_link(session)
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
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
    audit_chain.insert_links(session, rows, payloads)
    return rows


def purge(session: Session, seq: int, at: dt.datetime) -> None:
    """Replace the payload of event ``seq`` with ``PURGED`` (personal data gone, chain intact).

    The event itself, with the digest of what the payload was, stays. Record the purge itself as
    an act of its own with ``append`` in the same transaction. A payload purged already is left
    as it is (with the time of its first purge).

    The database refuses every other change of a payload (a trigger, migration 0004). On
    PostgreSQL the application's role may not UPDATE the audit tables at all: the purge goes
    through ``tsk_purge_payload``, a function that runs as the tables' owner and can do nothing
    but this; it checks that ``PURGED`` is the value it writes.
    """
    stored = audit_chain.stored_payload(session, seq)
    if stored is None:
        raise NotFound(_("audit event {seq} has no payload to purge").format(seq=seq))
    if stored.purged_at is not None:
        return
    audit_chain.replace_payload(session, stored, PURGED, at)


# --- verifying -------------------------------------------------------------------------------

CLOCK_SKEW = dt.timedelta(minutes=5)
"""How much earlier than the latest event before it an event may be stamped: the machines that
append (several workers on one PostgreSQL, each with its own clock) may disagree by this much.
An event stamped earlier than that is reported (``time_backwards``) and becomes the new
reference, so one step back is reported once and a slow drift back is caught too."""

PURGE_ACTION = "personal_data.purged"
"""The act that purges personal data from payloads (``gdpr.purge``)."""

PURGEABLE_ACTIONS = frozenset({"cycle.advanced", "cycle.closed", "task.done"})
"""The only actions whose payloads hold free text written by a person, so the only ones whose
payload a purge may replace (``gdpr`` purges nothing else)."""

KEPT_ON_PURGE = (
    "trigger",
    "from",
    "to",
    "task",
    "key",
    "step",
    "cancelled_tasks",
    "automatic",
    "late",
    "forced",
    "state",
    "via",
)
"""The fields of a purged payload that hold no personal data and that replaying the state needs
(and ``via``, how the act came: ``e-postlänk`` for a task link): the purge event restates them
(its payload's ``kept``), as the purged payload is ``PURGED``."""


@dataclass(frozen=True)
class Problem:
    """One thing ``verify`` found wrong: the event it concerns (None when there is no single
    event, such as a checkpoint file that cannot be read), a short kind for programs
    (``edited``, ``missing``, ``checkpoint_signature``, ...), and what it means in words."""

    seq: int | None
    kind: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of ``verify``.

    ``problems`` are ordered by the event they concern (those about no event last), at most
    ``MAX_PROBLEMS`` of them; ``problem_count`` counts them all. ``first_broken`` is the
    smallest event named by a problem, ``reason`` the first problem in words (or, when all is
    well, that it is). ``hashes`` holds the chain's hashes at the events asked for
    (``hashes_at``: the sequence numbers that checkpoints cover); ``anchored_to`` is the newest
    event a valid checkpoint covers, when checkpoints were checked.
    """

    ok: bool
    checked: int
    first_broken: int | None
    reason: str
    head_hash: str | None = None
    problems: tuple[Problem, ...] = ()
    head_seq: int | None = None
    problem_count: int = 0
    hashes: Mapping[int, str] = field(default_factory=dict)
    anchored_to: int | None = None

    @property
    def unanchored(self) -> int:
        """How many events come after the newest one a checkpoint covers (all without one)."""
        if self.head_seq is None:
            return 0
        if self.anchored_to is None:
            return self.checked
        return max(0, self.head_seq - self.anchored_to)


def _order(problem: Problem) -> tuple[bool, int]:
    return (problem.seq is None, problem.seq or 0)


def with_problems(
    result: VerifyResult, problems: Sequence[Problem], *, count: int | None = None
) -> VerifyResult:
    """``result`` with further problems found outside the chain (documents, the state replayed,
    checkpoints); ``count`` is how many there were when ``problems`` lists only some."""
    if not problems:
        return result
    merged = sorted((*result.problems, *problems), key=_order)[:MAX_PROBLEMS]
    first = merged[0]
    return replace(
        result,
        ok=False,
        first_broken=first.seq,
        reason=first.detail,
        problems=tuple(merged),
        problem_count=result.problem_count + (len(problems) if count is None else count),
    )


@dataclass(frozen=True)
class PurgeEvent:
    """A ``personal_data.purged`` event: which events it purged (``seqs``; older purges said
    only their cut-off, ``before``) and what it kept of their payloads (``kept``). ``intact``
    when its own payload is there, unpurged and matches its digest: only then does it count."""

    seq: int
    municipality: str
    before: dt.datetime | None
    seqs: frozenset[int] | None
    kept: Mapping[int, Mapping[str, Any]]
    intact: bool

    def covers(self, seq: int, municipality: str, at: dt.datetime) -> bool:
        if not self.intact or seq >= self.seq or municipality != self.municipality:
            return False
        if self.seqs is not None:
            return seq in self.seqs
        return self.before is not None and at < self.before


def purge_events(session: Session) -> list[PurgeEvent]:
    """The purge events of the chain, oldest first (a handful: one per purge)."""
    return [_purge_event(row) for row in audit_chain.events_of_action(session, PURGE_ACTION)]


def _purge_event(row: Mapping[Any, Any]) -> PurgeEvent:
    payload = row["payload"] if isinstance(row["payload"], dict) else {}
    intact = row["purged_at"] is None and digest(payload) == row["payload_digest"]
    try:
        before = dt.datetime.fromisoformat(str(payload["before"])) if "before" in payload else None
        seqs = frozenset(int(s) for s in payload["seqs"]) if "seqs" in payload else None
        kept = {int(s): dict(fields) for s, fields in dict(payload.get("kept") or {}).items()}
    except (TypeError, ValueError, AttributeError):
        before, seqs, kept, intact = None, None, {}, False
    if before is not None and before.tzinfo is None:
        before = before.replace(tzinfo=dt.UTC)
    return PurgeEvent(int(row["seq"]), str(row["municipality"]), before, seqs, kept, intact)


Observer = Callable[[Mapping[Any, Any], Mapping[str, Any] | None], None]
"""Called with each event of the chain, in order, and its payload as far as it is known: the
stored one; for a purged event, what its purge event kept of it (None if nothing); None when
the payload is missing."""


@dataclass
class _Checker:
    """Walks the chain in ``seq`` order, one row at a time, remembering only the previous link
    (and the latest time seen)."""

    purges: Sequence[PurgeEvent] = ()
    hashes_at: Collection[int] = frozenset()
    checked: int = 0
    prev_seq: int = 0
    prev_hash: str = GENESIS
    latest: tuple[int, dt.datetime] | None = None
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    hashes: dict[int, str] = field(default_factory=dict)

    def feed(self, row: Mapping[Any, Any]) -> Mapping[str, Any] | None:
        """Check one event; return its payload as far as it is known (``Observer``)."""
        seq = int(row["seq"])
        gap = seq != self.prev_seq + 1
        if gap:
            self._problem(self.prev_seq + 1, *_gap_problem(self.prev_seq, seq))
        contents_ok = _chain_hash(row) == row["hash"]
        link_ok = gap or row["prev_hash"] == self.prev_hash
        if not (contents_ok and link_ok):
            self._problem(seq, *_link_problem(seq, self.prev_seq, contents_ok, link_ok))
        payload, problem = self._payload(row)
        if problem:
            self._problem(seq, *problem)
        self._time(seq, row["at"])
        if seq in self.hashes_at:
            self.hashes[seq] = row["hash"]
        self.checked += 1
        self.prev_seq, self.prev_hash = seq, row["hash"]
        return payload

    def _payload(
        self, row: Mapping[Any, Any]
    ) -> tuple[Mapping[str, Any] | None, tuple[str, str] | None]:
        seq, action = row["seq"], row["action"]
        if row["payload_seq"] is None:
            return None, (
                "payload_missing",
                _("event {seq}: its payload is missing (deleted?)").format(seq=seq),
            )
        payload = row["payload"]
        if row["purged_at"] is None:
            if digest(payload) != row["payload_digest"]:
                return None, (
                    "payload_edited",
                    _("event {seq}: payload does not match its digest (edited?)").format(seq=seq),
                )
            return payload, None
        # A purge may only remove: a "purged" payload with content could hide an edit.
        if payload != PURGED:
            return None, (
                "payload_edited",
                _("event {seq}: payload is marked purged but is not empty (edited?)").format(
                    seq=seq
                ),
            )
        if action not in PURGEABLE_ACTIONS:
            return None, (
                "fake_purge",
                _(
                    "event {seq} ({action}): payload is marked purged, but a {action} event holds"
                    " no personal data and is never purged (fake purge?)"
                ).format(seq=seq, action=action),
            )
        cover = next(
            (p for p in self.purges if p.covers(seq, row["municipality"], row["at"])), None
        )
        if cover is None:
            return None, (
                "fake_purge",
                _(
                    "event {seq} ({action}): payload is marked purged, but no later {purge}"
                    " event of {municipality} covers it (fake purge?)"
                ).format(
                    seq=seq, action=action, purge=PURGE_ACTION, municipality=row["municipality"]
                ),
            )
        return cover.kept.get(seq), None

    def _time(self, seq: int, at: dt.datetime) -> None:
        if self.latest is not None and at < self.latest[1] - CLOCK_SKEW:
            before_seq, before_at = self.latest
            self._problem(
                seq,
                "time_backwards",
                _(
                    "event {seq}: its time {at} is {span} before event {before} ({before_at});"
                    " clocks may differ by {skew} at most (back-dated or inserted?)"
                ).format(
                    seq=seq,
                    at=_when(at),
                    span=_span(before_at - at),
                    before=before_seq,
                    before_at=_when(before_at),
                    skew=_span(CLOCK_SKEW),
                ),
            )
            self.latest = (seq, at)
        elif self.latest is None or at > self.latest[1]:
            self.latest = (seq, at)

    def _problem(self, seq: int, kind: str, detail: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(seq, kind, detail))

    def result(self) -> VerifyResult:
        head = None if self.checked == 0 else self.prev_hash
        head_seq = None if self.checked == 0 else self.prev_seq
        if self.problem_count == 0:
            reason = ngettext(
                "{n} event is intact", "all {n} events are intact", self.checked
            ).format(n=self.checked)
            return VerifyResult(
                True, self.checked, None, reason, head, (), head_seq, 0, dict(self.hashes)
            )
        problems = sorted(self.problems, key=_order)
        return VerifyResult(
            False,
            self.checked,
            problems[0].seq,
            problems[0].detail,
            head,
            tuple(problems),
            head_seq,
            self.problem_count,
            dict(self.hashes),
        )


def _when(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}" + (
                f" {seconds % size // 60} min" if unit == "h" and seconds % size >= 60 else ""
            )
    return f"{seconds} s"


def _gap_problem(prev_seq: int, seq: int) -> tuple[str, str]:
    first, last = prev_seq + 1, seq - 1
    if last < first:  # pragma: no cover - seq is a primary key read in order
        return "reordered", _("event {seq} is out of order after event {prev}").format(
            seq=seq, prev=prev_seq
        )
    missing = (
        _("event {first} is missing").format(first=first)
        if first == last
        else _("events {first}..{last} are missing").format(first=first, last=last)
    )
    if prev_seq == 0:
        return "missing", _("{missing}: the chain starts at {seq}").format(missing=missing, seq=seq)
    return "missing", _("{missing}: the sequence jumps from {prev} to {seq}").format(
        missing=missing, prev=prev_seq, seq=seq
    )


def _link_problem(seq: int, prev_seq: int, contents_ok: bool, link_ok: bool) -> tuple[str, str]:
    if not contents_ok and not link_ok:
        return "reordered", (
            _(
                "event {seq}: neither its contents nor its link to event {prev} match"
                " (moved, reordered or replaced?)"
            ).format(seq=seq, prev=prev_seq)
        )
    if not contents_ok:
        return "edited", _("event {seq}: hash does not match its contents (edited?)").format(
            seq=seq
        )
    if prev_seq == 0:
        return (
            "link",
            _("event {seq}: previous hash is not the start of the chain (events removed?)").format(
                seq=seq
            ),
        )
    return (
        "link",
        _("event {seq}: previous hash does not match event {prev} (deleted or reordered?)").format(
            seq=seq, prev=prev_seq
        ),
    )


def verify(
    session: Session, *, observe: Observer | None = None, hashes_at: Collection[int] = ()
) -> VerifyResult:
    """Recompute the whole chain, oldest event first, and say where it breaks, if it does.

    Each link's hash and its link to the one before; each payload that is present and not
    purged against its digest; each purged payload against the purge events (a first, small
    query), which must be later, of the same municipality, and name it (or, for older purges,
    have a cut-off after it), and only for ``PURGEABLE_ACTIONS``; and that time does not go
    back by more than ``CLOCK_SKEW``. Streams the events (``yield_per``), so a chain of millions
    of events is checked in constant memory; ``observe`` sees each event on the way (the state
    is replayed so: ``tsk_workflow.replay``), and the hashes at ``hashes_at`` are kept.

    The state (decisions, cycles, tasks, documents) is not looked at here: see
    ``replay.verify_record``, which checks everything the record claims.
    """
    checker = _Checker(purges=purge_events(session), hashes_at=frozenset(hashes_at))
    for row in audit_chain.chain(session, YIELD_PER):
        payload = checker.feed(row)
        if observe is not None:
            observe(row, payload)
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
    action: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[AuditRow]:
    """Events matching every filter given, oldest first (``limit`` of them from the
    ``offset``-th on, for a page).

    ``since`` is inclusive and ``until`` exclusive when they are datetimes; a date stands for
    the whole day in ``tz`` (so ``until=date(2027, 3, 31)`` includes the 31st).
    """
    low, high = _bounds(since, until, tz)
    rows = audit_chain.events(
        session,
        municipality=municipality,
        cycle_id=cycle_id,
        actor=actor,
        since=low,
        before=high,
        action=action,
        limit=limit,
        offset=offset,
    )
    return [_audit_row(row) for row in rows]


def count(
    session: Session,
    municipality: str | None = None,
    cycle_id: int | None = None,
    actor: str | None = None,
    since: dt.datetime | dt.date | None = None,
    until: dt.datetime | dt.date | None = None,
    *,
    tz: dt.tzinfo = dt.UTC,
    action: str | None = None,
) -> int:
    """How many events :func:`query` finds with the same filters."""
    low, high = _bounds(since, until, tz)
    return audit_chain.count_events(
        session,
        municipality=municipality,
        cycle_id=cycle_id,
        actor=actor,
        since=low,
        before=high,
        action=action,
    )


def actions(session: Session, municipality: str | None = None) -> list[str]:
    """The kinds of event (``cycle.opened``, ``task.done``, ...) the trail holds."""
    return audit_chain.actions(session, municipality)


def _audit_row(row: Mapping[Any, Any]) -> AuditRow:
    present = row["payload_seq"] is not None
    return AuditRow(
        **{name: row[name] for name in (*CHAIN_FIELDS, "hash")},
        payload=row["payload"] if present else None,
        purged_at=row["purged_at"],
    )


def rows_to_csv(rows: Iterable[AuditRow], delimiter: str = ",") -> str:
    """CSV (RFC 4180, header first); the payload column holds the payload as canonical JSON.
    ``delimiter`` ``;`` is what Swedish spreadsheets open (the web app's export).

    Cells are written exactly as stored, nothing escaped for spreadsheets: this is evidence.
    """
    return records_to_csv((row.to_dict() for row in rows), delimiter)


def records_to_csv(records: Iterable[Mapping[str, Any]], delimiter: str = ",") -> str:
    """:func:`rows_to_csv` of the rows as JSON (``AuditRow.to_dict()``, what the service's API
    answers)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(CSV_COLUMNS)
    for found in records:
        record = dict(found)
        payload = record["payload"]
        record["payload"] = "" if payload is None else canonical(payload).decode()
        writer.writerow(["" if record[name] is None else record[name] for name in CSV_COLUMNS])
    return out.getvalue()


def rows_to_json(rows: Iterable[AuditRow]) -> str:
    """A JSON array of ``AuditRow.to_dict()``."""
    return json.dumps([row.to_dict() for row in rows], ensure_ascii=False, indent=2)
