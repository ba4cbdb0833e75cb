"""The audit chain's rows: the lock that serialises appends, the chain's head, writing events
with their payloads, replacing a payload on purge, and reading the chain back.

Only SQL lives here. What a link is (its fields and hash), what a purge may replace and what
verifying finds are the rules of ``tsk_workflow.audit``, which calls these.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Select, func, insert, select, text
from sqlalchemy.orm import Session

from tsk_workflow.store.models import AuditEvent, AuditPayload

CHAIN_LOCK = 7_356_001
"""The PostgreSQL advisory lock key that serialises appends to the chain."""

LINK_FIELDS = (
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
    "hash",
)
"""The columns of an event: what ``chain`` and ``events`` give with the payload's columns."""

_LOCKED_KEY = "tsk_audit_locked"
"""The (sub)transaction in which ``lock_chain`` took the lock last."""

_HEAD_KEY = "tsk_audit_head"
"""Where ``insert_links`` keeps the chain's head between two appends in one transaction."""

_HEAD = select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
_HEAD_AND_COUNT = (
    select(
        AuditEvent.seq,
        AuditEvent.hash,
        select(func.count()).select_from(AuditEvent).scalar_subquery(),
    )
    .order_by(AuditEvent.seq.desc())
    .limit(1)
)
_INSERT_EVENT = insert(AuditEvent.metadata.tables[AuditEvent.__tablename__])
_INSERT_PAYLOAD = insert(AuditPayload.metadata.tables[AuditPayload.__tablename__])


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


def _innermost(session: Session) -> object:
    return session.get_nested_transaction() or session.get_transaction()


def last_link(session: Session) -> tuple[int, str] | None:
    """The chain's newest event ``(seq, hash)``, None for an empty chain, after flushing what
    the session has pending: remembered from the last ``insert_links`` in the same
    (sub)transaction, otherwise read. A savepoint rolled back, or a new transaction, is another
    (sub)transaction, so what was remembered in it is not used."""
    session.flush()
    remembered = session.info.get(_HEAD_KEY)
    if remembered is not None and remembered[0] is _innermost(session):
        return remembered[1], remembered[2]
    head = session.connection().execute(_HEAD).first()
    return (int(head[0]), str(head[1])) if head else None


def insert_links(
    session: Session, events: Sequence[Mapping[str, Any]], payloads: Sequence[Mapping[str, Any]]
) -> None:
    """Write ``events`` (rows of ``LINK_FIELDS``, in seq order) and their ``payloads`` (rows of
    ``seq``, ``payload``, ``purged_at``) with one statement each, in the session's transaction
    (not through the unit of work), and remember the newest as the head (``last_link``)."""
    connection = session.connection()
    connection.execute(_INSERT_EVENT, list(events))
    connection.execute(_INSERT_PAYLOAD, list(payloads))
    newest = events[-1]
    session.info[_HEAD_KEY] = (_innermost(session), newest["seq"], newest["hash"])


def head_and_count(connection: Session | Connection) -> tuple[int, str, int] | None:
    """``(seq, hash, count)`` of the chain's newest event with the number of events, read with
    one statement (one snapshot); None for an empty chain."""
    bind = connection.connection() if isinstance(connection, Session) else connection
    row = bind.execute(_HEAD_AND_COUNT).first()
    return None if row is None else (int(row[0]), str(row[1]), int(row[2]))


def link_hashes(connection: Connection, batch: int = 2_000) -> Iterator[tuple[int, str]]:
    """Every event's ``(seq, hash)`` in seq order, fetched ``batch`` rows at a time."""
    query = select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq)
    for seq, hash in connection.execution_options(yield_per=batch).execute(query):
        yield int(seq), str(hash)


def stored_payload(session: Session, seq: int) -> AuditPayload | None:
    """The payload row of event ``seq``, None when there is none."""
    return session.get(AuditPayload, seq)


def replace_payload(
    session: Session, stored: AuditPayload, payload: dict[str, Any], at: dt.datetime
) -> None:
    """Replace ``stored``'s payload with ``payload``, purged at ``at``. On PostgreSQL through
    ``tsk_purge_payload`` (migration 0004), the one way the application's role may change a
    payload: a function that runs as the tables' owner and writes nothing but the purged value
    (it checks that this is the value given)."""
    if session.get_bind().dialect.name == "postgresql":
        call = text("SELECT tsk_purge_payload(:seq, :at, CAST(:payload AS jsonb))")
        session.execute(call, {"seq": stored.seq, "at": at, "payload": json.dumps(payload)})
        session.expire(stored)  # read again from the row the function wrote
        return
    stored.payload = dict(payload)
    stored.purged_at = at
    session.flush()


def events_of_action(session: Session, action: str) -> list[Mapping[Any, Any]]:
    """The events of ``action``, oldest first: ``seq``, ``municipality``, ``payload_digest``,
    with their payload's ``payload`` and ``purged_at`` (events without a payload left out)."""
    query = (
        select(
            AuditEvent.seq,
            AuditEvent.municipality,
            AuditEvent.payload_digest,
            AuditPayload.payload,
            AuditPayload.purged_at,
        )
        .join(AuditPayload, AuditPayload.seq == AuditEvent.seq)
        .where(AuditEvent.action == action)
        .order_by(AuditEvent.seq)
    )
    return list(session.execute(query).mappings())


def _links() -> Select[Any]:
    columns = [getattr(AuditEvent, name) for name in LINK_FIELDS]
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


def chain(session: Session, batch: int) -> Iterator[Mapping[Any, Any]]:
    """The whole chain in seq order, streamed ``batch`` rows at a time: each event's
    ``LINK_FIELDS`` with its payload's ``payload_seq`` (None when the payload is missing),
    ``payload`` and ``purged_at``."""
    rows = session.execute(_links().execution_options(yield_per=batch))
    yield from rows.mappings()


def events(
    session: Session,
    *,
    municipality: str | None = None,
    cycle_id: int | None = None,
    actor: str | None = None,
    since: dt.datetime | None = None,
    before: dt.datetime | None = None,
    action: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Mapping[Any, Any]]:
    """The events matching every filter given (``since`` inclusive, ``before`` exclusive),
    oldest first, as ``chain`` gives them; ``limit`` of them from the ``offset``-th on."""
    query = _filtered(_links(), municipality, cycle_id, actor, since, before, action)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list(session.execute(query).mappings())


def count_events(
    session: Session,
    *,
    municipality: str | None = None,
    cycle_id: int | None = None,
    actor: str | None = None,
    since: dt.datetime | None = None,
    before: dt.datetime | None = None,
    action: str | None = None,
) -> int:
    """How many events ``events`` finds with the same filters."""
    query = _filtered(
        select(func.count(AuditEvent.seq)), municipality, cycle_id, actor, since, before, action
    )
    return int(session.scalar(query) or 0)


def actions(session: Session, municipality: str | None = None) -> list[str]:
    """The actions the trail holds (of ``municipality`` when given), in order."""
    query = select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    if municipality is not None:
        query = query.where(AuditEvent.municipality == municipality)
    return [str(found) for found in session.scalars(query)]


def _filtered(
    query: Select[Any],
    municipality: str | None,
    cycle_id: int | None,
    actor: str | None,
    since: dt.datetime | None,
    before: dt.datetime | None,
    action: str | None,
) -> Select[Any]:
    if municipality is not None:
        query = query.where(AuditEvent.municipality == municipality)
    if cycle_id is not None:
        query = query.where(AuditEvent.cycle_id == cycle_id)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if before is not None:
        query = query.where(AuditEvent.at < before)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return query
