"""What the running service holds: its settings, the database, the engines of the
municipalities loaded into it, and the scheduler pass.

The engines follow the organisations in force: when an admin loads a new version (``tsk org
load``), a request after it builds its engine anew. Whether one was loaded is asked of the
database at most once every :data:`RECHECK` seconds (one query over every municipality's row:
at 290 municipalities a third of a request's time when asked at every request, as benchmark
``service`` showed).

Once the engines are built, what they hold (definitions, organisations, compiled machines)
lives as long as the service: ``gc.freeze`` moves it out of the collector's way, so that a full
collection walks only what requests make (each walked all of it, 150-300 ms, stalling every
request in flight).
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass

from tsk_workflow.catalog import Catalog, load_catalog
from tsk_workflow.engine.service import Clock, Engine
from tsk_workflow.errors import NotFound
from tsk_workflow.features import loaded_engines
from tsk_workflow.i18n import _
from tsk_workflow.organisation.model import Person
from tsk_workflow.store.database import Store
from tsk_workflow.store.queries import municipality_digests
from tsk_workflow.web.config import ServiceConfig

RECHECK = 1.0
"""Seconds a service trusts its engines before asking whether an organisation was loaded."""


@dataclass(frozen=True)
class Someone:
    """A person of one municipality, as a session or a link names them."""

    municipality: str
    person: str


class ServiceState:
    """The database, its engines and the settings, shared by every request."""

    def __init__(
        self,
        config: ServiceConfig,
        store: Store,
        clock: Clock,
        *,
        virtual_time: bool,
        catalog: Catalog | None = None,
        settle: bool = False,
    ) -> None:
        """``settle``: freeze the heap once the engines are built (``tsk serve``, a process
        of its own; not a test's process, whose later garbage would be kept with it)."""
        self.config = config
        self.store = store
        self.clock = clock
        self.virtual_time = virtual_time
        self.settle = settle
        self.catalog = catalog or load_catalog()
        self._lock = threading.Lock()
        self._digests: dict[str, str] = {}
        self._engines: dict[str, Engine] = {}
        self._checked = 0.0

    def engines(self) -> dict[str, Engine]:
        """An engine for each municipality, with its organisation in force (as of at most
        :data:`RECHECK` seconds ago)."""
        with self._lock:
            now = time.monotonic()
            if self._engines and now - self._checked < RECHECK:
                return self._engines
            digests = municipality_digests(self.store)
            self._checked = now
            if digests != self._digests:
                self._engines = loaded_engines(self.store, self.clock, self.catalog)
                self._digests = digests
                if self.settle:
                    gc.collect()
                    gc.freeze()
            return self._engines

    def engine(self, municipality: str) -> Engine:
        found = self.engines().get(municipality)
        if found is None:
            raise NotFound(_("no municipality '{key}' here").format(key=municipality))
        return found

    def person(self, someone: Someone) -> Person | None:
        """The person of the organisation in force (None: no longer there)."""
        engine = self.engines().get(someone.municipality)
        return engine.org.person(someone.person) if engine is not None else None

    def people_matching(self, claim: str, value: str) -> list[Someone]:
        """Everyone whose ``claim`` is ``value``: an ``email`` matches the person's address
        (in any case), any other claim the person's ``login``, then their id."""
        wanted = value.strip()
        found: list[Someone] = []
        for key, engine in self.engines().items():
            for person in engine.org.people:
                if claim == "email":
                    same = person.email.lower() == wanted.lower()
                else:
                    same = wanted in (person.login, person.id)
                if same:
                    found.append(Someone(key, person.id))
        return found

    def everyone(self) -> list[tuple[Someone, Person, str]]:
        """Every person of every municipality, with the municipality's name (the demo's
        sign-in lists them)."""
        return [
            (Someone(key, person.id), person, engine.org.name)
            for key, engine in self.engines().items()
            for person in engine.org.people
        ]
