"""Work that one process at a time does, among several on one database (``tsk serve``
replicas each running the scheduler pass).

On PostgreSQL a session-level advisory lock, tried without waiting, on a connection of its own
held for the work; the lock goes with the connection, so a process that dies frees it. SQLite
is one file on one machine, where SQLite itself lets one writer in at a time: the work always
goes ahead (each step of the pass is idempotent anyway, ``tsk_workflow.schedpass``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from tsk_workflow.store.database import Store


def _key(name: str) -> int:
    """A signed 64-bit advisory lock key for ``name``, the same in every process."""
    return int.from_bytes(hashlib.sha256(f"tsk:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def one_at_a_time(store: Store, name: str) -> Iterator[bool]:
    """Yields whether this process holds the lock ``name`` for the block: False while another
    does (the caller skips its work)."""
    if store.dialect != "postgresql":
        yield True
        return
    with store.engine.connect() as connection:
        key = _key(name)
        taken = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
        connection.commit()
        try:
            yield taken
        finally:
            if taken:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
