"""The features that hang on the engine's hooks, and engines made with them.

The engine calls listeners (``engine.listeners``) and imports no feature; this module, above
both, is the one place that says which features an engine has. Whoever acts on cycles (the CLI,
the scheduler pass, the demo, the tests) builds its engine with :func:`build_engine`, so every
one of them produces the same documents at the same steps.
"""

from __future__ import annotations

from tsk_workflow.catalog import Catalog
from tsk_workflow.engine.context import StepListener
from tsk_workflow.engine.service import Clock, Engine, system_clock
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
