"""``tsk run``: the scheduler as a long-running service (systemd), see ``tsk_workflow.scheduler``."""

from __future__ import annotations

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import json_option, log_level_option
from tsk_workflow.i18n import N_


@click.command(
    help=N_(
        "Run the scheduler until stopped (SIGTERM or Ctrl-C): the pass of tsk tick every"
        " --interval seconds, and once at start. The day's digests and signed checkpoint come"
        " with the first pass after the organisation's mail.digest_time and"
        " audit.checkpoint_time. Mail goes from a thread of its own, so no timer waits for a"
        " slow mail server. Logs one line per pass, and per delivery of mail, on stderr (--json:"
        " JSON lines).\n\n"
        "A stop lets the pass in progress finish, gives the mail in flight 5 seconds, leaves the"
        ' rest for the next start, logs "stopped" and exits 0.'
    )
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help=N_("Seconds between scheduler passes"),
)
@click.option(
    "--send/--no-send",
    default=None,
    help=N_("Send the queued mail (default: when TSK_SMTP_HOST is set)"),
)
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    default=500,  # ticker.BATCH, not imported here (start-up); a test keeps them equal
    show_default=True,
    help=N_("Timers claimed and fired per transaction"),
)
@log_level_option
@json_option
@click.pass_context
def run(
    ctx: click.Context,
    interval: float,
    send: bool | None,
    batch: int,
    log_level: str,
    as_json: bool,
) -> None:
    import os

    from tsk_workflow.schedpass import sends
    from tsk_workflow.scheduler import Options, Service, serve

    configure_logging(log_level, as_json)
    engines = runtime.engines(ctx)
    runtime.require_service_act(ctx, next(iter(engines.values())).store, "run")
    clock = next(iter(engines.values())).clock  # the server's, or TSK_NOW (virtual time)
    options = Options(interval=interval, send=sends(send, os.environ), batch=batch)
    store = next(iter(engines.values())).store
    environ = runtime.mail_environment(store) if options.send else os.environ
    ctx.exit(serve(Service(engines, options, clock, environ)))


def configure_logging(level: str, as_json: bool) -> None:
    """One line per log record on stderr (``as_json``: a JSON object per line), from ``level``
    up; APScheduler's own lines from warnings up."""
    import logging
    import sys

    from tsk_workflow.scheduler import JsonFormatter

    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # APScheduler logs every job run at INFO; its warnings (a pass that overran) still show.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
