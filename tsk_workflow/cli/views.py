"""How things look when printed: rows for ``--json`` and lines for people. No business rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tsk_workflow import i18n
from tsk_workflow.i18n import N_, _, ngettext
from tsk_workflow.rows import (  # what --json prints, shared with the service's API
    cycle_detail,
    cycle_row,
    decision_row,
    document_row,
    organisation_json,
    process_row,
    task_row,
)

__all__ = [
    "cycle_detail",
    "cycle_row",
    "decision_row",
    "document_row",
    "organisation_json",
    "process_row",
    "task_row",
]

if TYPE_CHECKING:  # for the annotations only: `task list` prints without pydantic's models
    from pathlib import Path

    from tsk_workflow.definitions.model import ProcessDefinition, Step
    from tsk_workflow.definitions.reader import Problem
    from tsk_workflow.engine.upgrade import Upgrade
    from tsk_workflow.organisation.model import Organisation


STATUSES = {
    "open": N_("open"),
    "done": N_("done"),
    "cancelled": N_("cancelled"),
    "closed": N_("closed"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "postponed": N_("postponed"),
    "proposed": N_("proposed"),
    "pending": N_("pending"),
    "sent": N_("sent"),
    "failed": N_("failed"),
    "held": N_("held"),
}
"""The statuses of tasks, cycles, decisions and mail as people read them (``--json`` keeps the
keys)."""


def status_label(status: object) -> str:
    """``status`` in the language spoken (an unknown one as it is)."""
    text = STATUSES.get(str(status))
    return _(text) if text is not None else str(status)


def problem_row(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "message": problem.message,
    }


def process_text(definition: ProcessDefinition, lang: str) -> str:
    schedule = definition.schedule.model_dump(exclude_defaults=False)
    labels = [_("chair"), _("roles"), _("subject"), _("schedule")]
    width = max(len(label) for label in labels) + 2
    values = [
        definition.chair,
        ", ".join(definition.roles),
        definition.subject,
        ", ".join(f"{k}={v}" for k, v in schedule.items() if v is not None),
    ]
    lines = [f"{definition.key} v{definition.version}: {definition.title.get(lang)}"]
    lines += [
        f"  {label + ':':<{width}}{value}" for label, value in zip(labels, values, strict=True)
    ]
    lines.append("  {steps}:".format(steps=_("steps")))
    for step in definition.steps:
        lines += _step_lines(step, definition, lang)
    return "\n".join(lines)


def _step_lines(step: Step, definition: ProcessDefinition, lang: str) -> list[str]:
    final = " ({final})".format(final=_("final")) if step.key in definition.final else ""
    lines = [f"    {step.key}{final}: {step.title.get(lang)}"]
    produces, meeting_label = _("produces") + ":", _("meeting") + ":"
    width = max(len(produces), len(meeting_label)) + 1
    if step.produces:
        lines.append(f"      {produces:<{width}}{', '.join(step.produces)}")
    if step.meeting is not None:
        meeting = step.meeting
        lines.append(
            f"      {meeting_label:<{width}}"
            f"{meeting.title.get(lang)} {meeting.start}, {meeting.length}"
        )
    task_label, due_label = _("task"), _("due")
    for task in step.tasks:
        due = f", {due_label} {task.due}" if task.due else ""
        lines.append(f"      {task_label} {task.key} [{task.role}{due}]: {task.title.get(lang)}")
    for transition in definition.transitions:
        if step.key in transition.source:
            auto = " ({auto})".format(auto=_("auto")) if transition.auto else ""
            moves = _("-> {dest} by '{trigger}'{auto} [{roles}]").format(
                dest=transition.dest,
                trigger=transition.trigger,
                auto=auto,
                roles=", ".join(transition.by),
            )
            lines.append(f"      {moves}")
    return lines


def organisation_text(org: Organisation) -> str:
    lines = [f"{org.name} ({org.municipality})", "", _("People:")]
    for person in org.people:
        roles = ", ".join(person.roles) or "-"
        deputy = (
            _("; deputy for {roles}").format(roles=", ".join(person.deputy_for))
            if person.deputy_for
            else ""
        )
        lines.append(f"  {person.id:<24} {person.name:<24} {roles}{deputy}")
    lines += ["", _("Groups:")]
    for group in org.groups:
        deputy = _(", deputy {person}").format(person=group.deputy) if group.deputy else ""
        members = ngettext("{n} member", "{n} members", len(group.members)).format(
            n=len(group.members)
        )
        chaired = _("chair {person}").format(person=group.chair)
        lines.append(f"  {group.key:<20} {group.name}: {chaired}{deputy}; {members}")
    if org.towns:
        main = " ({main})".format(main=_("main town"))
        towns = ", ".join(t.name + (main if t.main else "") for t in org.towns)
        lines += ["", _("Towns: {towns}").format(towns=towns)]
    if org.areas:
        lines += [_("Areas: {areas}").format(areas=", ".join(a.name for a in org.areas))]
    lines += ["", _("Processes (the group that runs each):")]
    for key in sorted(org.processes):
        settings = org.processes[key]
        also = (
            "; "
            + _("also {groups}, when they need to").format(groups=", ".join(settings.also_run_by))
            if settings.also_run_by
            else ""
        )
        lines.append(f"  {key:<24} {settings.group}{also}")
    return "\n".join(lines)


def task_line(row: dict[str, Any], lang: str | None = None) -> str:
    """One task for people, in ``lang`` (default: the language spoken)."""
    with i18n.speaking(lang or i18n.language()):
        due = _local_date(row["due"]) if row["due"] else "-"
        who = ", ".join(row["assignees"])
        status = status_label(row["status"])
        details = _("{who}; due {when}").format(who=who, when=due)
        return f"{row['id']:>6}  {status:<9} {row['cycle_ref']:<30} {row['title']} ({details})"


def _local_date(iso: str) -> str:
    import datetime as dt
    from zoneinfo import ZoneInfo

    # calendar.STOCKHOLM (the same cached zone) without importing the calendar (dateutil,
    # isodate): `task list` prints its lines without them.
    stockholm = ZoneInfo("Europe/Stockholm")
    return dt.datetime.fromisoformat(iso).astimezone(stockholm).strftime("%Y-%m-%d %H:%M")


def cycle_text(data: dict[str, Any], lang: str | None = None) -> str:
    """A cycle and its tasks for people, in ``lang`` (default: the language spoken)."""
    with i18n.speaking(lang or i18n.language()):
        lines = [
            f"{data['ref']} (id {data['id']}): {data['title']}",
            "  "
            + _("status: {status}, step: {step}").format(
                status=status_label(data["status"]), step=data["state"]
            ),
            "  "
            + _("run by the group {group}; opened by {person} {when}").format(
                group=data["group"], person=data["opened_by"], when=_local_date(data["opened_at"])
            ),
        ]
        if data["closed_by"]:
            lines.append(
                "  "
                + _("closed by {person} {when}").format(
                    person=data["closed_by"], when=_local_date(data["closed_at"])
                )
            )
        if data["allowed_triggers"]:
            triggers = ", ".join(data["allowed_triggers"])
            lines.append("  " + _("triggers: {triggers}").format(triggers=triggers))
        lines.append("  " + _("tasks:"))
        lines += [f"  {task_line(row)}" for row in data["tasks"]]
        return "\n".join(lines)


def next_text(data: dict[str, Any], lang: str | None = None) -> str:
    """``cycle next``: each transition out of the step, who may fire it, and why not yet."""
    with i18n.speaking(lang or i18n.language()):
        lines = [
            f"{data['cycle']}: "
            + _("{status}, step: {step}").format(
                status=status_label(data["status"]), step=data["step"]
            )
        ]
        if not data["transitions"]:
            lines.append("  " + _("nothing can be fired"))
        for item in data["transitions"]:
            by = ", ".join(item["people"]) or ", ".join(item["roles"])
            verdict = _("yes") if item["allowed"] else _("no")
            if item["allowed"] and item["needs_note"]:
                verdict = _("yes (with --note)")
            lines.append(
                "  "
                + _("{trigger} -> {to} (by {by}): {verdict}").format(
                    trigger=item["trigger"], to=item["to"], by=by, verdict=verdict
                )
            )
            if item["auto"]:
                lines.append("    " + _("fires by itself once the tasks are done"))
            if item["after"]:
                lines.append(
                    "    " + _("fires by itself after {after}").format(after=item["after"])
                )
            lines += [f"    - {reason}" for reason in item["reasons"]]
    return "\n".join(lines)


def upgrade_text(done: Upgrade, lang: str | None = None) -> list[str]:
    """What ``process upgrade-cycles`` moved and refused, one line a cycle."""
    with i18n.speaking(lang or i18n.language()):
        target = _("version {version} (sha256 {digest})").format(
            version=done.version, digest=done.digest[:16]
        )
        if not done.moved and not done.refused:
            return [
                _("{process}: no open cycle on an older version; {target} is current").format(
                    process=done.process, target=target
                )
            ]
        if done.dry_run:
            moved, refused = _("would move"), _("would refuse")
        else:
            moved, refused = _("moved"), _("refused")
        lines = [_("{process}: to {target}").format(process=done.process, target=target)]
        for move in done.moved:
            step = _("step {step}").format(step=move.step)
            lines.append(
                f"  {moved}: {move.ref} (id {move.id}) v{move.from_version} -> v{done.version},"
                f" {step}"
            )
        for move in done.refused:
            lines.append(
                f"  {refused}: {move.ref} (id {move.id}) v{move.from_version}: {move.reason}"
            )
        if done.dry_run:
            lines.append(_("Dry run: nothing changed."))
        return lines


def decision_line(row: dict[str, Any]) -> str:
    routed = str(row["routed_to"]).upper()
    decided = ""
    if row["outcome"]:
        outcome = status_label(row["outcome"])
        extra = _(" (extra meeting)") if row.get("extra_meeting") else ""
        decided = f" -> {outcome} {str(row['body']).upper()} {row['date']}{extra} {row['paragraph']} ({row['recorded_by']})"
    agenda = (
        _(", agenda {date}").format(date=row["agenda_date"])
        if row["agenda_date"] and not row["outcome"]
        else ""
    )
    proposed = _("proposed by {person}").format(person=row["proposed_by"])
    return f"{row['id']:>4}  {row['title']} [{routed}{agenda}] {proposed}{decided}"


# ---------------------------------------------------------------- the audit trail

ROLES = {
    "system": N_("system"),
    "chair": N_("chair"),
    "deputy chair": N_("deputy chair"),
    "admin": N_("admin"),
    "auditor": N_("auditor"),
}
"""The roles the record gives those who act for no role of the organisation, as people read
them (``--json`` and ``--csv`` keep what is recorded); an organisation's roles are its keys."""


def role_label(role: str) -> str:
    """``role`` as people read it: the record's own roles translated, an organisation's as
    they are (keys)."""
    text = ROLES.get(role)
    return _(text) if text is not None else role


def brief(payload: dict[str, object] | None) -> str:
    """The payload's telling values, ``key=value``, for one line of ``tsk audit``."""
    if not payload:
        return ""
    keys = (
        "trigger",
        "to",
        "note",
        "title",
        "routed_to",
        "outcome",
        "paragraph",
        "forced",
        "late",
        "via",
    )
    parts = [f"{key}={payload[key]}" for key in keys if payload.get(key) not in (None, "", False)]
    return " ".join(parts)


def show_cycles(rows: list[dict[str, Any]], as_json: bool) -> None:
    """``cycle list``'s output, from the cycles' rows (a database's or the service's)."""
    import click

    from tsk_workflow.cli.context import emit_json

    if as_json:
        emit_json(rows)
        return
    for row in rows:
        status = status_label(row["status"])
        click.echo(
            f"{row['id']:>5}  {row['ref']:<34} {status:<7} {row['state']:<26} {row['title']}"
        )
    if not rows:
        click.echo(_("No cycles."))


def show_decisions(rows: list[dict[str, Any]], as_json: bool) -> None:
    """``decision list``'s output, from the decisions' rows."""
    import click

    from tsk_workflow.cli.context import emit_json

    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(decision_line(row))
    if not rows:
        click.echo(_("No decisions."))


def write_form_template(
    template: Path, text: str, task_id: int, *, force: bool, as_json: bool
) -> None:
    """``task form --template``: the file to fill in written (``-``: printed), never over one
    that is there without ``--force``."""
    import click

    from tsk_workflow.cli.context import emit_json
    from tsk_workflow.files import check_target, write

    if str(template) == "-":
        click.echo(text, nl=False)
        return
    check_target(template, force=force)
    write(template, text.encode("utf-8"))
    if as_json:
        emit_json({"task": task_id, "template": str(template)})
    else:
        click.echo(f"{template}: tsk task done {task_id} --answers {template}")
