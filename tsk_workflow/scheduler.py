"""The scheduler as a long-running service (``tsk run``): APScheduler calls the tick.

APScheduler is only the clock here (design principle 4): the timers are rows in the database and
a pass (:class:`tsk_workflow.engine.ticker.Ticker`) claims the due ones, so a pass may run late,
twice, or in several processes at once and every timer still fires once. Nothing is kept in
APScheduler's own job store: after a restart the next pass catches up from the database.

Two jobs run in a ``BackgroundScheduler``:

* **the pass**, every ``interval`` seconds (and once at start): fire the due timers, then send
  the queued mail when sending is on; one log line per pass with its counts;
* **the daily digest**, at ``digest_time`` local time: ``tsk_workflow.mail.digest.
  compose_digests(store, orgs, now)`` gathers the day's mail of the people who chose a digest;
* **the daily checkpoint**, at the organisation's ``audit.checkpoint_time`` (and once at start,
  to catch up a day whose time passed while the service was down):
  ``tsk_workflow.checkpoints.daily_from_env`` signs the audit chain's head once a day with the
  key of ``TSK_AUDIT_KEY`` into ``TSK_CHECKPOINT_DIR``. Without those it is not scheduled (a
  warning at start).

They hold one lock, so they never run at the same time, and a job that is still running when its
next time comes is not started twice (``max_instances=1``, ``coalesce``). :meth:`Service.stop`
waits for the job in progress to finish: on SIGTERM or Ctrl-C :func:`serve` stops taking new
passes, lets the running one complete, logs ``stopped`` and returns 0.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from tsk_workflow.engine.service import Engine, system_clock
from tsk_workflow.engine.ticker import BATCH, Ticker, TickResult
from tsk_workflow.errors import TskError

log = logging.getLogger("tsk_workflow.scheduler")

DIGEST_MODULE = "tsk_workflow.mail.digest"
Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class Options:
    """How ``tsk run`` runs: seconds between passes, the digest's local time, whether to send."""

    interval: float = 60.0
    digest_time: dt.time = dt.time(7, 0)
    send: bool = False
    batch: int = BATCH


def parse_clock(text: str) -> dt.time:
    """``HH:MM`` (24-hour) as a time; ``ValueError`` otherwise."""
    hour, _, minute = text.partition(":")
    if not (hour.isdigit() and minute.isdigit() and len(minute) == 2 and len(hour) <= 2):
        raise ValueError(f"{text!r} is not a time of day like 07:00")
    return dt.time(int(hour), int(minute))


def digest_function() -> Callable[..., Any] | None:
    """``compose_digests`` of the digest module, or None when that is not installed."""
    try:
        module = importlib.import_module(DIGEST_MODULE)
    except ModuleNotFoundError:
        return None
    function = getattr(module, "compose_digests", None)
    return function if callable(function) else None


class Service:
    """The tick and the daily digest on an APScheduler ``BackgroundScheduler``."""

    def __init__(
        self,
        engines: Mapping[str, Engine],
        options: Options,
        clock: Clock = system_clock,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.engines = engines
        self.options = options
        self.clock = clock
        self.environ = environ if environ is not None else os.environ
        self.ticker = Ticker(engines)
        self.store = self.ticker.store
        self.zone = next(iter(engines.values())).cal.zone
        self.passes = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.scheduler = BackgroundScheduler(
            timezone=self.zone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    # ------------------------------------------------------------ the jobs

    def run_pass(self) -> TickResult | None:
        """One pass: fire what is due, send the queued mail; logs one line. None if it failed
        (the error is logged; the next pass tries again) or the service is stopping."""
        if self._stopping.is_set():
            return None
        with self._lock:
            started = time.monotonic()
            now = self.clock()
            try:
                result = self.ticker.tick(now, batch=self.options.batch)
                mail = self._deliver(now) if self.options.send else None
            except TskError as exc:
                log.error("pass at %s failed: %s", _iso(now), exc)
                return None
            except Exception:
                log.exception("pass at %s failed", _iso(now))
                return None
            self.passes += 1
            sent = f"; mail {_counts(mail)}" if mail is not None else ""
            opened = f"; opened {', '.join(result.opened)}" if result.opened else ""
            log.info(
                "pass %d at %s: %s%s%s (%.2f s)",
                self.passes,
                _iso(now),
                result.summary(),
                opened,
                sent,
                time.monotonic() - started,
                extra={"event": "pass", "pass": self.passes, **result.as_dict(), "mail": mail},
            )
            return result

    def run_digest(self) -> int | None:
        """The daily digest; None when the digest module is not there (logged)."""
        compose = digest_function()
        if compose is None:
            log.warning("digest skipped: %s.compose_digests is not available", DIGEST_MODULE)
            return None
        with self._lock:
            now = self.clock()
            try:
                made = int(compose(self.store, self.orgs, now) or 0)
                mail = self._deliver(now) if self.options.send else None
            except Exception:
                log.exception("digest at %s failed", _iso(now))
                return None
            sent = f"; mail {_counts(mail)}" if mail is not None else ""
            log.info(
                "digest at %s: %d digest mail(s) queued%s",
                _iso(now),
                made,
                sent,
                extra={"event": "digest", "queued": made, "mail": mail},
            )
            return made

    def run_checkpoint(self) -> dict[str, Any] | None:
        """The day's signed checkpoint of the audit trail, when due and not made yet (logged);
        None when there was nothing to do or it failed (logged)."""
        from tsk_workflow.checkpoints import daily_from_env

        if self._stopping.is_set():
            return None
        with self._lock:
            now = self.clock()
            try:
                made = daily_from_env(self.store, self.orgs, self.environ, now, self.ticker.worker)
                mail = self._deliver(now) if self.options.send and made else None
            except TskError as exc:
                log.error("checkpoint at %s failed: %s", _iso(now), exc)
                return None
            except Exception:
                log.exception("checkpoint at %s failed", _iso(now))
                return None
            if made is None:
                return None
            if "skipped" in made:
                log.warning("checkpoint at %s skipped: %s", _iso(now), made["skipped"])
                return made
            log.info(
                "checkpoint at %s: event %s signed (key %s) into %s",
                _iso(now),
                made["seq"],
                made["key_id"],
                made["file"],
                extra={"event": "checkpoint", "checkpoint": made, "mail": mail},
            )
            return made

    @property
    def orgs(self) -> dict[str, Any]:
        return {key: engine.org for key, engine in self.engines.items()}

    def _deliver(self, now: dt.datetime) -> dict[str, int]:
        from tsk_workflow.mail.outbox import deliver

        sent = deliver(self.store, self.orgs, self.environ, now)
        return {
            "sent": sent.sent,
            "retried": sent.retried,
            "failed": sent.failed,
            "held": sent.held,
        }

    # ------------------------------------------------------------ starting and stopping

    def start(self) -> None:
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        self.scheduler.add_job(
            self.run_pass,
            IntervalTrigger(seconds=self.options.interval, timezone=self.zone),
            id="tick",
            name="tick",
            next_run_time=dt.datetime.now(self.zone),
        )
        digest = self.options.digest_time
        self.scheduler.add_job(
            self.run_digest,
            CronTrigger(hour=digest.hour, minute=digest.minute, timezone=self.zone),
            id="digest",
            name="digest",
        )
        checkpoints = self._schedule_checkpoints()
        self.scheduler.start()
        names = ", ".join(sorted(self.engines))
        log.info(
            "started for %s: a pass every %s s, the digest at %s (%s), mail %s",
            names,
            _seconds(self.options.interval),
            digest.strftime("%H:%M"),
            self.zone.key,
            "sent" if self.options.send else "queued only",
            extra={"event": "started"},
        )
        if digest_function() is None:
            log.warning("daily digest disabled: %s.compose_digests is not available", DIGEST_MODULE)
        if checkpoints is not None:
            log.warning("daily checkpoint of the audit trail disabled: %s", checkpoints)

    def _schedule_checkpoints(self) -> str | None:
        """A job at each organisation's ``audit.checkpoint_time`` (the first also at start);
        why not, when the environment does not say where the key and the folder are."""
        from apscheduler.triggers.cron import CronTrigger

        from tsk_workflow.checkpoints import checkpoint_time, skip_reason

        reason = skip_reason(self.environ)
        if reason is not None:
            return reason
        times = sorted({checkpoint_time(engine.org) for engine in self.engines.values()})
        for number, moment in enumerate(times):
            self.scheduler.add_job(
                self.run_checkpoint,
                CronTrigger(hour=moment.hour, minute=moment.minute, timezone=self.zone),
                id=f"checkpoint-{number}",
                name="checkpoint",
                **({"next_run_time": dt.datetime.now(self.zone)} if number == 0 else {}),
            )
        return None

    def stop(self) -> None:
        """Take no new jobs, let the one in progress finish, then return."""
        self._stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        with self._lock:  # a job that was already past its check finishes first
            pass
        log.info("stopped after %d pass(es)", self.passes, extra={"event": "stopped"})


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
            log.info("%s received: stopping after the pass in progress", name)
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
        "mail",
        "queued",
        "checkpoint",
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


def _counts(mail: Mapping[str, int] | None) -> str:
    if not mail:
        return "-"
    return ", ".join(f"{key} {value}" for key, value in mail.items())


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
