"""The audit trail: an append-only chain of events, each hashed over the one before.

``hash = SHA-256(canonical JSON of the event fields, payload digest and previous hash)``. The
payload is stored apart (``audit_payloads``) and only its digest is chained, so purging personal
data from a payload does not break the chain. Appending serialises on the chain's head: SQLite
write transactions are already exclusive; PostgreSQL takes a transaction-level advisory lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tsk_workflow.store.models import AuditEvent, AuditPayload

GENESIS = "0" * 64
CHAIN_LOCK = 7_356_001
"""The PostgreSQL advisory lock key that serialises appends to the chain."""


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def event_hash(event: AuditEvent) -> str:
    fields = {
        "seq": event.seq,
        "at": event.at.astimezone(dt.UTC).isoformat(),
        "municipality": event.municipality,
        "actor": event.actor,
        "role": event.role,
        "action": event.action,
        "subject": event.subject,
        "cycle_id": event.cycle_id,
        "payload_digest": event.payload_digest,
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(canonical(fields)).hexdigest()


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
    """Add ``act`` as the next link of the chain, in the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    head = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    event = AuditEvent(
        seq=seq,
        at=at,
        municipality=act.municipality,
        actor=act.actor,
        role=act.role,
        action=act.action,
        subject=act.subject,
        cycle_id=act.cycle_id,
        payload_digest=digest(act.payload),
        prev_hash=prev,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.add(AuditPayload(seq=seq, payload=act.payload))
    session.flush()
    return event
