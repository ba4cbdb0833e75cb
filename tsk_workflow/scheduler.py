"""The scheduler as a long-running service (``tsk run``): APScheduler calls the pass, and a
thread of its own sends the mail.

APScheduler is only the clock here (design principle 4): it has one job, which calls the
scheduler pass (:class:`tsk_workflow.schedpass.SchedulerPass`, the same as ``tsk tick``'s) every
``interval`` seconds, and once at start to catch up. The pass fires the due timers, makes the
day's digests and the day's signed checkpoint once the organisation's ``mail.digest_time`` and
``audit.checkpoint_time`` have passed. Timers, digests and checkpoints are rows in the database,
so a pass may run late, twice, or in several processes at once and each still happens once;
nothing is kept in APScheduler's own job store, and after a restart the first pass catches up
from the database.

Mail, when sending is on, goes from the *courier*: a thread that delivers the outbox
(:meth:`SchedulerPass.deliver`), then waits ``interval`` seconds, and again, so that no timer
ever waits for a slow or silent mail server; a delivery cut short by its time limit goes on at
once. The outbox is safe to send from several processes at once (leases with a fencing token:
``tsk_workflow.mail.outbox``), so the courier runs in every replica of ``tsk serve``.

Each pass logs one line with what it did, and each delivery that did anything one line, in the
language spoken when the service was made (``--lang``: the passes run in APScheduler's thread,
which has a context of its own). A pass that is still running when its next time comes is not
started twice (``max_instances=1``, ``coalesce``). :meth:`Service.stop` (SIGTERM or Ctrl-C in
:func:`serve`) starts no new pass and no new message: the timer pass in progress finishes, the
messages in flight get ``outbox.STOP_GRACE`` seconds, and the mail not sent is released for the
next start; then it logs ``stopped`` and :func:`serve` returns 0.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from tsk_workflow import i18n
from tsk_workflow.engine.service import Engine, system_clock
from tsk_workflow.engine.ticker import BATCH
from tsk_workflow.errors import TskError
from tsk_workflow.i18n import _, ngettext
from tsk_workflow.mail.outbox import STOP_GRACE, Delivery
from tsk_workflow.schedpass import (
    MAIL_SECONDS,
    PassOptions,
    PassResult,
    SchedulerPass,
    mail_counts,
)

log = logging.getLogger("tsk_workflow.scheduler")

Clock = Callable[[], dt.datetime]
JOB = "pass"
"""The id of APScheduler's one job."""


@dataclass(frozen=True)
class Options:
    """How ``tsk run`` runs: seconds between passes, whether to send, timers per transaction."""

    interval: float = 60.0
    send: bool = False
    batch: int = BATCH


Exclusive = Callable[[], AbstractContextManager[bool]]
"""Whether this process may run the pass now (held for the pass): ``tsk serve``'s replicas on
one PostgreSQL take turns (``store.locks.one_at_a_time``)."""


class Service:
    """The scheduler pass on an APScheduler ``BackgroundScheduler``, every ``interval``.

    ``engines_now``, when given, is asked for the engines before each pass (``tsk serve``
    follows the organisations an admin loads while it runs); ``exclusive`` says whether this
    process runs the pass at all (a pass skipped for another replica logs nothing)."""

    def __init__(
        self,
        engines: Mapping[str, Engine],
        options: Options,
        clock: Clock = system_clock,
        environ: Mapping[str, str] | None = None,
        *,
        engines_now: Callable[[], Mapping[str, Engine]] | None = None,
        exclusive: Exclusive | None = None,
    ) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.engines = engines
        self.options = options
        self.clock = clock
        self.environ = environ if environ is not None else os.environ
        self.engines_now = engines_now
        self.exclusive = exclusive or _always
        self.scheduler_pass = self._pass_over(engines)
        self.zone = next(iter(engines.values())).cal.zone
        self.passes = 0
        self.deliveries = 0
        self.lang = i18n.language()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._courier_thread: threading.Thread | None = None
        self.scheduler = BackgroundScheduler(
            timezone=self.zone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def _pass_over(self, engines: Mapping[str, Engine]) -> SchedulerPass:
        # The pass sends no mail: the courier does (see the module docstring).
        return SchedulerPass(engines, self.environ, PassOptions(batch=self.options.batch))

    def run_pass(self) -> PassResult | None:
        """One pass at the clock's time; logs one line. None if it failed (the error is logged;
        the next pass tries again), another process runs it, or the service is stopping."""
        if self._stopping.is_set():
            return None
        with i18n.speaking(self.lang), self._lock, self.exclusive() as mine:
            if not mine:
                return None
            started = time.monotonic()
            now = self.clock()
            try:
                if self.engines_now is not None:
                    engines = self.engines_now()
                    if engines is not self.engines:
                        self.engines, self.scheduler_pass = engines, self._pass_over(engines)
                result = self.scheduler_pass(now)
            except TskError as exc:
                log.error(_("pass at {time} failed: {error}").format(time=_iso(now), error=exc))
                return None
            except Exception:
                log.exception(_("pass at {time} failed").format(time=_iso(now)))
                return None
            self.passes += 1
            log.log(
                logging.INFO if result.failure is None else logging.ERROR,
                _("pass {n} at {time}: {what} ({seconds} s)").format(
                    n=self.passes,
                    time=_iso(now),
                    what=describe(result),
                    seconds=f"{time.monotonic() - started:.2f}",
                ),
                extra={"event": "pass", "pass": self.passes, **_fields(result)},
            )
            return result

    def deliver(self) -> Delivery | None:
        """One delivery of the outbox at the clock's time (the courier's); logs one line when it
        did anything. None if it failed (the error is logged; the next one tries again)."""
        with i18n.speaking(self.lang):
            started = time.monotonic()
            now = self.clock()
            try:
                sent = self.scheduler_pass.deliver(now, self._stopping, MAIL_SECONDS)
            except TskError as exc:
                log.error(_("mail at {time} failed: {error}").format(time=_iso(now), error=exc))
                return None
            except Exception:
                log.exception(_("mail at {time} failed").format(time=_iso(now)))
                return None
            self.deliveries += 1
            counts = sent.as_dict()
            if sent.did_anything:
                log.log(
                    logging.WARNING if sent.paused else logging.INFO,
                    _("mail at {time}: {counts} ({seconds} s)").format(
                        time=_iso(now),
                        counts=mail_counts(counts),
                        seconds=f"{time.monotonic() - started:.2f}",
                    ),
                    extra={"event": "mail", "mail": counts},
                )
            return sent

    def _courier(self) -> None:
        """Deliver, wait ``interval``, deliver again, until the service stops; a delivery that
        left mail untried for want of time goes on at once."""
        while not self._stopping.is_set():
            sent = self.deliver()
            more = sent is not None and sent.deferred > 0 and not sent.paused
            if not more:
                self._stopping.wait(self.options.interval)

    # ------------------------------------------------------------ starting and stopping

    def start(self) -> None:
        from apscheduler.triggers.interval import IntervalTrigger

        from tsk_workflow.checkpoints import skip_reason

        self.scheduler.add_job(
            self.run_pass,
            IntervalTrigger(seconds=self.options.interval, timezone=self.zone),
            id=JOB,
            name=JOB,
            next_run_time=dt.datetime.now(self.zone),  # at once: catch up
        )
        self.scheduler.start()
        if self.options.send:
            self._courier_thread = threading.Thread(
                target=self._courier, name="tsk-mail", daemon=True
            )
            self._courier_thread.start()
        with i18n.speaking(self.lang):
            log.info(
                _(
                    "started for {organisations}: a pass every {seconds} s ({times}), mail {mail}"
                ).format(
                    organisations=", ".join(sorted(self.engines)),
                    seconds=_seconds(self.options.interval),
                    times=_times(self.engines),
                    mail=_("sent") if self.options.send else _("queued only"),
                ),
                extra={"event": "started"},
            )
            reason = skip_reason(self.environ)
            if reason is not None:
                log.warning(
                    _("daily checkpoint of the audit trail disabled: {reason}").format(
                        reason=reason
                    )
                )

    def stop(self) -> None:
        """Take no new pass and send no new message; let the pass in progress finish, give the
        messages in flight ``STOP_GRACE`` seconds and release the mail not sent; then return."""
        self._stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        with self._lock:  # a pass that was already past its check finishes first
            pass
        if self._courier_thread is not None:
            # Bounded: the grace, then writing back what was not sent (a busy database waits).
            self._courier_thread.join(STOP_GRACE + 60)
        with i18n.speaking(self.lang):
            stopped = ngettext("stopped after {n} pass", "stopped after {n} passes", self.passes)
            log.info(stopped.format(n=self.passes), extra={"event": "stopped"})


@contextmanager
def _always() -> Iterator[bool]:
    yield True


def describe(result: PassResult) -> str:
    """A pass in words, for the log, in the language spoken: ``fired 3 (cycle_open 1, reminder
    2), 0 without effect, 0 failed; opened est-2027-03; 2 digests queued; checkpoint 556 signed
    (key cab9f4f6) into DIR/checkpoints.jsonl; mail sent 5, retried 0, failed 0, held 0``. A
    checkpoint skipped for want of a key is left out (the service warns at start)."""
    parts = [result.timers.summary()]
    if result.timers.opened:
        parts.append(_("opened {cycles}").format(cycles=", ".join(result.timers.opened)))
    if result.actions:
        parts.append(
            ngettext(
                "{n} action's reminder or notice queued",
                "{n} actions' reminders or notices queued",
                result.actions,
            ).format(n=result.actions)
        )
    if result.digests:
        parts.append(
            ngettext("{n} digest queued", "{n} digests queued", result.digests).format(
                n=result.digests
            )
        )
    checkpoint = result.checkpoint or {}
    if "seq" in checkpoint:
        parts.append(
            _("checkpoint {seq} signed (key {key}) into {file}").format(
                seq=checkpoint["seq"], key=str(checkpoint["key_id"])[:8], file=checkpoint["file"]
            )
        )
    elif "failed" in checkpoint:
        parts.append(_("no checkpoint signed: {reason}").format(reason=checkpoint["failed"]))
    if result.mail is not None:
        parts.append(_("mail {counts}").format(counts=_counts(result.mail)))
    return "; ".join(parts)


def _fields(result: PassResult) -> dict[str, Any]:
    data = result.as_dict()
    del data["now"]
    data.setdefault("mail", None)
    return data


def _times(engines: Mapping[str, Engine]) -> str:
    """Each organisation's digest and checkpoint time: ``herrljunga: digest 07:00, checkpoint
    23:45 Europe/Stockholm``."""
    from tsk_workflow.checkpoints import checkpoint_time
    from tsk_workflow.mail.digest import digest_time

    return "; ".join(
        _("{organisation}: digest {digest}, checkpoint {checkpoint} {zone}").format(
            organisation=key,
            digest=f"{digest_time(e.org):%H:%M}",
            checkpoint=f"{checkpoint_time(e.org):%H:%M}",
            zone=e.org.calendar.timezone,
        )
        for key, e in sorted(engines.items())
    )


SIGNALS = (signal.SIGTERM, signal.SIGINT)


def serve(service: Service, stop: threading.Event | None = None) -> int:
    """Run ``service`` until SIGTERM or SIGINT (Ctrl-C), or until ``stop`` is set; 0 when it
    stopped cleanly. Signal handlers are installed only when called from the main thread."""
    stop = stop or threading.Event()
    received: list[int] = []

    def _on_signal(number: int, _frame: FrameType | None) -> None:
        received.append(number)
        stop.set()

    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for number in SIGNALS:
            previous[number] = signal.signal(number, _on_signal)
    try:
        service.start()
        while not stop.wait(0.2):
            pass
        if received:
            name = signal.Signals(received[0]).name
            log.info(
                _(
                    "{signal} received: stopping after the pass in progress; mail in flight gets"
                    " {seconds} s"
                ).format(signal=name, seconds=_seconds(STOP_GRACE))
            )
        service.stop()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


class JsonFormatter(logging.Formatter):
    """One JSON object per log line: time, level, message, and the record's ``event`` fields."""

    FIELDS = (
        "event",
        "pass",
        "fired",
        "total",
        "opened",
        "skipped",
        "failed",
        "digests",
        "checkpoint",
        "mail",
    )

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        for name in self.FIELDS:
            if hasattr(record, name):
                data[name] = getattr(record, name)
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def _counts(mail: Mapping[str, Any] | None) -> str:
    return mail_counts(mail) if mail else "-"


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
