"""The outbox's rows: claiming what is due, marking what became of it, counting and requeueing,
and the rows a daily digest gathers. The delivery policy (lease, retries, backoff, what a
digest holds) is ``tsk_workflow.mail``'s. Queueing new mail is :func:`queue_mail` (an act's
goes through ``store.acts``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Insert, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tsk_workflow.store.models import Cycle, MailServer, OutboxMessage, Task


def claim_due(
    session: Session,
    municipalities: Collection[str],
    now: dt.datetime,
    batch: int,
    lease_until: dt.datetime,
    token: str,
) -> list[OutboxMessage]:
    """Up to ``batch`` pending rows of ``municipalities`` due at ``now``, soonest first, each
    leased to the delivery ``token`` (``next_attempt_at`` moved to ``lease_until``,
    ``claim_token`` set) in the session's transaction. On PostgreSQL the rows are locked ``FOR
    UPDATE SKIP LOCKED``, so two workers claim different rows."""
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.municipality.in_(list(municipalities)),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    for row in rows:
        row.next_attempt_at = lease_until
        row.claim_token = token
    return rows


def _held(ids: Collection[int], token: str) -> Any:
    return (
        OutboxMessage.id.in_(list(ids)),
        OutboxMessage.claim_token == token,
        OutboxMessage.status == "pending",
    )


def holds(session: Session, row_id: int, token: str) -> bool:
    """Whether the delivery ``token`` still holds row ``row_id`` (no other took it over, nobody
    purged or requeued it)."""
    found = session.execute(select(OutboxMessage.id).where(*_held([row_id], token)))
    return found.first() is not None


def held_of(session: Session, ids: Collection[int], token: str) -> set[int]:
    """Which of ``ids`` the delivery ``token`` still holds; on PostgreSQL they stay locked to
    the end of the transaction, so no other delivery takes them over meanwhile."""
    if not ids:
        return set()
    query = select(OutboxMessage.id).where(*_held(ids, token))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return {int(found) for found in session.scalars(query)}


def renew(session: Session, ids: Collection[int], token: str, lease_until: dt.datetime) -> set[int]:
    """Lease again to ``lease_until`` those of ``ids`` the delivery ``token`` still holds; returns
    them (the others were taken over, or are no longer pending)."""
    held = held_of(session, ids, token)
    if held:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(held)))
            .values(next_attempt_at=lease_until)
        )
    return held


def release(session: Session, ids: Collection[int], token: str, due: dt.datetime) -> int:
    """Give back those of ``ids`` the delivery ``token`` still holds, unsent: due at ``due``, held
    by no delivery, their attempts unchanged. Returns how many."""
    if not ids:
        return 0
    done = session.execute(
        update(OutboxMessage)
        .where(*_held(ids, token))
        .values(next_attempt_at=due, claim_token=None)
    )
    return int(getattr(done, "rowcount", 0) or 0)


def mark(session: Session, values: Sequence[Mapping[str, Any]], token: str) -> set[int]:
    """Set the columns given for each row (``id`` and the columns to set) that the delivery
    ``token`` still holds, and let go of it; one UPDATE by primary key per row. Returns the ids
    marked: a row another delivery took over is left to that one (fencing)."""
    held = held_of(session, [value["id"] for value in values], token)
    marked = [{**value, "claim_token": None} for value in values if value["id"] in held]
    if marked:
        session.execute(update(OutboxMessage), marked)
    return held


def status_counts(session: Session, municipality: str | None = None) -> dict[str, int]:
    """How many rows there are of each status there is (of ``municipality`` when given)."""
    query = select(OutboxMessage.status, func.count(OutboxMessage.id)).group_by(
        OutboxMessage.status
    )
    if municipality:
        query = query.where(OutboxMessage.municipality == municipality)
    return {status: int(count) for status, count in session.execute(query)}


def with_status(
    session: Session, status: str, municipality: str | None = None
) -> list[OutboxMessage]:
    """The rows with ``status`` (of ``municipality`` when given), oldest first."""
    query = select(OutboxMessage).where(OutboxMessage.status == status).order_by(OutboxMessage.id)
    if municipality:
        query = query.where(OutboxMessage.municipality == municipality)
    return list(session.scalars(query))


def ids_with_status(
    session: Session,
    statuses: Collection[str],
    municipality: str | None = None,
    message: int | None = None,
) -> list[int]:
    """The ids of the rows with one of ``statuses`` (only ``message`` when given), in order;
    read with a row lock on PostgreSQL, so a second act at once waits and finds none."""
    query = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status.in_(list(statuses)))
        .order_by(OutboxMessage.id)
    )
    if message is not None:
        query = query.where(OutboxMessage.id == message)
    if municipality:
        query = query.where(OutboxMessage.municipality == municipality)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return [int(found) for found in session.scalars(query)]


def requeue(
    session: Session,
    statuses: Collection[str],
    now: dt.datetime,
    message: int | None = None,
    municipality: str | None = None,
) -> int:
    """Make the rows with one of ``statuses`` (one message, or all; of ``municipality`` when
    given) pending again, due at ``now`` with no attempts; returns how many."""
    query = update(OutboxMessage).where(OutboxMessage.status.in_(list(statuses)))
    if message is not None:
        query = query.where(OutboxMessage.id == message)
    if municipality:
        query = query.where(OutboxMessage.municipality == municipality)
    done = session.execute(query.values(status="pending", attempts=0, next_attempt_at=now))
    return int(getattr(done, "rowcount", 0) or 0)


def waiting_for_digest(
    session: Session, municipality: str, now: dt.datetime
) -> list[OutboxMessage]:
    """The rows of ``municipality`` waiting for a digest (status ``digest``) made by ``now``,
    by recipient, then oldest first."""
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.municipality == municipality,
            OutboxMessage.status == "digest",
            OutboxMessage.created_at <= now,
        )
        .order_by(OutboxMessage.recipient, OutboxMessage.created_at, OutboxMessage.id)
    )
    return list(session.scalars(query))


def mark_digested(session: Session, ids: Collection[int]) -> None:
    """Mark the rows ``ids`` gathered into a digest (status ``digested``)."""
    session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(list(ids))).values(status="digested")
    )


def cycle_group_and_ref(session: Session, cycle_id: int) -> tuple[str, str] | None:
    """The key of the group cycle ``cycle_id`` is run by, and its reference (``est-2027-03``);
    None when there is no such cycle."""
    found = session.execute(select(Cycle.group_key, Cycle.ref).where(Cycle.id == cycle_id)).first()
    return None if found is None else (str(found[0]), str(found[1]))


def task_status(session: Session, task_id: int) -> str | None:
    """The status of task ``task_id``; None when there is no such task."""
    task = session.get(Task, task_id)
    return None if task is None else task.status


def newest_to(
    session: Session,
    recipient: str,
    municipality: str | None = None,
    task_id: int | None = None,
    template: str | None = None,
) -> OutboxMessage | None:
    """The newest row to ``recipient`` (about task ``task_id``, of ``template``), whatever its
    status."""
    query = select(OutboxMessage).where(OutboxMessage.recipient == recipient)
    if municipality:
        query = query.where(OutboxMessage.municipality == municipality)
    if task_id is not None:
        query = query.where(OutboxMessage.task_id == task_id)
    if template:
        query = query.where(OutboxMessage.template == template)
    return session.scalars(query.order_by(OutboxMessage.id.desc()).limit(1)).first()


# ------------------------------------------------------------------ queueing

OUTBOX = OutboxMessage.metadata.tables[OutboxMessage.__tablename__]


def ignoring_duplicates(table: Table, column: str) -> dict[str, Insert]:
    """``INSERT ... ON CONFLICT (column) DO NOTHING`` on each database that has it."""
    return {
        name: dialect.insert(table).on_conflict_do_nothing(index_elements=[column])
        for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
    }


def not_there(
    connection: Connection, table: Table, column: str, params: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``params`` but those whose ``column`` value the table has already: for a database
    without ``ON CONFLICT``."""
    query = select(table.c[column]).where(table.c[column].in_(bindparam("values", expanding=True)))
    there = set(connection.scalars(query, {"values": [p[column] for p in params]}))
    return [p for p in params if p[column] not in there]


_QUEUE = ignoring_duplicates(OUTBOX, "message_id")


def queue_mail(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert outbox rows; a row whose Message-ID is queued already is left out (the same mail
    queued again by a retried act, or by a step entered twice). Returns how many were new."""
    if not rows:
        return 0
    connection = session.connection()
    params = [dict(row) for row in rows]
    statement = _QUEUE.get(connection.dialect.name)
    if statement is None:  # another database: no ON CONFLICT, so ask first
        params = not_there(connection, OUTBOX, "message_id", params)
        if params:
            connection.execute(insert(OUTBOX), params)
        return len(params)
    if connection.dialect.name == "sqlite":
        # SQLite counts the rows that went in, over all the parameter sets. (PostgreSQL's
        # INSERT returns the new ids to SQLAlchemy, and no rowcount then.)
        return connection.execute(statement, params[0] if len(params) == 1 else params).rowcount
    inserted = connection.scalars(statement.returning(OUTBOX.c.message_id), params)
    return len(inserted.all())


def outbox_has(session: Session, message_id: str) -> bool:
    """Whether a mail with ``message_id`` is in the outbox (in any status)."""
    found = session.execute(select(OUTBOX.c.id).where(OUTBOX.c.message_id == message_id))
    return found.first() is not None


def insert_mail(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """``queue_mail`` for many rows at once (the scheduler's notices), without counting them:
    one executemany, no ``RETURNING``. Within ``rows`` too, each Message-ID goes in once."""
    if not rows:
        return
    connection = session.connection()
    statement = _QUEUE.get(connection.dialect.name)
    if statement is None:  # another database: no ON CONFLICT, so ask first
        firsts: dict[str, dict[str, Any]] = {}
        for row in rows:
            firsts.setdefault(row["message_id"], dict(row))
        params = not_there(connection, OUTBOX, "message_id", list(firsts.values()))
        if params:
            connection.execute(insert(OUTBOX), params)
        return
    connection.execute(statement, list(rows))


# ------------------------------------------------------------------ SMTP servers


def server_state(session: Session, server: str) -> MailServer | None:
    """What the deliveries last saw of ``server`` (``host:port``); None when nothing."""
    return session.get(MailServer, server)


def server_states(session: Session) -> list[MailServer]:
    """Every server the deliveries have seen, by name."""
    return list(session.scalars(select(MailServer).order_by(MailServer.server)))


_SERVERS = MailServer.metadata.tables[MailServer.__tablename__]


def save_server(session: Session, values: Mapping[str, Any]) -> None:
    """Write what a delivery saw of a server (``server`` and the columns), over what was there."""
    connection = session.connection()
    name = connection.dialect.name
    if name in ("sqlite", "postgresql"):
        dialect = sqlite if name == "sqlite" else postgresql
        statement = dialect.insert(_SERVERS).values(**values)
        changed = {key: statement.excluded[key] for key in values if key != "server"}
        connection.execute(statement.on_conflict_do_update(index_elements=["server"], set_=changed))
        return
    row = session.get(MailServer, values["server"])  # another database: read, then write
    if row is None:
        session.add(MailServer(**values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
