"""One act's unit of work: what it reads through, its time, and what it decided so far.

The engine's acts decide in memory, on plain data (``store.acts.CycleState``), and collect
their effects here: the rows to write (``store.acts.Effects``) and the audit events to append.
:meth:`Act.write` hands them to the store, which writes them set-based in the act's
transaction; the engine calls it at the end of the act, and before anything reads what the
act changed from the database (a feature's listener gathering the answers of a step just
left).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tsk_workflow import audit
from tsk_workflow.store import acts
from tsk_workflow.store.acts import Effects

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session


@dataclass
class Act:
    """The session an act reads through, its ``now``, and its effects not yet written."""

    session: Session
    now: dt.datetime
    effects: Effects = field(default_factory=Effects)
    events: list[tuple[audit.Act, dt.datetime]] = field(default_factory=list)
    via: str | None = None
    """How the person came to act, when not as themselves (the OS login of someone acting
    for them, ``--as``): kept in each event's payload as ``via``."""

    def record(self, event: audit.Act) -> None:
        """An audit event of this act, stamped with its time, appended when written."""
        if self.via is not None and "via" not in event.payload:
            event = dataclasses.replace(event, payload={**event.payload, "via": self.via})
        self.events.append((event, self.now))

    def new_ids(self, table: str, count: int = 1) -> list[int]:
        """Ids for new rows of ``table`` (``store.acts.reserve_ids``)."""
        return acts.reserve_ids(self.session, table, count)

    def write(self) -> None:
        """Write what was decided so far: the rows, then the audit events (which name them)."""
        if self.effects:
            acts.apply(self.session, self.effects)
            self.effects = self.effects.following()
        if self.events:
            audit.write(self.session, self.events)
            self.events = []
