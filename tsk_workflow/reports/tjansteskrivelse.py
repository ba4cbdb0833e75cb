"""The tjänsteskrivelse of a decision (``tsk report tjansteskrivelse DECISION``), from the record.

The officials' covering report that goes with a proposal to the body it is routed to (KLG, KS,
KF, the styrgrupp, the department concerned, a delegate), in the sections Swedish municipal
practice has:

- **Ärende**: what the matter is, and the cycle and process it comes from;
- **Beslutsförslag**: what the body is proposed to decide, with its cost; a decision already
  recorded says what was decided (body, date, §, outcome), not that it is pending;
- **Sammanfattning**: where the routing rules sent it and why, and when the body takes it up
  (its meeting, or that it decides without a meeting);
- **Beslutsunderlag**: the documents of the cycle the decision was proposed from, each with its
  file name, kind, date and the start of its SHA-256 (what ``tsk audit verify`` checks);
- who proposed it, their department, and when.

The routing reason is the record's (Swedish, as ``decision.proposed`` kept it); in English the
rule's English reason is given when the rule still reads as it did then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tsk_workflow import i18n
from tsk_workflow.engine import plan as planning
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.documents import documents
from tsk_workflow.errors import NotFound
from tsk_workflow.i18n import N_, _
from tsk_workflow.reports.model import Paragraph, Report, Section, Table, day
from tsk_workflow.routing import Proposal, route, sek

if TYPE_CHECKING:
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.store.database import Session
    from tsk_workflow.store.models import Cycle, Decision, Document

SHA_SHOWN = 12
"""How many hex digits of a document's SHA-256 the list shows: enough to tell one from another
and to find it in ``tsk audit``; the whole digest is in the audit trail."""

OUTCOME_WORDS = {
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "postponed": N_("postponed"),
}


def tjansteskrivelse(engine: Engine, decision_id: int, lang: str) -> Report:
    """The tjänsteskrivelse of decision ``decision_id`` in ``lang``; NotFound if there is none."""
    lang = "en" if lang == "en" else "sv"
    with i18n.speaking(lang), engine.store.reading() as session:
        decision = Decisions(engine).find(session, decision_id)
        cycle = engine.find_cycle(session, decision.cycle_id)
        attached = documents(session, cycle)
        process, cycle_title = _names(engine, session, cycle, lang)
        return _report(engine, decision, cycle, attached, process, cycle_title, lang)


def _report(
    engine: Engine,
    decision: Decision,
    cycle: Cycle,
    attached: list[Document],
    process: str,
    cycle_title: str,
    lang: str,
) -> Report:
    today = engine.clock().astimezone(engine.cal.zone).date()
    body = _body_name(engine, decision.routed_to)
    return Report(
        lang=lang,
        title=_("Official report: {title}").format(title=decision.title),
        subtitle=_("To {body} – decision {id}").format(body=body, id=decision.id),
        organisation=engine.org.name,
        made_on=day(today),
        sections=(
            _matter(decision, cycle, process, cycle_title),
            _proposal(engine, decision, body),
            _summary(engine, decision, body, lang),
            _documents(engine, cycle, attached),
            _proposer(engine, decision),
        ),
    )


def _names(engine: Engine, session: Session, cycle: Cycle, lang: str) -> tuple[str, str]:
    """The process's title and the cycle's in ``lang``; the record's own for a process no
    longer defined."""
    try:
        definition = engine.definition_for(session, cycle.process, cycle.process_digest)
    except NotFound:
        return cycle.process, cycle.title
    title = planning.cycle_title(engine.org, definition, cycle.period, cycle.subject).get(lang)
    return planning.process_title(engine.org, definition).get(lang), title


def _body_name(engine: Engine, body: str) -> str:
    settings = Decisions(engine).settings(body)
    return settings.name if settings is not None else body.upper()


def _matter(decision: Decision, cycle: Cycle, process: str, cycle_title: str) -> Section:
    return Section(
        _("Matter"),
        (
            Paragraph(decision.title),
            Paragraph(
                _(
                    "The matter comes from the cycle {cycle} ({title}) of the process {process};"
                    " it is decision {id} of the record."
                ).format(cycle=cycle.ref, title=cycle_title, process=process, id=decision.id)
            ),
        ),
    )


def _proposal(engine: Engine, decision: Decision, body: str) -> Section:
    blocks = [
        Paragraph(
            _("{body} is proposed to decide: {title}.").format(
                body=body, title=decision.title.rstrip(".")
            )
        ),
        Paragraph(
            _("The cost is estimated at {cost}.").format(cost=sek(decision.cost))
            if decision.cost is not None
            else _("The proposal states no cost.")
        ),
    ]
    if decision.attrs:
        given = "; ".join(f"{key}: {value}" for key, value in sorted(decision.attrs.items()))
        blocks.append(
            Paragraph(_("What the proposal says for the routing: {attrs}.").format(attrs=given))
        )
    if decision.outcome is not None:
        blocks.extend(_recorded(engine, decision))
    return Section(_("Proposed decision"), tuple(blocks))


def _recorded(engine: Engine, decision: Decision) -> list[Paragraph]:
    """What the record says was decided: the report is made after the fact."""
    recorded_body = _body_name(engine, decision.body or decision.routed_to)
    said = [
        Paragraph(
            _("Already decided: {body} decided on {date}, {paragraph}: {outcome}.").format(
                body=recorded_body,
                date=day(decision.decided_on),
                paragraph=decision.paragraph or "–",
                outcome=_(OUTCOME_WORDS.get(str(decision.outcome), str(decision.outcome))),
            )
        )
    ]
    if decision.decision_text:
        said.append(
            Paragraph(
                _("The decision as the minutes have it: {text}").format(text=decision.decision_text)
            )
        )
    if decision.override_reason:
        said.append(
            Paragraph(
                _("Decided by another body than it was routed to: {reason}").format(
                    reason=decision.override_reason
                ),
                note=True,
            )
        )
    return said


def _summary(engine: Engine, decision: Decision, body: str, lang: str) -> Section:
    reason = _reason(engine, decision, lang)
    blocks = [
        Paragraph(
            _("The proposal is routed to {body} by the rule '{rule}': {reason}.").format(
                body=body, rule=decision.rule, reason=reason.rstrip(".")
            )
        )
    ]
    blocks.extend(_when(engine, decision, body))
    return Section(_("Summary"), tuple(blocks))


def _when(engine: Engine, decision: Decision, body: str) -> list[Paragraph]:
    """When the body takes the proposal up: the meeting whose agenda it is (or was) on, again
    after it was postponed, or that the body decides without a meeting."""
    agenda = day(decision.agenda_date) if decision.agenda_date is not None else None
    if decision.status in {"approved", "rejected"}:
        was = _("It was on the agenda of {body}'s meeting on {date}.")
        return [Paragraph(was.format(body=body, date=agenda))] if agenda else []
    if decision.status == "postponed" and agenda:
        again = _("{body} postponed it; it is on the agenda again on {date}.")
        postponer = _body_name(engine, decision.body or decision.routed_to)
        return [Paragraph(again.format(body=postponer, date=agenda))]
    if agenda:
        return [
            Paragraph(
                _("It is on the agenda of {body}'s meeting on {date}.").format(
                    body=body, date=agenda
                )
            )
        ]
    if not Decisions(engine).meets(decision.routed_to):
        return [Paragraph(_("{body} decides without a meeting.").format(body=body))]
    return [Paragraph(_("No meeting of {body} was known when it was proposed.").format(body=body))]


def _reason(engine: Engine, decision: Decision, lang: str) -> str:
    """The routing's reason as recorded; in English, the rule's own English reason when routing
    the same proposal today gives the same rule with the same Swedish words."""
    if lang != "en":
        return decision.reason
    try:
        again = route(
            Proposal(decision.title, decision.cost, dict(decision.attrs)), engine.org.routing
        )
    except ValueError:
        return decision.reason
    if again.rule == decision.rule and again.reason("sv") == decision.reason:
        return again.reason("en")
    return decision.reason


def _documents(engine: Engine, cycle: Cycle, attached: list[Document]) -> Section:
    heading = _("Decision documents")
    if not attached:
        said = _("No documents are attached to the cycle {cycle}.").format(cycle=cycle.ref)
        return Section(heading, (Paragraph(said),))
    rows = tuple(
        (
            document.filename,
            document.kind,
            day(document.attached_at.astimezone(engine.cal.zone).date()),
            _short(document),
        )
        for document in sorted(attached, key=lambda d: (d.attached_at, d.id))
    )
    table = Table(
        _("The documents of the cycle {cycle}").format(cycle=cycle.ref),
        (_("File"), _("Kind"), _("Attached"), _("SHA-256 (start)")),
        rows,
    )
    return Section(heading, (table,))


def _short(document: Document) -> str:
    return document.sha256[:SHA_SHOWN]


def _proposer(engine: Engine, decision: Decision) -> Section:
    person = engine.org.person(decision.proposed_by)
    name = person.name if person is not None else decision.proposed_by
    department = person.department if person is not None else None
    proposed = day(decision.proposed_at.astimezone(engine.cal.zone).date())
    line = ", ".join(part for part in (name, department, proposed) if part)
    return Section(_("Proposed by"), (Paragraph(line),))
