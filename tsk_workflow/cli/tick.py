"""``tsk tick``: one scheduler pass (``tsk_workflow.schedpass``), for cron or a systemd timer."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import emit_json, json_option

if TYPE_CHECKING:
    from tsk_workflow.schedpass import PassResult


@click.command()
@runtime.now_option
@click.option(
    "--send/--no-send",
    default=None,
    help="Also send the queued mail (default: when TSK_SMTP_HOST is set)",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    default=500,  # ticker.BATCH, not imported here (start-up); a test keeps them equal
    show_default=True,
    help="Timers claimed and fired per transaction",
)
@json_option
@click.pass_context
def tick(
    ctx: click.Context, now: dt.datetime | None, send: bool | None, batch: int, as_json: bool
) -> None:
    """One pass: fire due timers (open cycles, remind, escalate), make the day's digests and
    the day's signed checkpoint once their times have passed, send the mail. Idempotent.

    For cron or a systemd timer; several may run at once against one PostgreSQL database and
    each timer still fires once.
    """
    import os

    from tsk_workflow.errors import TskError
    from tsk_workflow.schedpass import PassOptions, SchedulerPass, sends

    at, engines = runtime.engines_at(ctx, now)
    options = PassOptions(send=sends(send, os.environ), batch=batch)
    result = SchedulerPass(engines, os.environ, options)(at)
    if as_json:
        emit_json(result.as_dict())
    else:
        _echo(result)
    if result.failure is not None:
        raise TskError(result.failure)


def _echo(result: PassResult) -> None:
    timers = result.timers
    parts = ", ".join(f"{kind} {count}" for kind, count in sorted(timers.fired.items())) or "inget"
    click.echo(
        f"{result.now.isoformat()}: {timers.total} timers ({parts}); {timers.skipped} utan verkan;"
        f" {timers.failed} misslyckade"
    )
    if timers.opened:
        click.echo(f"öppnade: {', '.join(timers.opened)}")
    if result.digests:
        click.echo(f"dagliga sammandrag: {result.digests}")
    checkpoint = result.checkpoint
    if checkpoint is not None and "skipped" in checkpoint:
        click.echo(f"kontrollpunkt: ingen ({checkpoint['skipped']})")
    elif checkpoint is not None and "seq" in checkpoint:
        click.echo(
            f"kontrollpunkt: {checkpoint['seq']} signerad (nyckel {str(checkpoint['key_id'])[:8]}…):"
            f" {checkpoint['file']}"
        )
    if result.mail is not None:
        click.echo(f"mejl: {result.mail}")
