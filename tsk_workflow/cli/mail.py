"""``tsk mail``: send a test mail, send what is queued, see and requeue failures."""

from __future__ import annotations

import datetime as dt
import os

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import TskGroup, emit_json, json_option, settings


@click.group(cls=TskGroup)
def mail() -> None:
    """Mail: test, send, status, retry."""


@mail.command()
@click.option("--to", "address", required=True, help="Where to send the test mail")
@json_option
@click.pass_context
def test(ctx: click.Context, address: str, as_json: bool) -> None:
    """Send a test mail now and print the server's reply."""
    from tsk_workflow.mail.message import OutgoingMail, make_message_id
    from tsk_workflow.mail.outbox import smtp_settings
    from tsk_workflow.mail.render import render
    from tsk_workflow.mail.smtp import send_batch_sync

    engine = runtime.engine(ctx)
    now = dt.datetime.now(dt.UTC)
    config = smtp_settings(engine.org, os.environ)
    lang = settings(ctx).lang
    context = {
        "person": {"name": address},
        "municipality": {"name": engine.org.name},
        "sent_at": now.astimezone(engine.cal.zone).isoformat(),
    }
    rendered = render("test_mail", lang, context)
    domain = engine.org.mail.sender.rsplit("@", 1)[1]
    message = OutgoingMail(
        make_message_id(f"test/{address}/{now.isoformat()}", domain),
        config.sender,
        address,
        address,
        rendered.subject,
        rendered.text,
        rendered.html,
    )
    result = send_batch_sync(config, [message])[0]
    data = {
        "to": address,
        "server": f"{config.host}:{config.port}",
        "status": result.status,
        "reply": result.reply,
    }
    if as_json:
        emit_json(data)
    else:
        click.echo(f"{config.host}:{config.port} svarade: {result.reply} ({result.status})")
    if result.status != "sent":
        raise click.exceptions.Exit(1)


@mail.command()
@json_option
@click.pass_context
def send(ctx: click.Context, as_json: bool) -> None:
    """Send every queued mail that is due now."""
    from tsk_workflow.mail.outbox import deliver

    engines = runtime.engines(ctx, lambda: dt.datetime.now(dt.UTC))
    first = next(iter(engines.values()))
    result = deliver(
        first.store, {k: e.org for k, e in engines.items()}, os.environ, dt.datetime.now(dt.UTC)
    )
    data = {
        "sent": result.sent,
        "retried": result.retried,
        "failed": result.failed,
        "failures": result.replies,
    }
    if as_json:
        emit_json(data)
    else:
        click.echo(
            f"skickade {result.sent}, försöker igen {result.retried}, misslyckade {result.failed}"
        )
        for reply in result.replies:
            click.echo(f"  {reply}")


@mail.command()
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Pending, sent and failed counts, and the failures with the server's reply."""
    from tsk_workflow.mail.outbox import failures, status_counts

    store = runtime.open_store(ctx)
    municipality = _municipality(ctx)
    with store.reading() as session:
        counts = status_counts(session, municipality)
        failed = [
            {
                "id": m.id,
                "to": m.email,
                "template": m.template,
                "attempts": m.attempts,
                "reply": m.last_reply,
            }
            for m in failures(session, municipality)
        ]
    if as_json:
        emit_json({**counts, "failures": failed})
        return
    click.echo(
        f"väntar {counts['pending']}, skickade {counts['sent']}, misslyckade {counts['failed']}, i dagligt sammandrag {counts['digest']}"
    )
    for row in failed:
        click.echo(
            f"  {row['id']:>6} {row['to']} {row['template']} ({row['attempts']} försök): {row['reply']}"
        )


@mail.command()
@click.argument("message_id", type=int, required=False)
@json_option
@click.pass_context
def retry(ctx: click.Context, message_id: int | None, as_json: bool) -> None:
    """Requeue failed mail: one message by its number, or all."""
    from tsk_workflow.mail.outbox import retry as requeue

    store = runtime.open_store(ctx)
    with store.transaction() as session:
        count = requeue(session, dt.datetime.now(dt.UTC), message_id, _municipality(ctx))
    if as_json:
        emit_json({"requeued": count})
    else:
        click.echo(f"{count} meddelanden köade igen")
    if message_id is not None and count == 0:
        raise click.exceptions.Exit(1)


def _municipality(ctx: click.Context) -> str | None:
    if not settings(ctx).org:
        return None
    from tsk_workflow.catalog import load_organisation

    return load_organisation(settings(ctx).require_org()).municipality
