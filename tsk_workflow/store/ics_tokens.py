"""The private ICS subscription addresses of the year plan (``ics_tokens``): made (the
person's earlier one revoked in the same transaction), found by their hash, revoked. Only the
SHA-256 of a token is kept; making the token is the service's (``tsk_workflow.web.page_plan``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Update, insert, select, update

from tsk_workflow.store.database import Store
from tsk_workflow.store.models import IcsToken


@dataclass(frozen=True)
class IcsRow:
    """An address as kept (without its hash)."""

    id: int
    municipality: str
    person: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


_COLUMNS = (
    IcsToken.id,
    IcsToken.municipality,
    IcsToken.person,
    IcsToken.created_at,
    IcsToken.revoked_at,
)


def issue(
    store: Store, *, token_hash: str, municipality: str, person: str, now: dt.datetime
) -> IcsRow:
    """Keep a new address's hash for ``person``, revoking the one they had: a person has one
    address in force at most."""
    with store.transaction() as session:
        session.execute(_revoking(municipality, person).values(revoked_at=now))
        values = {
            "token_hash": token_hash,
            "municipality": municipality,
            "person": person,
            "created_at": now,
        }
        new_id = session.execute(
            insert(IcsToken).values(values).returning(IcsToken.id)
        ).scalar_one()
    return IcsRow(new_id, municipality, person, now, None)


def find(store: Store, token_hash: str) -> IcsRow | None:
    """The address in force whose hash is ``token_hash`` (None if unknown or revoked)."""
    query = select(*_COLUMNS).where(
        IcsToken.token_hash == token_hash, IcsToken.revoked_at.is_(None)
    )
    with store.reading() as session:
        row = session.execute(query).first()
    return IcsRow(*row) if row is not None else None


def current(store: Store, municipality: str, person: str) -> IcsRow | None:
    """``person``'s address in force, if any."""
    query = (
        select(*_COLUMNS)
        .where(
            IcsToken.municipality == municipality,
            IcsToken.person == person,
            IcsToken.revoked_at.is_(None),
        )
        .order_by(IcsToken.id.desc())
    )
    with store.reading() as session:
        row = session.execute(query).first()
    return IcsRow(*row) if row is not None else None


def revoke(store: Store, municipality: str, person: str, now: dt.datetime) -> bool:
    """Revoke ``person``'s address; False when they had none in force."""
    with store.transaction() as session:
        done = session.execute(_revoking(municipality, person).values(revoked_at=now))
        return bool(getattr(done, "rowcount", 0))


def _revoking(municipality: str, person: str) -> Update:
    return update(IcsToken).where(
        IcsToken.municipality == municipality,
        IcsToken.person == person,
        IcsToken.revoked_at.is_(None),
    )
