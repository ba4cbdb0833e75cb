"""The service's personal API tokens (``api_tokens``): issued, found by their hash, noted as
used, revoked, listed. Only the SHA-256 of a token is kept; making the token and hashing it is
the service's (``tsk_workflow.web.tokens``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from tsk_workflow.store.database import Store
from tsk_workflow.store.models import ApiToken


@dataclass(frozen=True)
class TokenRow:
    """A token as kept (without its hash)."""

    id: int
    municipality: str
    person: str
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    def to_dict(self) -> dict[str, object]:
        def iso(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "id": self.id,
            "label": self.label,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at),
            "last_used_at": iso(self.last_used_at),
        }


_COLUMNS = (
    ApiToken.id,
    ApiToken.municipality,
    ApiToken.person,
    ApiToken.label,
    ApiToken.created_at,
    ApiToken.expires_at,
    ApiToken.revoked_at,
    ApiToken.last_used_at,
)


def issue(
    store: Store,
    *,
    token_hash: str,
    municipality: str,
    person: str,
    label: str,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> TokenRow:
    """Keep a new token's hash for ``person``; the row as kept."""
    values = {
        "token_hash": token_hash,
        "municipality": municipality,
        "person": person,
        "label": label[:100],
        "created_at": now,
        "expires_at": expires_at,
    }
    with store.transaction() as session:
        new_id = session.execute(
            insert(ApiToken).values(values).returning(ApiToken.id)
        ).scalar_one()
    return TokenRow(new_id, municipality, person, label[:100], now, expires_at, None, None)


def find(store: Store, token_hash: str) -> TokenRow | None:
    """The token whose hash is ``token_hash``, revoked or expired as it may be."""
    with store.reading() as session:
        row = session.execute(select(*_COLUMNS).where(ApiToken.token_hash == token_hash)).first()
    return TokenRow(*row) if row is not None else None


def note_use(store: Store, token_id: int, now: dt.datetime, every: dt.timedelta) -> None:
    """Note that the token was used at ``now``, unless that was noted less than ``every`` ago
    (one write a minute, not one a request)."""
    stale = (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at <= now - every)
    with store.transaction() as session:
        session.execute(
            update(ApiToken).where(ApiToken.id == token_id, stale).values(last_used_at=now)
        )


def revoke(store: Store, municipality: str, person: str, token_id: int, now: dt.datetime) -> bool:
    """Revoke ``person``'s token ``token_id``; False when they have no such token in force."""
    with store.transaction() as session:
        done = session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                ApiToken.municipality == municipality,
                ApiToken.person == person,
                ApiToken.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return bool(getattr(done, "rowcount", 0))


def of_person(store: Store, municipality: str, person: str) -> list[TokenRow]:
    """``person``'s tokens, newest first."""
    query = (
        select(*_COLUMNS)
        .where(ApiToken.municipality == municipality, ApiToken.person == person)
        .order_by(ApiToken.id.desc())
    )
    with store.reading() as session:
        return [TokenRow(*row) for row in session.execute(query)]
