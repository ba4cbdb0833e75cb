"""``tsk gdpr purge``: remove the free text people wrote, once the retention time has passed."""

from __future__ import annotations

import datetime as dt

import click

from tsk_workflow.cli import dates, runtime
from tsk_workflow.cli.context import TskGroup, emit_json, json_option

DAY = dates.DateTime()


@click.group(cls=TskGroup)
def gdpr() -> None:
    """Personal data: purge free text older than the retention time (privacy.retention)."""


@gdpr.command()
@click.option(
    "--before",
    "before",
    type=DAY,
    required=True,
    metavar="DATE",
    help="Purge what is older than this day (Stockholm time); at most now minus the retention",
)
@click.option("--force", is_flag=True, help="Allow a --before within the retention time")
@click.option("--dry-run", is_flag=True, help="Only count what would be purged")
@json_option
@click.pass_context
def purge(
    ctx: click.Context, before: dt.datetime, force: bool, dry_run: bool, as_json: bool
) -> None:
    """Remove task notes, text answers, closing notes and the audit payloads holding them.

    The audit chain still verifies (it is built over payload digests); the purge itself is
    recorded as an audit event with the counts. The kanslichef (or a deputy) may purge.
    """
    from tsk_workflow import gdpr as personal_data

    engine = runtime.engine(ctx)
    result = personal_data.purge(
        engine, runtime.actor(ctx), before.date(), force=force, dry_run=dry_run
    )
    if as_json:
        emit_json(result.as_dict())
        return
    counts = result.counts()
    what = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in counts.items())
    day = before.date().isoformat()
    if dry_run:
        click.echo(f"Skulle rensa (före {day}): {what}; inget ändrat.")
    else:
        click.echo(f"Rensat (före {day}): {what}; audit-händelse {result.event}.")
