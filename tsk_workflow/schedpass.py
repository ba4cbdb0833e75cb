"""The scheduler pass, defined once: what ``tsk tick`` runs once, ``tsk run`` on its interval
(``tsk_workflow.scheduler``) and the demo at each of its moments of the day.

A pass at ``now``, in this order:

1. **timers**: the due timers fire (:meth:`tsk_workflow.engine.ticker.Ticker.tick`): cycles
   open, tasks get their reminders, overdue notices and escalations, timed transitions run;
   then the action register's reminders and overdue notices are queued
   (:meth:`tsk_workflow.engine.actions.Actions.send_notices`; once per due date);
2. **digests**: the day's digest mails are queued for each organisation whose
   ``mail.digest_time`` has passed in its time zone
   (:func:`tsk_workflow.mail.digest.compose_due_digests`; once a day per person);
3. **checkpoint**: the day's signed checkpoint of the audit trail once an organisation's
   ``audit.checkpoint_time`` has passed (:func:`tsk_workflow.checkpoints.daily_from_env`, with
   the key and folder of ``TSK_AUDIT_KEY`` and ``TSK_CHECKPOINT_DIR``; once a day);
4. **mail**: the outbox is sent over SMTP when sending is on
   (:func:`tsk_workflow.mail.outbox.deliver`), for at most ``PassOptions.mail_seconds``: the
   messages in flight then finish and the rest waits for the next pass. ``tsk run`` sends from
   a thread of its own instead (:meth:`SchedulerPass.deliver`), so that no timer waits for a
   slow mail server.

Every time of day comes from the organisations; the caller only says when ``now`` is. Each
step is idempotent, so a pass may run late, twice, or in several processes at once: a timer
fires once, a person gets one digest a day, the day is signed once, a mail is sent once.

A checkpoint that cannot be signed (a key or folder that cannot be used) does not stop the
pass: the result says why (``checkpoint == {"failed": why}``, :attr:`PassResult.failure`) and
the caller decides (``tsk tick`` exits 1 after its output, ``tsk run`` logs an error); so do
timers that failed. Any other error propagates: the next pass tries again (a pass far beyond
where the database stands is refused so, unless ``PassOptions.catch_up``: ``Ticker.tick``).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tsk_workflow import checkpoints
from tsk_workflow.engine.actions import Actions
from tsk_workflow.engine.service import Engine
from tsk_workflow.engine.ticker import BATCH, Ticker, TickResult
from tsk_workflow.errors import TskError
from tsk_workflow.i18n import _
from tsk_workflow.mail.digest import compose_due_digests
from tsk_workflow.mail.outbox import Delivery, deliver
from tsk_workflow.organisation.model import Organisation

SMTP_HOST = "TSK_SMTP_HOST"


def sends(flag: bool | None, environ: Mapping[str, str]) -> bool:
    """``--send``/``--no-send``, or else whether ``TSK_SMTP_HOST`` is set."""
    return flag if flag is not None else bool(environ.get(SMTP_HOST))


def mail_counts(mail: Mapping[str, Any]) -> str:
    """A delivery's counts for people, as ``tsk mail send`` says them: ``sent 5, retrying 0,
    failed 0``, with ``, held N``, ``, not tried N`` (left for the next delivery) and ``, taken
    over N`` (by another delivery) when there are any, and each server no longer tried."""
    text = _("sent {sent}, retrying {retried}, failed {failed}").format(
        sent=mail.get("sent", 0), retried=mail.get("retried", 0), failed=mail.get("failed", 0)
    )
    if mail.get("held"):
        text += _(", held {n}").format(n=mail["held"])
    if mail.get("deferred"):
        text += _(", not tried {n}").format(n=mail["deferred"])
    if mail.get("lost"):
        text += _(", taken over by another delivery {n}").format(n=mail["lost"])
    for paused in mail.get("paused", []):
        text += "; " + _("stopped trying {server} (no answer)").format(server=paused)
    return text


MAIL_SECONDS = 240.0
"""How long a pass sends mail at most: less than the five minutes between cron runs."""


@dataclass(frozen=True)
class PassOptions:
    """Whether a pass sends the outbox, and for how long at most; how many timers it claims per
    transaction."""

    send: bool = False
    batch: int = BATCH
    mail_seconds: float = MAIL_SECONDS
    catch_up: bool = False
    """Fire what became due since long ago (``Ticker.tick``'s ``catch_up``)."""


@dataclass(frozen=True)
class PassResult:
    """What a pass did: ``tsk tick --json`` prints :meth:`as_dict`."""

    now: dt.datetime
    timers: TickResult
    actions: int
    """The actions' reminders and overdue notices queued."""
    digests: int
    checkpoint: dict[str, Any] | None
    """The checkpoint signed (with ``file``), None (not yet time, or made already),
    ``{"skipped": why}`` (the environment does not say where the key or folder is) or
    ``{"failed": why}`` (they cannot be used)."""
    mail: dict[str, Any] | None
    """``Delivery.as_dict``; None when the pass does not send."""

    @property
    def failure(self) -> str | None:
        """Why the pass, its work done, did not do all it should: timers failed, or the
        checkpoint did."""
        found = [self.timers.failure] if self.timers.failure else []
        if self.checkpoint is not None and "failed" in self.checkpoint:
            found.append(
                _("no checkpoint signed: {reason}").format(reason=self.checkpoint["failed"])
            )
        return "; ".join(found) or None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"now": self.now.isoformat(), **self.timers.as_dict()}
        data["action_notices"] = self.actions
        data["digests"] = self.digests
        data["checkpoint"] = self.checkpoint
        if self.mail is not None:
            data["mail"] = self.mail
        return data


class SchedulerPass:
    """The pass over ``engines`` (every municipality of one database): call it with ``now``.

    ``environ`` holds the SMTP settings (``TSK_SMTP_*``) and the checkpoint's
    (``TSK_AUDIT_KEY``, ``TSK_CHECKPOINT_DIR``, ``TSK_CHECKPOINT_MAILTO``); ``worker`` names
    this process in the timers it fires (default: host and process id)."""

    def __init__(
        self,
        engines: Mapping[str, Engine],
        environ: Mapping[str, str],
        options: PassOptions | None = None,
        worker: str | None = None,
    ) -> None:
        self.ticker = Ticker(engines, worker)
        self.store = self.ticker.store
        self.engines = dict(engines)
        self.orgs: dict[str, Organisation] = {key: e.org for key, e in engines.items()}
        self.environ = environ
        self.options = options or PassOptions()

    @property
    def worker(self) -> str:
        return self.ticker.worker

    def __call__(self, now: dt.datetime) -> PassResult:
        timers = self.ticker.tick(now, batch=self.options.batch, catch_up=self.options.catch_up)
        notices = sum(Actions(engine).send_notices(now) for engine in self.engines.values())
        digests = compose_due_digests(self.store, self.orgs, now)
        checkpoint = self._checkpoint(now)
        mail = self._deliver(now) if self.options.send else None
        return PassResult(now, timers, notices, digests, checkpoint, mail)

    def _checkpoint(self, now: dt.datetime) -> dict[str, Any] | None:
        try:
            return checkpoints.daily_from_env(self.store, self.orgs, self.environ, now, self.worker)
        except TskError as exc:
            return {"failed": str(exc)}

    def deliver(
        self, now: dt.datetime, stop: threading.Event | None = None, seconds: float | None = None
    ) -> Delivery:
        """Send the outbox of every organisation of the pass (see
        :func:`tsk_workflow.mail.outbox.deliver`)."""
        return deliver(self.store, self.orgs, self.environ, now, stop=stop, seconds=seconds)

    def _deliver(self, now: dt.datetime) -> dict[str, Any]:
        return self.deliver(now, seconds=self.options.mail_seconds).as_dict()
