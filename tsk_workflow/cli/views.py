"""How things look when printed: rows for ``--json`` and lines for people. No business rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for the annotations only: `task list` prints without pydantic's models
    from tsk_workflow.definitions.model import ProcessDefinition, Step
    from tsk_workflow.definitions.reader import Problem
    from tsk_workflow.engine.versions import Upgrade
    from tsk_workflow.organisation.model import Organisation


def process_row(definition: ProcessDefinition, lang: str) -> dict[str, Any]:
    return {
        "key": definition.key,
        "version": definition.version,
        "title": definition.title.get(lang),
    }


def problem_row(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "message": problem.message,
    }


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
        lines.append(
            f"      meeting:  {step.meeting.title.get(lang)} {step.meeting.start}, {step.meeting.length}"
        )
    for task in step.tasks:
        due = f", due {task.due}" if task.due else ""
        lines.append(f"      task {task.key} [{task.role}{due}]: {task.title.get(lang)}")
    for transition in definition.transitions:
        if step.key in transition.source:
            auto = " (auto)" if transition.auto else ""
            lines.append(
                f"      -> {transition.dest} by '{transition.trigger}'{auto} [{', '.join(transition.by)}]"
            )
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
        lines.append(
            f"  {group.key:<20} {group.name}: ordförande {group.chair}{deputy}; {len(group.members)} medlemmar"
        )
    if org.towns:
        lines += [
            "",
            "Orter: " + ", ".join(t.name + (" (centralort)" if t.main else "") for t in org.towns),
        ]
    if org.areas:
        lines += ["Områden: " + ", ".join(a.name for a in org.areas)]
    lines += ["", "Processer: " + ", ".join(sorted(org.processes))]
    return "\n".join(lines)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def task_row(task: Any, cycle_ref: str) -> dict[str, Any]:
    from tsk_workflow.store.queries import task_dict

    return task_dict(task, cycle_ref, task.assignee_ids)


def task_line(row: dict[str, Any], lang: str) -> str:
    due = _local_date(row["due"]) if row["due"] else "-"
    label = "senast" if lang == "sv" else "due"
    who = ", ".join(row["assignees"])
    return f"{row['id']:>6}  {row['status']:<9} {row['cycle_ref']:<30} {row['title']} ({who}; {label} {due})"


def _local_date(iso: str) -> str:
    import datetime as dt
    from zoneinfo import ZoneInfo

    # calendar.STOCKHOLM (the same cached zone) without importing the calendar (dateutil,
    # isodate): `task list` prints its lines without them.
    stockholm = ZoneInfo("Europe/Stockholm")
    return dt.datetime.fromisoformat(iso).astimezone(stockholm).strftime("%Y-%m-%d %H:%M")


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


def cycle_text(data: dict[str, Any], lang: str) -> str:
    sv = lang == "sv"
    lines = [
        f"{data['ref']} (id {data['id']}): {data['title']}",
        f"  {'status' if not sv else 'status'}: {data['status']}, {'steg' if sv else 'step'}: {data['state']}",
        f"  {'öppnad av' if sv else 'opened by'} {data['opened_by']} {_local_date(data['opened_at'])}",
    ]
    if data["closed_by"]:
        lines.append(
            f"  {'stängd av' if sv else 'closed by'} {data['closed_by']} {_local_date(data['closed_at'])}"
        )
    if data["allowed_triggers"]:
        lines.append(
            f"  {'möjliga steg' if sv else 'triggers'}: {', '.join(data['allowed_triggers'])}"
        )
    lines.append(f"  {'uppgifter' if sv else 'tasks'}:")
    lines += [f"  {task_line(row, lang)}" for row in data["tasks"]]
    return "\n".join(lines)


def next_text(data: dict[str, Any], lang: str) -> str:
    """``cycle next``: each transition out of the step, who may fire it, and why not yet."""
    sv = lang == "sv"
    lines = [f"{data['cycle']}: {data['status']}, {'steg' if sv else 'step'}: {data['step']}"]
    if not data["transitions"]:
        lines.append(f"  {'inget kan göras' if sv else 'nothing can be fired'}")
    for item in data["transitions"]:
        by = ", ".join(item["people"]) or ", ".join(item["roles"])
        verdict = ("ja" if sv else "yes") if item["allowed"] else ("nej" if sv else "no")
        if item["allowed"] and item["needs_note"]:
            verdict += " (med --note)" if sv else " (with --note)"
        lines.append(
            f"  {item['trigger']} -> {item['to']} ({'av' if sv else 'by'} {by}): {verdict}"
        )
        if item["auto"]:
            lines.append(
                f"    {'går av sig själv när uppgifterna är klara' if sv else 'fires by itself once the tasks are done'}"
            )
        if item["after"]:
            lines.append(
                f"    {'går av sig själv efter' if sv else 'fires by itself after'} {item['after']}"
            )
        lines += [f"    - {reason}" for reason in item["reasons"]]
    return "\n".join(lines)


def upgrade_text(done: Upgrade, lang: str) -> list[str]:
    """What ``process upgrade-cycles`` moved and refused, one line a cycle."""
    sv = lang == "sv"
    target = f"version {done.version} (sha256 {done.digest[:16]})"
    if not done.moved and not done.refused:
        return [
            f"{done.process}: inga öppna cykler på en äldre version; {target} gäller"
            if sv
            else f"{done.process}: no open cycle on an older version; {target} is current"
        ]
    if done.dry_run:
        moved, refused = (
            ("skulle flyttas", "skulle vägras") if sv else ("would move", "would refuse")
        )
    else:
        moved, refused = ("flyttad", "vägrad") if sv else ("moved", "refused")
    lines = [f"{done.process}: {'till' if sv else 'to'} {target}"]
    for move in done.moved:
        lines.append(
            f"  {moved}: {move.ref} (id {move.id}) v{move.from_version} -> v{done.version},"
            f" {'steg' if sv else 'step'} {move.step}"
        )
    for move in done.refused:
        lines.append(f"  {refused}: {move.ref} (id {move.id}) v{move.from_version}: {move.reason}")
    if done.dry_run:
        lines.append("Provkörning: inget är ändrat." if sv else "Dry run: nothing changed.")
    return lines


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
        "recorded_by": decision.recorded_by,
    }


def decision_line(row: dict[str, Any]) -> str:
    routed = str(row["routed_to"]).upper()
    decided = ""
    if row["outcome"]:
        decided = f" -> {row['outcome']} {str(row['body']).upper()} {row['date']} {row['paragraph']} ({row['recorded_by']})"
    agenda = (
        f", dagordning {row['agenda_date']}" if row["agenda_date"] and not row["outcome"] else ""
    )
    return f"{row['id']:>4}  {row['title']} [{routed}{agenda}] föreslagen av {row['proposed_by']}{decided}"


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
