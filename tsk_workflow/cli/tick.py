"""``tsk tick``: one scheduler pass, for cron or a systemd timer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import emit_json, json_option

if TYPE_CHECKING:
    from tsk_workflow.engine.service import Engine


def parse_now(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time (2027-03-14T08:00+01:00)", param_hint="--now"
        ) from None
    if moment.tzinfo is None:
        from tsk_workflow.calendar import STOCKHOLM

        moment = moment.replace(tzinfo=STOCKHOLM)
    return moment.astimezone(dt.UTC)


@click.command()
@click.option("--now", "now_text", metavar="ISO", help="Act as if it were this time (default: now)")
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
    ctx: click.Context, now_text: str | None, send: bool | None, batch: int, as_json: bool
) -> None:
    """One pass: open due cycles, fire due timers, queue their mail, send it. Idempotent.

    For cron or a systemd timer; several may run at once against one PostgreSQL database and
    each timer still fires once.
    """
    import os

    from tsk_workflow.engine.ticker import Ticker

    now = parse_now(now_text)
    engines = runtime.engines(ctx, lambda: now)
    if now_text is not None:
        runtime.require_virtual_time(next(iter(engines.values())).store, "--now")
    result = Ticker(engines).tick(now, batch=batch)
    data: dict[str, object] = {"now": now.isoformat(), **result.as_dict()}
    data["digests"] = _digest(engines, now)  # daily digests: tsk_workflow/mail/digest.py
    data["checkpoint"], failed = _checkpoint(engines, now)  # tsk_workflow/checkpoints.py
    if send if send is not None else bool(os.environ.get("TSK_SMTP_HOST")):
        data["mail"] = _deliver(engines, now)
    if as_json:
        emit_json(data)
        _fail_after(failed)
        return
    parts = ", ".join(f"{kind} {count}" for kind, count in sorted(result.fired.items())) or "inget"
    click.echo(
        f"{now.isoformat()}: {result.total} timers ({parts}); {result.skipped} utan verkan;"
        f" {result.failed} misslyckade"
    )
    if result.opened:
        click.echo(f"öppnade: {', '.join(result.opened)}")
    if data["digests"]:
        click.echo(f"dagliga sammandrag: {data['digests']}")
    _echo_checkpoint(data["checkpoint"])
    if "mail" in data:
        click.echo(f"mejl: {data['mail']}")
    _fail_after(failed)


def _deliver(engines: Mapping[str, Engine], now: dt.datetime) -> dict[str, int]:
    import os

    from tsk_workflow.mail.outbox import deliver

    store = next(iter(engines.values())).store
    sent = deliver(store, {key: e.org for key, e in engines.items()}, os.environ, now)
    return {"sent": sent.sent, "retried": sent.retried, "failed": sent.failed, "held": sent.held}


def _digest(engines: Mapping[str, Engine], now: dt.datetime) -> int:
    """Queue the day's digest mails once the local time is past ``mail.digest_time`` (07:00)."""
    from tsk_workflow.mail.digest import compose_due_digests

    store = next(iter(engines.values())).store
    return compose_due_digests(store, {key: e.org for key, e in engines.items()}, now)


def _checkpoint(
    engines: Mapping[str, Engine], now: dt.datetime
) -> tuple[dict[str, object] | None, str | None]:
    """The day's signed checkpoint of the audit trail once ``audit.checkpoint_time`` (23:45) has
    passed: the checkpoint, None (not yet, or made already), or ``{"skipped": why}`` when
    TSK_AUDIT_KEY or TSK_CHECKPOINT_DIR is not set. A key or folder that cannot be used does not
    stop the pass: ``{"failed": why}``, and the pass exits 1 once the mail is sent."""
    import os

    from tsk_workflow.checkpoints import daily_from_env
    from tsk_workflow.engine.ticker import worker_id
    from tsk_workflow.errors import TskError

    store = next(iter(engines.values())).store
    orgs = {key: e.org for key, e in engines.items()}
    try:
        return daily_from_env(store, orgs, os.environ, now, worker_id()), None
    except TskError as exc:
        return {"failed": str(exc)}, f"no checkpoint signed: {exc}"


def _echo_checkpoint(checkpoint: object) -> None:
    if not isinstance(checkpoint, dict):
        return
    if "skipped" in checkpoint:
        click.echo(f"kontrollpunkt: ingen ({checkpoint['skipped']})")
    elif "seq" in checkpoint:
        click.echo(
            f"kontrollpunkt: {checkpoint['seq']} signerad (nyckel {str(checkpoint['key_id'])[:8]}…):"
            f" {checkpoint['file']}"
        )


def _fail_after(failed: str | None) -> None:
    if failed is not None:
        from tsk_workflow.errors import TskError

        raise TskError(failed)
