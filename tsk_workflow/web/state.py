"""What the running service holds: its settings, the database, the engines of the
municipalities loaded into it, and the scheduler pass.

The engines follow the organisations in force: when an admin loads a new version (``tsk org
load``), the next request builds its engine anew (one small query a request tells).
"""

from __future__ import annotations

import threading
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
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.virtual_time = virtual_time
        self.catalog = catalog or load_catalog()
        self._lock = threading.Lock()
        self._digests: dict[str, str] = {}
        self._engines: dict[str, Engine] = {}

    def engines(self) -> dict[str, Engine]:
        """An engine for each municipality, with its organisation in force now."""
        digests = municipality_digests(self.store)
        with self._lock:
            if digests != self._digests:
                self._engines = loaded_engines(self.store, self.clock, self.catalog)
                self._digests = digests
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
