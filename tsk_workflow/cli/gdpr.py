"""``tsk gdpr purge``: remove the free text people wrote, once the retention time has passed."""

from __future__ import annotations

import datetime as dt

import click

from tsk_workflow.cli import dates, runtime
from tsk_workflow.cli.context import TskGroup, emit_json, json_option
from tsk_workflow.i18n import N_, _

DAY = dates.DateTime()

PURGED = {
    "task_notes": N_("task notes"),
    "task_answers": N_("task answers"),
    "cycle_notes": N_("cycle notes"),
    "mail_notes": N_("mail notes"),
    "audit_payloads": N_("audit payloads"),
    "event_texts": N_("event texts"),
    "action_notes": N_("notes of the actions' follow-ups"),
    "documents": N_("generated lägesbilder made again without the text"),
}
"""What a purge counts, as people read it (``--json`` keeps the keys)."""

KEPT = {
    "staff_identities": N_("who did what and when"),
    "choice_answers": N_("answers to choice, town, area, date and number questions"),
    "event_figures": N_("the category, day, time, town and point of events"),
    "actions": N_("the action register"),
    "decisions": N_("decisions"),
    "system_notes": N_("the system's own notes"),
    "attached_documents": N_("documents people attached"),
    "refused_acts": N_("refused acts"),
    "mail_addresses": N_("the addresses of mail"),
    "organisation": N_("the organisation's versions"),
}
"""What a purge keeps on purpose, as people read it (``--json``: ``kept_on_purpose``)."""


@click.group(
    cls=TskGroup,
    help=N_("Personal data: purge free text older than the retention time (privacy.retention)."),
)
def gdpr() -> None:
    pass


@gdpr.command(
    help=N_(
        "Remove task notes, text answers, closing notes, the texts of reported events, the notes"
        " of follow-ups and the audit payloads holding them; make the generated lägesbilder"
        " holding them again without them."
        "\n\nThe audit chain still verifies (it is built over payload digests); the purge itself"
        " is recorded as an audit event with the counts and what was kept on purpose. The"
        " kanslichef (or a deputy) may purge. See docs/privacy.md."
    )
)
@click.option(
    "--before",
    "before",
    type=DAY,
    required=True,
    metavar="DATE",
    help=N_(
        "Purge what is older than this day, YYYY-MM-DD (Stockholm time); at most now minus the"
        " retention"
    ),
)
@click.option("--force", is_flag=True, help=N_("Allow a --before within the retention time"))
@click.option("--dry-run", is_flag=True, help=N_("Only count what would be purged"))
@json_option
@click.pass_context
def purge(
    ctx: click.Context, before: dt.datetime, force: bool, dry_run: bool, as_json: bool
) -> None:
    from tsk_workflow import gdpr as personal_data

    engine = runtime.engine(ctx)
    result = personal_data.purge(
        engine, runtime.actor(ctx, engine), before.date(), force=force, dry_run=dry_run
    )
    if as_json:
        emit_json(result.as_dict())
        return
    counts = result.counts()
    what = ", ".join(
        f"{_(PURGED[key]) if key in PURGED else key} {value}" for key, value in counts.items()
    )
    kept = ", ".join(
        _(KEPT[key]) if key in KEPT else key for key in result.as_dict()["kept_on_purpose"]
    )
    day = before.date().isoformat()
    if dry_run:
        click.echo(
            _(
                "Would purge (before {day}): {what}; kept on purpose: {kept}; nothing changed."
            ).format(day=day, what=what, kept=kept)
        )
        return
    click.echo(
        _("Purged (before {day}): {what}; kept on purpose: {kept}; audit event {event}.").format(
            day=day, what=what, kept=kept, event=result.event
        )
    )
    if result.erased is False:
        click.echo(
            _(
                "The database's files could not be cleaned after the purge (someone was reading,"
                " or this database role may not vacuum): the purged text may stay in them for a"
                " while; see docs/privacy.md."
            ),
            err=True,
        )
