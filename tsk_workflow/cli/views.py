"""How things look when printed: rows for ``--json`` and lines for people. No business rules."""

from __future__ import annotations

from typing import Any

from tsk_workflow.definitions.model import ProcessDefinition, Step
from tsk_workflow.definitions.reader import Problem
from tsk_workflow.organisation.model import Organisation


def process_row(definition: ProcessDefinition, lang: str) -> dict[str, Any]:
    return {"key": definition.key, "version": definition.version, "title": definition.title.get(lang)}


def problem_row(problem: Problem) -> dict[str, Any]:
    return {"file": problem.file, "line": problem.line, "column": problem.column, "message": problem.message}


def process_text(definition: ProcessDefinition, lang: str) -> str:
    schedule = definition.schedule.model_dump(exclude_defaults=False)
    lines = [
        f"{definition.key} v{definition.version}: {definition.title.get(lang)}",
        f"  chair:    {definition.chair}",
        f"  roles:    {', '.join(definition.roles)}",
        f"  subject:  {definition.subject}",
        f"  schedule: {', '.join(f'{k}={v}' for k, v in schedule.items() if v is not None)}",
        "  steps:",
    ]
    for step in definition.steps:
        lines += _step_lines(step, definition, lang)
    return "\n".join(lines)


def _step_lines(step: Step, definition: ProcessDefinition, lang: str) -> list[str]:
    final = " (final)" if step.key in definition.final else ""
    lines = [f"    {step.key}{final}: {step.title.get(lang)}"]
    if step.produces:
        lines.append(f"      produces: {', '.join(step.produces)}")
    if step.meeting is not None:
        lines.append(f"      meeting:  {step.meeting.title.get(lang)} {step.meeting.start}, {step.meeting.length}")
    for task in step.tasks:
        due = f", due {task.due}" if task.due else ""
        lines.append(f"      task {task.key} [{task.role}{due}]: {task.title.get(lang)}")
    for transition in definition.transitions:
        if step.key in transition.source:
            auto = " (auto)" if transition.auto else ""
            lines.append(f"      -> {transition.dest} by '{transition.trigger}'{auto} [{', '.join(transition.by)}]")
    return lines


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
            {"key": g.key, "name": g.name, "chair": g.chair, "deputy": g.deputy, "members": list(g.members)}
            for g in org.groups
        ],
        "towns": [{"key": t.key, "name": t.name, "main": t.main} for t in org.towns],
        "areas": [{"key": a.key, "name": a.name, "towns": list(a.towns)} for a in org.areas],
        "processes": {key: s.group for key, s in org.processes.items()},
    }


def organisation_text(org: Organisation) -> str:
    lines = [f"{org.name} ({org.municipality})", "", "Personer:"]
    for person in org.people:
        roles = ", ".join(person.roles) or "-"
        deputy = f"; ersättare för {', '.join(person.deputy_for)}" if person.deputy_for else ""
        lines.append(f"  {person.id:<24} {person.name:<24} {roles}{deputy}")
    lines += ["", "Grupper:"]
    for group in org.groups:
        deputy = f", ersättare {group.deputy}" if group.deputy else ""
        lines.append(f"  {group.key:<20} {group.name}: ordförande {group.chair}{deputy}; {len(group.members)} medlemmar")
    if org.towns:
        lines += ["", "Orter: " + ", ".join(t.name + (" (centralort)" if t.main else "") for t in org.towns)]
    if org.areas:
        lines += ["Områden: " + ", ".join(a.name for a in org.areas)]
    lines += ["", "Processer: " + ", ".join(sorted(org.processes))]
    return "\n".join(lines)
