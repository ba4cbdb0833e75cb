"""``tsk tick``: one scheduler pass, for cron or a systemd timer."""

from __future__ import annotations

import datetime as dt

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import emit_json, json_option


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
@json_option
@click.pass_context
def tick(ctx: click.Context, now_text: str | None, as_json: bool) -> None:
    """One pass: open due cycles, fire due timers, queue their mail. Idempotent."""
    from tsk_workflow.engine.ticker import Ticker

    now = parse_now(now_text)
    engines = runtime.engines(ctx, lambda: now)
    result = Ticker(engines).tick(now)
    data = {
        "now": now.isoformat(),
        "fired": result.fired,
        "skipped": result.skipped,
        "total": result.total,
    }
    if as_json:
        emit_json(data)
        return
    parts = ", ".join(f"{kind} {count}" for kind, count in sorted(result.fired.items())) or "inget"
    click.echo(f"{now.isoformat()}: {result.total} timers ({parts}); {result.skipped} utan verkan")
