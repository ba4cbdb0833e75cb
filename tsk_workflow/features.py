"""The features that hang on the engine's hooks, and engines made with them.

The engine calls listeners (``engine.listeners``) and imports no feature; this module, above
both, is the one place that says which features an engine has. Whoever acts on cycles (the CLI,
the scheduler pass, the demo, the tests) builds its engine with :func:`build_engine`, so every
one of them produces the same documents at the same steps.
"""

from __future__ import annotations

from tsk_workflow.catalog import Catalog, load_catalog, organisation_from_text
from tsk_workflow.engine import setup
from tsk_workflow.engine.context import StepListener
from tsk_workflow.engine.service import Clock, Engine, system_clock
from tsk_workflow.errors import TskError
from tsk_workflow.i18n import _
from tsk_workflow.lagesbild.produce import LagesbildProducer
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store.database import Store


def standard_listeners() -> tuple[StepListener, ...]:
    """The features every engine has: the lägesbild, attached when a step produces one."""
    return (LagesbildProducer(),)


def build_engine(
    store: Store, catalog: Catalog, org: Organisation, clock: Clock = system_clock
) -> Engine:
    """An engine with the standard listeners."""
    return Engine(store, catalog, org, clock, standard_listeners())


_PARSED: dict[str, Organisation] = {}
"""Organisations read from the database, by digest: the text of a digest never changes."""


def organisation_of(version: setup.StoredVersion, catalog: Catalog) -> Organisation:
    """The organisation of a version stored in the database, as it was loaded."""
    org = _PARSED.get(version.digest)
    if org is None:
        name = _("{source} (version {version} in the database)").format(
            source=version.source, version=version.version
        )
        org = _PARSED[version.digest] = organisation_from_text(version.content, name, catalog)
    return org


def loaded_engines(
    store: Store, clock: Clock = system_clock, catalog: Catalog | None = None
) -> dict[str, Engine]:
    """An engine for every municipality loaded into the database, each with its organisation
    in force, by key."""
    versions = setup.in_force(store)
    if not versions:
        raise TskError(_("no organisation is loaded: run 'tsk --org NAME init' first"))
    catalog = catalog or load_catalog()
    return {
        key: build_engine(store, catalog, organisation_of(version, catalog), clock)
        for key, version in sorted(versions.items())
    }
