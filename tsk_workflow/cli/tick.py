"""``tsk tick``: one scheduler pass (``tsk_workflow.schedpass``), for cron or a systemd timer."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import emit_json, json_option
from tsk_workflow.i18n import N_, _

if TYPE_CHECKING:
    from tsk_workflow.schedpass import PassResult


@click.command(
    help=N_(
        "One pass: fire due timers (open cycles, remind, escalate), make the day's digests and"
        " the day's signed checkpoint once their times have passed, send the mail. Idempotent."
        "\n\nFor cron or a systemd timer; several may run at once against one PostgreSQL"
        " database and each timer still fires once."
    )
)
@runtime.now_option
@click.option(
    "--send/--no-send",
    default=None,
    help=N_("Also send the queued mail (default: when TSK_SMTP_HOST is set)"),
)
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    default=500,  # ticker.BATCH, not imported here (start-up); a test keeps them equal
    show_default=True,
    help=N_("Timers claimed and fired per transaction"),
)
@click.option(
    "--catch-up",
    is_flag=True,
    help=N_(
        "Fire what became due since the newest time the database knows, when that is more"
        " than 400 days before now (a limited number of batches a pass; run it again until"
        " done)"
    ),
)
@json_option
@click.pass_context
def tick(
    ctx: click.Context,
    now: dt.datetime | None,
    send: bool | None,
    batch: int,
    catch_up: bool,
    as_json: bool,
) -> None:
    import os

    from tsk_workflow.errors import TskError
    from tsk_workflow.schedpass import PassOptions, SchedulerPass, sends

    at, engines = runtime.engines_at(ctx, now)
    runtime.require_service_act(ctx, next(iter(engines.values())).store, "tick")
    options = PassOptions(send=sends(send, os.environ), batch=batch, catch_up=catch_up)
    store = next(iter(engines.values())).store
    environ = runtime.mail_environment(store) if options.send else os.environ
    result = SchedulerPass(engines, environ, options)(at)
    if as_json:
        emit_json(result.as_dict())
    else:
        _echo(result)
    if result.failure is not None:
        raise TskError(result.failure)


TIMER_KINDS = {
    "cycle_open": N_("cycle opened"),
    "plan": N_("year plan"),
    "reminder": N_("reminder"),
    "due": N_("overdue"),
    "escalation": N_("escalation"),
    "transition": N_("automatic transition"),
}
"""The kinds of timers as the pass's line names them (``--json`` keeps the keys)."""


def _echo(result: PassResult) -> None:
    timers = result.timers
    fired = sorted(timers.fired.items())
    parts = ", ".join(
        f"{_(TIMER_KINDS[kind]) if kind in TIMER_KINDS else kind} {count}" for kind, count in fired
    )
    click.echo(
        _("{now}: {total} timers ({parts}); {skipped} without effect; {failed} failed").format(
            now=result.now.isoformat(),
            total=timers.total,
            parts=parts or _("nothing"),
            skipped=timers.skipped,
            failed=timers.failed,
        )
    )
    if timers.opened:
        click.echo(_("opened: {cycles}").format(cycles=", ".join(timers.opened)))
    if timers.more_due:
        click.echo(_("more timers are due: this pass stopped at its limit; run it again to go on"))
    if result.actions:
        click.echo(
            _("actions' reminders and overdue notices: {count}").format(count=result.actions)
        )
    if result.digests:
        click.echo(_("daily digests: {count}").format(count=result.digests))
    checkpoint = result.checkpoint
    if checkpoint is not None and "skipped" in checkpoint:
        click.echo(_("checkpoint: none ({reason})").format(reason=checkpoint["skipped"]))
    elif checkpoint is not None and "seq" in checkpoint:
        click.echo(
            _("checkpoint: {seq} signed (key {key}…): {file}").format(
                seq=checkpoint["seq"], key=str(checkpoint["key_id"])[:8], file=checkpoint["file"]
            )
        )
    if result.mail is not None:
        from tsk_workflow.schedpass import mail_counts

        click.echo(_("mail: {counts}").format(counts=mail_counts(result.mail)))
