"""``/compliance``: what Lag (2023:196) asks of the municipality and where it stands, for the
people who answer for the work (``engine.compliance.may_read``; anyone else gets a page saying
they may not, and the refusal is recorded).

The engine's view (``engine.compliance``, as ``tsk compliance`` prints it): each item's level
as a word beside its colour (the action register's traffic light), its reason, the law's
section and the municipality's own setting; with links to where the work is done: the
strategic lägesbild's cycle, the åtgärdsplan, the actions overdue or not followed up.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tsk_workflow.engine.actions import STATUS_WORDS
from tsk_workflow.engine.compliance import Item, compliance, require_read
from tsk_workflow.i18n import N_, _
from tsk_workflow.web.deps import Reading
from tsk_workflow.web.pages import PageReader, render

router = APIRouter(include_in_schema=False)

LEVEL_MEANING = {
    "green": N_("in order"),
    "yellow": N_("needs attention"),
    "red": N_("not met"),
}
"""What a level says of a requirement (the word beside the colour says which level)."""

Link = tuple[str, str]


@router.get("/compliance")
def compliance_page(request: Request, reader: PageReader) -> Response:
    require_read(reader.engine, reader.person)
    view = compliance(reader.engine)
    context = {
        "view": view,
        "links": {item.key: links(item, reader) for item in view.items},
        "level_words": {key: _(word) for key, word in STATUS_WORDS.items()},
        "level_meaning": {key: _(word) for key, word in LEVEL_MEANING.items()},
    }
    return render(request, "compliance.html", context)


def links(item: Item, reader: Reading) -> list[Link]:
    """Where the work of ``item`` is done: the pages that help to set it right or see it."""
    details = item.details
    if item.key == "lagesbild":
        ref = details.get("cycle")
        readable = {c.ref for c in reader.engine.readable_cycles(reader.session, reader.person)}
        if ref in readable:
            return [
                (f"/cycles/{quote(ref, safe='')}", _("The lägesbild's cycle {ref}").format(ref=ref))
            ]
        return [("/lagesbild", _("The lägesbild"))]
    if item.key == "atgardsplan":
        return [("/actions/plan", _("The åtgärdsplan"))]
    if item.key == "uppfoljning":
        late = details.get("late") or []
        found = [(f"/actions/{n}", _("Action #{n}").format(n=n)) for n in late]
        return found or [("/actions", _("The action register"))]
    if item.key == "forsenade" and details.get("overdue"):
        return [("/actions?overdue=1", _("The overdue actions"))]
    return []
