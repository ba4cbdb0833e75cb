"""Cycles' and tasks' titles in the language asked for.

A cycle and its tasks keep the titles their definition gave them in Swedish when they were made
(``engine/periods.py``, ``engine/steps.py``): that is the record, and what ``--json`` shows.
In Swedish people read those; in English the same titles come from the definition's English, of
the version the cycle follows (a task its definition has lost keeps its stored title).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tsk_workflow.definitions.model import ProcessDefinition
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.store.models import Cycle, Task

STORED = "sv"
"""The language of the stored titles."""

Session = Any
"""A reading session of the engine's store (the command line does not import SQLAlchemy)."""


def cycle_title(engine: Engine, session: Session, cycle: Cycle, lang: str) -> str:
    """The title of ``cycle`` in ``lang``."""
    if lang == STORED:
        return cycle.title
    from tsk_workflow.engine.plan import cycle_title as title_of

    definition = _definition(engine, session, cycle)
    return title_of(engine.org, definition, cycle.period, cycle.subject or "").get(lang)


def task_title(engine: Engine, session: Session, task: Task, lang: str) -> str:
    """The title of ``task`` in ``lang``."""
    if lang == STORED:
        return task.title
    from tsk_workflow.forms import task_definition

    found = task_definition(_definition(engine, session, task.cycle), task.step, task.key)
    return found.title.get(lang) if found is not None else task.title


def cycle_row(
    engine: Engine, session: Session, cycle: Cycle, row: dict[str, Any], lang: str
) -> dict[str, Any]:
    """``row`` (``views.cycle_row`` or ``views.cycle_detail``) with its titles, and those of its
    tasks, in ``lang``."""
    if lang == STORED:
        return row
    titled = row | {"title": cycle_title(engine, session, cycle, lang)}
    if "tasks" in row:
        tasks = {task.id: task for task in cycle.tasks}
        titled["tasks"] = [
            task | {"title": task_title(engine, session, tasks[task["id"]], lang)}
            if task["id"] in tasks
            else task
            for task in row["tasks"]
        ]
    return titled


def task_row(
    engine: Engine, session: Session, task: Task, row: dict[str, Any], lang: str
) -> dict[str, Any]:
    """``row`` (``views.task_row``) with its title in ``lang``."""
    if lang == STORED:
        return row
    return row | {"title": task_title(engine, session, task, lang)}


def _definition(engine: Engine, session: Session, cycle: Cycle) -> ProcessDefinition:
    return engine.definition_for(session, cycle.process, cycle.process_digest)
