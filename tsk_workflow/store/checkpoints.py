"""The record of the day's audit checkpoint: a ``timers`` row keyed ``checkpoint:DAY``, made
fired at once, claimed by exactly one worker (``tsk_workflow.checkpoints.daily_checkpoint``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tsk_workflow.store.models import Timer

_TIMERS = Timer.metadata.tables[Timer.__tablename__]
_CLAIM = {
    name: dialect.insert(_TIMERS)
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(_TIMERS.c.id)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}


def recorded(connection: Connection, key: str) -> bool:
    """Whether the timers row ``key`` is there."""
    return connection.scalar(select(_TIMERS.c.id).where(_TIMERS.c.key == key)) is not None


def claim(
    session: Session, key: str, kind: str, municipality: str, now: dt.datetime, worker: str
) -> bool:
    """Insert the timers row ``key`` (of ``kind``, fired at ``now`` by ``worker``) in the
    session's transaction, unless it is there: ``INSERT ... ON CONFLICT DO NOTHING``, so of two
    workers at once one inserts and the other waits for it and finds it. True when inserted."""
    claimed = session.connection().scalar(
        _CLAIM[session.get_bind().dialect.name],
        {
            "key": key,
            "kind": kind,
            "municipality": municipality,
            "fire_at": now,
            "status": "fired",
            "cycle_id": None,
            "task_id": None,
            "payload": {},
            "created_at": now,
            "fired_at": now,
            "fired_by": worker,
        },
    )
    return claimed is not None
