"""Settings of the database itself, fixed when it is made: whether it runs on virtual time.

Only a database made for virtual time (``tsk init --virtual-time``: the demo, the tests) accepts
a clock other than the server's (``TSK_NOW``, ``--now``). The choice is made once, while the
database has no audit event yet, and never changed after: otherwise anyone who can run ``tsk``
could turn it on and back-date an act.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tsk_workflow.errors import Refused, TskError
from tsk_workflow.i18n import _
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, Installation

VIRTUAL_TIME = "virtual_time"


def virtual_time(store: Store) -> bool:
    """Whether the database was made for virtual time (False for one not set up yet)."""
    try:
        with store.reading_rows() as connection:
            value = connection.scalar(
                select(Installation.value).where(Installation.name == VIRTUAL_TIME)
            )
    except TskError:
        return False
    return value == "true"


def make_virtual(session: Session) -> bool:
    """Mark the database as one for virtual time, in the caller's transaction; True when it was
    not before. Refused once the audit trail has an event: a database in use stays as it is."""
    row = session.get(Installation, VIRTUAL_TIME)
    if row is not None and row.value == "true":
        return False
    if session.scalar(select(func.count()).select_from(AuditEvent)):
        raise Refused(
            _(
                "this database is already in use on the server's clock: virtual time is only for"
                " a new database (the demo, tests); make a new one with 'tsk init --virtual-time'"
            )
        )
    session.merge(Installation(name=VIRTUAL_TIME, value="true"))
    return True
