"""Loading an organisation into the database (``tsk init``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tsk_workflow import audit
from tsk_workflow.engine.directory import SYSTEM
from tsk_workflow.engine.service import Engine
from tsk_workflow.store.models import Municipality


def load_organisation(engine: Engine, source: Path) -> tuple[Municipality, bool]:
    """Record the organisation; True when it is new or its file changed since last time."""
    org = engine.org
    file_digest = hashlib.sha256(source.read_bytes()).hexdigest()
    with engine.act() as (session, now):
        row = session.get(Municipality, org.municipality)
        changed = row is None or row.digest != file_digest
        if row is None:
            row = Municipality(
                key=org.municipality,
                name=org.name,
                source=str(source),
                digest=file_digest,
                loaded_at=now,
            )
            session.add(row)
        row.name, row.source, row.digest, row.loaded_at = org.name, str(source), file_digest, now
        from tsk_workflow.engine.ticker import replan

        replan(engine, session, now)
        if changed:
            payload = {
                "name": org.name,
                "source": source.name,
                "digest": file_digest,
                "people": len(org.people),
            }
            act = audit.Act(
                org.municipality,
                SYSTEM,
                "system",
                "organisation.loaded",
                f"municipality:{org.municipality}",
                payload,
            )
            audit.append(session, act, now)
        return row, changed
