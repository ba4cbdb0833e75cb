"""``/admin``: what the organisation's admins look after.

The versions of the organisation loaded and who loaded them (``tsk org history``); the mail's
state, failed and held mail with the server's reply, and retrying it (an act of the admin, in
the trail: ``engine.mailing.retry_mail``); the signed checkpoints of the audit trail the service
keeps, and one made now (``tsk audit checkpoint``). Anyone else is refused, and the refusal is
recorded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tsk_workflow import checkpoints, i18n
from tsk_workflow.engine import setup
from tsk_workflow.engine.mailing import retry_mail
from tsk_workflow.errors import NotFound, TskError
from tsk_workflow.i18n import N_, _, ngettext
from tsk_workflow.mail.outbox import failures, status_counts
from tsk_workflow.web.deps import Acting
from tsk_workflow.web.pages import PageActor, PageReader, render
from tsk_workflow.web.sessions import state_of

router = APIRouter(include_in_schema=False)

CHECKPOINTS_SHOWN = 30
STATUSES = {
    "pending": N_("waiting to be sent"),
    "sent": N_("sent"),
    "failed": N_("failed"),
    "held": N_("held"),
    "digest": N_("waiting for the daily digest"),
    "digested": N_("sent in a daily digest"),
}
"""The outbox's statuses as people read them, in the order shown."""


@router.get("/admin")
def admin_page(request: Request, reader: PageReader) -> Response:
    engine = reader.engine
    engine.require_admin(reader.person, "admin", "admin")
    zone = engine.cal.zone
    org = engine.org
    lang = i18n.language()
    versions = []
    for version, payload in reversed(setup.history(engine.store, org.municipality)):
        person = org.person(version.loaded_by)
        versions.append(
            {
                "version": version.version,
                "at": _local(version.loaded_at, zone),
                "by": version.loaded_by,
                "name": person.name if person is not None else None,
                "os_user": version.os_user,
                "source": version.source,
                "digest": version.digest[:16],
                "changes": [c.get(lang, c.get("sv", "")) for c in _changes(payload)],
            }
        )
    counts = status_counts(reader.session, org.municipality)
    failed, held = (
        [
            {
                "id": m.id,
                "to": m.email,
                "recipient": m.recipient,
                "template": m.template,
                "attempts": m.attempts,
                "reply": m.last_reply or "",
                "created": _local(m.created_at, zone),
            }
            for m in failures(reader.session, org.municipality, status)
        ]
        for status in ("failed", "held")
    )
    kept = checkpoints.kept(state_of(request).config.environ)
    context = {
        "versions": versions,
        "counts": [(_(label), counts.get(status, 0)) for status, label in STATUSES.items()]
        + [(s, n) for s, n in sorted(counts.items()) if s not in STATUSES],
        "failed": failed,
        "held": held,
        "kept": kept,
        "checkpoints": [
            {"seq": c.seq, "count": c.count, "at": _local(c.at, zone), "key_id": c.key_id}
            for c in reversed(kept.checkpoints[-CHECKPOINTS_SHOWN:])
        ],
        "can_sign": checkpoints.skip_reason(state_of(request).config.environ) is None,
        "flash": request.session.pop("admin_flash", None),
    }
    return render(request, "admin_overview.html", context)


@router.post("/admin/mail/retry")
async def retry(request: Request, actor: PageActor) -> Response:
    """Queue failed or held mail again: one message (``message``), or all."""
    from starlette.concurrency import run_in_threadpool

    form = await request.form()
    given = form.get("message")
    text = given.strip() if isinstance(given, str) else ""
    if text and not text.isdigit():
        return _back(request, _("'{value}' is not a mail's number.").format(value=text[:20]), True)
    message = int(text) if text else None
    try:
        done = await run_in_threadpool(retry_mail, actor.engine, actor.person, message)
    except NotFound as exc:
        return _back(request, str(exc), True)
    count = len(done.messages)
    said = (
        ngettext("{n} message queued again.", "{n} messages queued again.", count).format(n=count)
        if count
        else _("There was no failed or held mail to queue again.")
    )
    return _back(request, said)


@router.post("/admin/checkpoint")
async def checkpoint(request: Request, actor: PageActor) -> Response:
    """Sign the audit chain's head now, kept where the daily checkpoints are."""
    from starlette.concurrency import run_in_threadpool

    engine = actor.engine
    engine.require_admin(actor.person, "audit.checkpoint", "checkpoint")
    environ = state_of(request).config.environ
    try:
        published = await run_in_threadpool(_publish, actor, environ)
    except TskError as exc:
        return _back(request, str(exc), True)
    if published is None:
        return _back(
            request,
            _(
                "The last checkpoint covers the chain up to its newest event already: none was made."
            ),
        )
    made = published.checkpoint
    return _back(
        request,
        _("Checkpoint of event {seq} signed and kept in {file}.").format(
            seq=made.seq, file=published.file
        ),
    )


def _publish(actor: Acting, environ: Any) -> checkpoints.Published | None:
    engine = actor.engine
    return checkpoints.publish_now(
        engine.store, environ, engine.clock(), engine.org, unless_covered=True
    )


def _back(request: Request, message: str, error: bool = False) -> Response:
    """Back to the page (POST-redirect-GET), saying what happened."""
    request.session["admin_flash"] = {"message": message, "error": error}
    return RedirectResponse("/admin", status_code=303)


def _changes(payload: object) -> list[dict[str, str]]:
    if not isinstance(payload, dict):
        return []
    found = payload.get("changes")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def _local(at: dt.datetime, zone: dt.tzinfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
