"""The organisation versions loaded (``organisation_versions``) and the municipalities
(``municipalities``, with the version in force). Who may load one, and what a load records, is
``tsk_workflow.engine.setup``'s."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tsk_workflow.store.models import AuditPayload, Municipality, OrganisationVersion


def in_force(session: Session) -> list[OrganisationVersion]:
    """The newest version of every municipality's organisation."""
    newest = (
        select(OrganisationVersion.municipality, func.max(OrganisationVersion.version).label("v"))
        .group_by(OrganisationVersion.municipality)
        .subquery()
    )
    query = select(OrganisationVersion).join(
        newest,
        (newest.c.municipality == OrganisationVersion.municipality)
        & (newest.c.v == OrganisationVersion.version),
    )
    return list(session.scalars(query))


def history(
    session: Session, municipality: str | None = None
) -> list[tuple[OrganisationVersion, Any]]:
    """Every version (of ``municipality`` when given) by municipality, oldest first, each with
    the payload of the audit event that loaded it (None when there is none)."""
    query = (
        select(OrganisationVersion, AuditPayload.payload)
        .outerjoin(AuditPayload, AuditPayload.seq == OrganisationVersion.audit_seq)
        .order_by(OrganisationVersion.municipality, OrganisationVersion.version)
    )
    if municipality is not None:
        query = query.where(OrganisationVersion.municipality == municipality)
    return list(session.execute(query))


def newest(session: Session, municipality: str) -> OrganisationVersion | None:
    """The version of ``municipality`` in force; None when none is loaded."""
    query = (
        select(OrganisationVersion)
        .where(OrganisationVersion.municipality == municipality)
        .order_by(OrganisationVersion.version.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def municipality_digest(session: Session, municipality: str) -> str | None:
    """The digest of the organisation file ``municipality`` was loaded from; None when it is
    not loaded."""
    row = session.get(Municipality, municipality)
    return None if row is None else row.digest


def add_version(
    session: Session,
    *,
    municipality: str,
    name: str,
    version: int,
    digest: str,
    content: str,
    source: str,
    loaded_by: str,
    os_user: str,
    loaded_at: dt.datetime,
    audit_seq: int,
) -> None:
    """Write version ``version`` of ``municipality``'s organisation and make it the one in
    force (the municipality's row, made when there is none, names it), in the session's
    transaction."""
    session.add(
        OrganisationVersion(
            municipality=municipality,
            version=version,
            digest=digest,
            content=content,
            source=source[:255],
            loaded_by=loaded_by,
            os_user=os_user,
            loaded_at=loaded_at,
            audit_seq=audit_seq,
        )
    )
    row = session.get(Municipality, municipality)
    if row is None:
        row = Municipality(key=municipality)
        session.add(row)
    row.name, row.source, row.digest, row.loaded_at = name, source, digest, loaded_at
    session.flush()
