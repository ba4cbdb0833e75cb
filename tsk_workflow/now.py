"""The one source of "now" for whoever acts on a database: the CLI, the service, the demo.

A command's ``--now``, else ``TSK_NOW``, else the server's clock. Only a database made for
virtual time (``tsk init --virtual-time``: the demo, the tests, the docs' examples) takes a time
other than the server's, so that nobody back-dates an act. Imported at start-up: the standard
library only at module level.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from tsk_workflow.i18n import _

if TYPE_CHECKING:
    from tsk_workflow.store.database import Store

Clock = Callable[[], dt.datetime]


def clock(store: Store, now: dt.datetime | None = None) -> Clock:
    """The one source of a command's time: ``now`` (its ``--now``) where the command has one, else ``TSK_NOW``, else the server's clock (:func:`server_now`).

    ``--now`` and ``TSK_NOW`` are ISO 8601, Stockholm time when no offset is given, and act as if
    it were then. Only a database made for virtual time takes them (``tsk init --virtual-time``:
    the demo, the tests, the docs); any other refuses them, so that nobody back-dates an act."""
    if now is not None:
        require_virtual_time(store, "--now")
        return lambda: now
    text = os.environ.get("TSK_NOW")
    if not text:
        return server_now
    require_virtual_time(store, "TSK_NOW")
    from tsk_workflow.calendar import OutsideYears
    from tsk_workflow.errors import TskError

    try:
        moment = parse_time(text)
    except OutsideYears as exc:
        raise TskError(_("TSK_NOW: {error}").format(error=exc)) from None
    except ValueError:
        raise TskError(
            _("TSK_NOW={value} is not an ISO 8601 time").format(value=repr(text))
        ) from None
    return lambda: moment


def server_now() -> dt.datetime:
    """The server's clock: ``tsk_workflow.engine.service.system_clock`` (where the tests put
    their virtual clock), read without importing the engine when nothing has (start-up)."""
    import sys

    service = sys.modules.get("tsk_workflow.engine.service")
    if service is None:
        return dt.datetime.now(dt.UTC)
    system_clock: Clock = service.system_clock
    return system_clock()


def parse_time(text: str) -> dt.datetime:
    """ISO 8601 as an aware UTC time, Stockholm time when no offset; ``ValueError`` otherwise,
    ``calendar.OutsideYears`` (one) for a time outside the years tsk takes."""
    moment = dt.datetime.fromisoformat(text)
    # Only now: the calendar imports dateutil and isodate (docs/performance.md, 5).
    from tsk_workflow.calendar import STOCKHOLM, check_years

    # Before the offset is applied: 0001-01-01T00:00+05:00 in UTC is before the year 1.
    check_years(moment.date(), text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=STOCKHOLM)
    return moment.astimezone(dt.UTC)


def require_virtual_time(store: Store, what: str) -> None:
    """Refuse ``what`` (``TSK_NOW``, ``--now``) unless the database runs on virtual time."""
    from tsk_workflow.errors import Refused
    from tsk_workflow.store.installation import virtual_time

    if not virtual_time(store):
        raise Refused(
            _(
                "{what} is refused: this database runs on the server's clock (only a database"
                " made with 'tsk init --virtual-time', for the demo and tests, takes another time)"
            ).format(what=what)
        )
