"""The lägesbild of a cycle, and attaching it when the cycle enters the step that produces it.

``produce_documents`` runs inside the engine's act, called through the step listener
:class:`LagesbildProducer` (``engine.context``, registered by ``tsk_workflow.features``): when
the step entered ``produces: [lagesbild]`` and the process has reporter forms, it renders the lägesbild
(HTML, in Swedish) from the cycle's reports and attaches it as a ``Document`` of kind
``lagesbild``, with its ``document.attached`` audit event, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tsk_workflow.definitions.model import ProcessDefinition, Step
from tsk_workflow.engine.documents import Attached, Upload, attach_in
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store.acts import CycleState
from tsk_workflow.store.models import Cycle

if TYPE_CHECKING:
    from tsk_workflow.engine.context import StepContext
    from tsk_workflow.lagesbild.model import Lagesbild
    from tsk_workflow.lagesbild.stats import StatRow
    from tsk_workflow.store.database import Session

KIND = "lagesbild"
AUTOMATIC_FORMAT = "html"
AUTOMATIC_LANGUAGE = "sv"


def has_reports(definition: ProcessDefinition) -> bool:
    """Whether the process has reporter tasks (a form with the lägesbild's category)."""
    from tsk_workflow.forms import reporter_forms

    return bool(reporter_forms(definition))


def require_reports(definition: ProcessDefinition, cycle: Cycle | CycleState) -> None:
    """Refuse the lägesbild of a cycle whose process has no reporter form."""
    from tsk_workflow.errors import Refused
    from tsk_workflow.i18n import _

    if not has_reports(definition):
        raise Refused(
            _(
                "{cycle}: the process '{process}' has no reporter form"
                " (a task form with a question that is the lägesbild's category)"
            ).format(cycle=cycle.ref, process=cycle.process)
        )


def lagesbild_of(
    session: Session,
    org: Organisation,
    definition: ProcessDefinition,
    cycle: Cycle | CycleState,
    *,
    lang: str,
    now: dt.datetime,
    statistics: Sequence[StatRow] | None = None,
    statistics_source: str | None = None,
) -> Lagesbild:
    """The figures of the lägesbild of ``cycle`` as the database has them now."""
    from tsk_workflow.lagesbild.build import build
    from tsk_workflow.lagesbild.collect import gather

    gathered = gather(session, org, definition, cycle)
    return build(
        gathered,
        org,
        definition,
        lang=lang,
        now=now,
        statistics=statistics,
        statistics_source=statistics_source,
    )


def file_name(cycle: Cycle | CycleState, fmt: str) -> str:
    return f"lagesbild-{cycle.ref}.{fmt}"


def produce_documents(ctx: StepContext, cycle: CycleState, step: Step) -> Attached | None:
    """Attach the lägesbild to ``cycle`` if ``step`` produces one from the process's reports."""
    definition = ctx.process.definition
    if KIND not in step.produces or not has_reports(definition):
        return None
    from tsk_workflow.engine.directory import SYSTEM
    from tsk_workflow.lagesbild.render import MEDIA_TYPES, render

    ctx.act.write()  # the answers given in this act are read back with the others
    figures = lagesbild_of(
        ctx.session, ctx.org, definition, cycle, lang=AUTOMATIC_LANGUAGE, now=ctx.now
    )
    content = render(figures, AUTOMATIC_FORMAT).encode("utf-8")
    upload = Upload(file_name(cycle, AUTOMATIC_FORMAT), content)
    document = attach_in(ctx.act, cycle, upload, KIND, SYSTEM, MEDIA_TYPES[AUTOMATIC_FORMAT])
    payload = {
        "document": document.id,
        "kind": KIND,
        "filename": document.filename,
        "sha256": document.sha256,
        "size": document.size,
        "step": step.key,
        "automatic": True,
        "reports": figures.with_incidents,
        "answered": figures.answered,
        "asked": figures.asked,
    }
    ctx.record(cycle, SYSTEM, "document.attached", payload, "system")
    return document


class LagesbildProducer:
    """The step listener that attaches the lägesbild (``produce_documents``)."""

    def on_enter_step(self, ctx: StepContext, cycle: CycleState, step: Step) -> None:
        produce_documents(ctx, cycle, step)
