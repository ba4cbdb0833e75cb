"""``tsk mail``: send a test mail, send what is queued, make the digests, see and requeue failed
and held mail."""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING, Any

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import TskGroup, emit_json, json_option, settings
from tsk_workflow.errors import NotFound, TskError
from tsk_workflow.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.organisation.model import Organisation
    from tsk_workflow.store.database import Store


SENDING = {
    "sent": N_("sent"),
    "temporary": N_("temporary failure"),
    "permanent": N_("permanent failure"),
    "held": N_("held"),
}
"""How a sending went, as people read it (``--json`` keeps the keys)."""


@click.group(
    cls=TskGroup,
    help=N_(
        "Mail: send a test, send what is queued, make the digests, see what was sent and what"
        " failed or is held, and requeue it."
    ),
)
def mail() -> None:
    pass


@mail.command(
    help=N_(
        "Send a test mail now and print the server's reply.\n\n"
        "With --org the organisation file's mail settings apply (the environment winning), and"
        " its own templates (mail.templates under TSK_TEMPLATE_ROOT): a folder that cannot be"
        " used, or a template the sandbox refuses, is reported and nothing is sent. Without"
        " --org, the environment's settings and the shipped templates."
    )
)
@click.option("--to", "address", required=True, help=N_("Where to send the test mail"))
@json_option
@click.pass_context
def test(ctx: click.Context, address: str, as_json: bool) -> None:
    from tsk_workflow.mail.message import OutgoingMail, make_message_id, sender_address
    from tsk_workflow.mail.outbox import override_dir, smtp_settings
    from tsk_workflow.mail.render import Held, RenderError, render
    from tsk_workflow.mail.smtp import SmtpSettings, no_connection, send_batch_sync

    now = dt.datetime.now(dt.UTC)
    templates = None
    try:
        if settings(ctx).org:
            # The file --org names, as 'org show' and 'plan' read it: a test mail acts on
            # nothing in the database, and is how mail is tried before 'tsk init'.
            from zoneinfo import ZoneInfo

            from tsk_workflow.catalog import load_organisation

            org = load_organisation(settings(ctx).require_org())
            config = smtp_settings(org, os.environ)
            name, local = org.name, now.astimezone(ZoneInfo(org.calendar.timezone))
            templates = override_dir(org, os.environ)
        else:
            config = SmtpSettings.from_env(os.environ)
            name, local = "tsk-workflow", now.astimezone()
        context = {
            "person": {"name": address},
            "municipality": {"name": name},
            "sent_at": local.isoformat(),
        }
        rendered = render("test_mail", settings(ctx).lang, context, templates)
    except Held as exc:
        raise TskError(_("no test mail sent, held: {reason}").format(reason=exc)) from None
    except RenderError as exc:
        raise TskError(_("no test mail sent: {reason}").format(reason=exc)) from None
    message = OutgoingMail(
        make_message_id(f"test/{address}/{now.isoformat()}", sender_address(config.sender).domain),
        config.sender,
        address,
        "",
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
        "message_id": message.message_id,
    }
    if result.unreachable is not None:  # no server said anything: say so, and why
        data["unreachable"] = result.unreachable
    if as_json:
        emit_json(data)
    elif result.unreachable is not None:
        click.echo(no_connection(config, result, settings(ctx).lang))
    else:
        click.echo(
            _("{where} replied: {reply} ({status})").format(
                where=f"{config.host}:{config.port}",
                reply=result.reply,
                status=_(SENDING[result.status]) if result.status in SENDING else result.status,
            )
        )
    if result.status != "sent":
        raise click.exceptions.Exit(1)


@mail.command(help=N_("Send every queued mail that is due now."))
@runtime.now_option
@json_option
@click.pass_context
def send(ctx: click.Context, now: dt.datetime | None, as_json: bool) -> None:
    from tsk_workflow.mail.outbox import deliver
    from tsk_workflow.schedpass import mail_counts

    now, engines = runtime.engines_at(ctx, now)
    runtime.require_service_act(ctx, _store(engines), "mail.send")
    result = deliver(
        _store(engines), _orgs(engines), runtime.mail_environment(_store(engines)), now
    )
    if as_json:
        emit_json({**result.as_dict(), "failures": result.replies})
        return
    click.echo(mail_counts(result.as_dict()))
    for reply in result.replies:
        click.echo(f"  {reply}")


@mail.command(
    help=N_(
        "Make today's digest mails now (tsk tick makes them after mail.digest_time, 07:00).\n\n"
        "One mail a day per person who chose the digest, with everything gathered for them; a"
        " person whose digest for the day is made already gets none until the next day."
    )
)
@runtime.now_option
@json_option
@click.pass_context
def digest(ctx: click.Context, now: dt.datetime | None, as_json: bool) -> None:
    from tsk_workflow.mail.digest import compose_digests

    now, engines = runtime.engines_at(ctx, now)
    runtime.require_service_act(ctx, _store(engines), "mail.digest")
    made = compose_digests(_store(engines), _orgs(engines), now)
    if as_json:
        emit_json({"now": now.isoformat(), "digests": made})
    else:
        click.echo(
            ngettext("{n} daily digest queued", "{n} daily digests queued", made).format(n=made)
        )


@mail.command(
    help=N_(
        "Pending, sent, failed and held counts, the failures with the server's reply, and the"
        " held mail with why it is held (fix that, then tsk mail retry)."
    )
)
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    from tsk_workflow.mail.outbox import BREAKER_AFTER, failures, paused_servers, status_counts

    store = runtime.open_store(ctx)
    municipality = _municipality(ctx)
    with store.reading() as session:
        counts = status_counts(session, municipality)
        paused: list[dict[str, Any]] = [
            {
                "server": server.server,
                "since": server.paused_at.isoformat() if server.paused_at else None,
                "failures": server.failures,
                "reply": server.last_error,
            }
            for server in paused_servers(session)
        ]
        failed, held = (
            [
                {
                    "id": m.id,
                    "to": m.email,
                    "template": m.template,
                    "attempts": m.attempts,
                    "reply": m.last_reply,
                }
                for m in failures(session, municipality, status)
            ]
            for status in ("failed", "held")
        )
    if as_json:
        emit_json({**counts, "failures": failed, "held_mail": held, "paused_servers": paused})
        return
    click.echo(
        _(
            "pending {pending}, sent {sent}, failed {failed}, held {held},"
            " waiting for the daily digest {digest}"
        ).format(**counts)
    )
    for server in paused:
        click.echo(
            _(
                "SMTP server {server} not tried since {since}: {n} messages in a row got no"
                " answer ({reply}). Each delivery tries one message first, and the rest once it"
                " is answered."
            ).format(
                server=server["server"],
                since=_local_time(server["since"]),
                n=max(server["failures"], BREAKER_AFTER),
                reply=server["reply"],
            )
        )
    for row in failed:
        tried = int(row["attempts"] or 0)
        attempts = ngettext("{n} attempt", "{n} attempts", tried).format(n=tried)
        click.echo(f"  {row['id']:>6} {row['to']} {row['template']} ({attempts}): {row['reply']}")
    for row in held:
        click.echo(f"  {row['id']:>6} {row['to']} {row['template']}: {row['reply']}")


@mail.command(
    help=N_(
        "The newest mail to a person (about a task, of a kind) as it is sent: the subject and the"
        " plain text (or the HTML), in the person's language, with the templates in use now."
    )
)
@click.option("--to", "person", required=True, metavar="PERSON", help=N_("The recipient's id"))
@click.option("--task", "task_id", type=int, help=N_("Only mail about this task"))
@click.option("--template", help=N_("Only mail of this kind (task_assigned, task_reminder, ...)"))
@click.option("--html", is_flag=True, help=N_("The HTML part instead of the plain text"))
@json_option
@click.pass_context
def show(
    ctx: click.Context,
    person: str,
    task_id: int | None,
    template: str | None,
    html: bool,
    as_json: bool,
) -> None:
    from tsk_workflow.mail.outbox import latest, rendered

    engine = runtime.engine(ctx)
    with engine.store.reading() as session:
        row = latest(session, engine.org.municipality, person, task_id, template)
        if row is None:
            about = _(" about task {id}").format(id=task_id) if task_id is not None else ""
            kind = _(" of {template}").format(template=template) if template else ""
            raise NotFound(_("no mail to '{person}'").format(person=person) + about + kind)
        shown = rendered(row, engine.org)
        data = {
            "id": row.id,
            "to": row.email,
            "template": row.template,
            "status": row.status,
            "subject": shown.subject,
            "text": shown.text,
            "html": shown.html,
        }
    if as_json:
        emit_json(data)
        return
    click.echo(_("To: {address}").format(address=row.email))
    click.echo(_("Subject: {subject}").format(subject=shown.subject))
    click.echo("")
    click.echo((shown.html if html else shown.text).rstrip("\n"))


@mail.command(
    help=N_(
        "Requeue failed and held mail: one message by its number (from status), or all.\n\n"
        "Held mail is held again when it is next sent unless its cause has been fixed. It is due"
        " again at once: at TSK_NOW on a database made for virtual time."
    )
)
@click.argument("message_id", type=int, required=False)
@json_option
@click.pass_context
def retry(ctx: click.Context, message_id: int | None, as_json: bool) -> None:
    from tsk_workflow.mail.outbox import retry as requeue

    store = runtime.open_store(ctx)
    runtime.require_service_act(ctx, store, "mail.retry")
    now = runtime.clock(store)()
    with store.transaction() as session:
        count = requeue(session, now, message_id, _municipality(ctx))
    if message_id is not None and count == 0:
        raise NotFound(
            _("no failed or held mail number {id} (see tsk mail status)").format(id=message_id)
        )
    if as_json:
        emit_json({"requeued": count})
    else:
        click.echo(
            ngettext("{n} message queued again", "{n} messages queued again", count).format(n=count)
        )


def _store(engines: dict[str, Engine]) -> Store:
    return next(iter(engines.values())).store


def _orgs(engines: dict[str, Engine]) -> dict[str, Organisation]:
    return {key: engine.org for key, engine in engines.items()}


def _municipality(ctx: click.Context) -> str | None:
    if not settings(ctx).org:
        return None
    found = runtime.loaded_municipality(ctx)
    if found is not None:
        found[0].dispose()
        return found[1]
    return runtime.engine(ctx).org.municipality


def _local_time(iso: str | None) -> str:
    """A stored instant as people read it in Sweden: ``2027-03-01 07:00``."""
    from tsk_workflow.calendar import STOCKHOLM

    if iso is None:
        return "-"
    return f"{dt.datetime.fromisoformat(iso).astimezone(STOCKHOLM):%Y-%m-%d %H:%M}"
