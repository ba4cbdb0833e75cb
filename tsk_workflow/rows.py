"""Cycles, tasks, decisions and documents as JSON: what ``--json`` prints and the API
answers, the same for both."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tsk_workflow.definitions.model import ProcessDefinition
    from tsk_workflow.organisation.model import Organisation


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def task_row(task: Any, cycle_ref: str) -> dict[str, Any]:
    from tsk_workflow.store.queries import task_dict

    return task_dict(task, cycle_ref, task.assignee_ids)


def cycle_row(cycle: Any) -> dict[str, Any]:
    return {
        "id": cycle.id,
        "ref": cycle.ref,
        "process": cycle.process,
        "period": cycle.period,
        "subject": cycle.subject or None,
        "title": cycle.title,
        "state": cycle.state,
        "status": cycle.status,
        "opened_by": cycle.opened_by,
        "opened_at": _iso(cycle.opened_at),
        "closed_by": cycle.closed_by,
        "closed_at": _iso(cycle.closed_at),
        "late": cycle.late,
        "group": cycle.group_key,
    }


def cycle_detail(cycle: Any, allowed: list[str]) -> dict[str, Any]:
    return {
        **cycle_row(cycle),
        "version": cycle.version,
        "process_version": cycle.process_version,
        "process_digest": cycle.process_digest,
        "forced": cycle.forced,
        "close_note": cycle.close_note,
        "allowed_triggers": allowed if cycle.status == "open" else [],
        "tasks": [task_row(task, cycle.ref) for task in cycle.tasks],
    }


def decision_row(decision: Any) -> dict[str, Any]:
    return {
        "id": decision.id,
        "cycle": decision.cycle_id,
        "case_cycle": decision.case_cycle_id,
        "title": decision.title,
        "cost": decision.cost,
        "attrs": decision.attrs,
        "routed_to": decision.routed_to,
        "rule": decision.rule,
        "reason": decision.reason,
        "agenda_date": _iso(decision.agenda_date),
        "proposed_by": decision.proposed_by,
        "proposed_at": _iso(decision.proposed_at),
        "status": decision.status,
        "body": decision.body,
        "date": _iso(decision.decided_on),
        "paragraph": decision.paragraph,
        "outcome": decision.outcome,
        "override_reason": decision.override_reason,
        "text": decision.decision_text,
        "extra_meeting": decision.extra_meeting,
        "recorded_by": decision.recorded_by,
    }


def document_row(document: Any) -> dict[str, Any]:
    return {
        "id": document.id,
        "cycle": document.cycle_id,
        "step": document.step,
        "kind": document.kind,
        "filename": document.filename,
        "media_type": document.media_type,
        "size": document.size,
        "sha256": document.sha256,
        "attached_by": document.attached_by,
        "attached_at": _iso(document.attached_at),
    }


def process_row(definition: ProcessDefinition, lang: str) -> dict[str, Any]:
    return {
        "key": definition.key,
        "version": definition.version,
        "title": definition.title.get(lang),
    }


def organisation_json(org: Organisation) -> dict[str, Any]:
    return {
        "municipality": org.municipality,
        "name": org.name,
        "people": [
            {
                "id": p.id,
                "name": p.name,
                "email": p.email,
                "language": p.language,
                "department": p.department,
                "roles": list(p.roles),
                "deputy_for": list(p.deputy_for),
            }
            for p in org.people
        ],
        "groups": [
            {
                "key": g.key,
                "name": g.name,
                "chair": g.chair,
                "deputy": g.deputy,
                "members": list(g.members),
            }
            for g in org.groups
        ],
        "towns": [{"key": t.key, "name": t.name, "main": t.main} for t in org.towns],
        "areas": [{"key": a.key, "name": a.name, "towns": list(a.towns)} for a in org.areas],
        "processes": {key: s.group for key, s in org.processes.items()},
        "also_run_by": {
            key: list(s.also_run_by) for key, s in org.processes.items() if s.also_run_by
        },
    }
