"""Running a municipality's year on virtual time, through the real paths.

The demo creates a SQLite database, starts a local SMTP server that writes to a maildir, loads
the organisation as ``tsk init`` does, then for each day of the year: a scheduler pass in the
morning, the people's acts during the day (their mail sent at once), another pass in the
afternoon and one at the organisation's ``audit.checkpoint_time``. The passes are those of
``tsk tick`` and ``tsk run`` (:class:`tsk_workflow.schedpass.SchedulerPass`: timers, the digests
after ``mail.digest_time``, the day's signed checkpoint, the outbox sent over SMTP). Nothing
goes around the scheduler, the engine, the outbox or SMTP: only the clock is virtual.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsk_workflow import checkpoints, links, replay
from tsk_workflow.catalog import load_catalog, load_organisation, resolve_organisation_path
from tsk_workflow.demo.players import Players
from tsk_workflow.demo.smtpd import LocalSmtpServer
from tsk_workflow.engine import action_plans, setup
from tsk_workflow.engine.actions import Actions
from tsk_workflow.engine.compliance import compliance
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import TskError
from tsk_workflow.features import build_engine
from tsk_workflow.i18n import _
from tsk_workflow.mail.outbox import deliver
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.schedpass import PassOptions, SchedulerPass
from tsk_workflow.store import installation, migrate, summary
from tsk_workflow.store.database import Store

MORNING = dt.time(8, 5)
DAYTIME = dt.time(10, 0)
AFTERNOON = dt.time(17, 5)
KEY_FILE = "audit-key.pem"
"""The demo's signing key, in its folder (and ``audit-key.pem.pub``): a real installation keeps
it where the database's users cannot read it."""
CHECKPOINT_DIR = "checkpoints"
LINK_KEY_FILE = "link-key"
"""The key that signs the task links in the demo's mails (``TSK_SECRET_KEY_FILE``), in its folder:
``tsk serve`` on the demo's database takes the same key to follow them."""
BASE_URL = "http://127.0.0.1:8000"
"""Where the demo's task links point (``TSK_BASE_URL``): ``tsk serve``'s default address."""


class VirtualClock:
    """The demo's time: set by the loop, read by the engine."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class DemoResult:
    municipality: str
    name: str
    year: int
    out: Path
    database: str
    maildir: Path
    calendar: Path
    reports: list[Path] = field(default_factory=list)
    """The yearly report to KF, as DOCX and as PDF, beside the calendar."""
    cycles: dict[str, dict[str, int]] = field(default_factory=dict)
    tasks: dict[str, int] = field(default_factory=dict)
    mails_per_role: dict[str, int] = field(default_factory=dict)
    mails_delivered: int = 0
    decisions: dict[str, dict[str, int]] = field(default_factory=dict)
    audit_ok: bool = False
    audit_events: int = 0
    audit_reason: str = ""
    reminders: int = 0
    escalations: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    """The action register at the year's end: ``added``, ``done``, ``active``, ``overdue``,
    ``cancelled``, ``followups``, and the owners' ``reminders`` and ``overdue_notices``."""
    plan: dict[str, Any] | None = None
    """The åtgärdsplan in force at the year's end (``PlanVersion.to_dict``), or None."""
    compliance: dict[str, Any] = field(default_factory=dict)
    """Where the municipality stands against Lag (2023:196) on the year's last day."""
    checkpoints: int = 0
    checkpoints_file: Path | None = None
    link_key: Path | None = None
    base_url: str = BASE_URL
    """Where the task links in the mails point."""
    public_key: Path | None = None
    key_id: str = ""
    anchored_to: int | None = None
    checkpoint_time: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "municipality": self.municipality,
            "year": self.year,
            "out": str(self.out),
            "database": self.database,
            "maildir": str(self.maildir),
            "calendar": str(self.calendar),
            "reports": [str(path) for path in self.reports],
            "cycles": self.cycles,
            "tasks": self.tasks,
            "mails_per_role": self.mails_per_role,
            "mails_delivered": self.mails_delivered,
            "decisions": self.decisions,
            "reminders": self.reminders,
            "escalations": self.escalations,
            "actions": self.actions,
            "plan": self.plan,
            "compliance": self.compliance,
            "audit": {
                "ok": self.audit_ok,
                "events": self.audit_events,
                "reason": self.audit_reason,
            },
            "checkpoints": {
                "signed": self.checkpoints,
                "time": self.checkpoint_time,
                "file": str(self.checkpoints_file or ""),
                "public_key": str(self.public_key or ""),
                "key_id": self.key_id,
                "anchored_to": self.anchored_to,
            },
            "links": {"base_url": self.base_url, "key_file": str(self.link_key or "")},
        }


class DemoInTheWay(FileExistsError):
    """Something the demo would make is already there (``path``): nothing was started."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            _("{path} already exists: give another --out or remove it").format(path=path)
        )
        self.path = str(path)


class DemoDatabaseInUse(TskError):
    """The database given to the demo already holds tsk's tables: nothing was started."""

    def __init__(self, shown: str) -> None:
        super().__init__(
            _(
                "the database {database} is already set up: the demo starts from an empty database"
            ).format(database=shown)
        )
        self.shown = shown


class DemoInterrupted(KeyboardInterrupt):
    """Ctrl-C during the demo, after :func:`undo`: ``left`` is what could not be removed."""

    def __init__(self, place: Place, left: list[str]) -> None:
        super().__init__()
        self.place, self.left = place, left


@dataclass
class Place:
    """Where a demo writes, and so what undoing it removes: its folder (all of it when the demo
    made it), the files it makes there, and its database (a SQLite file that was not there, or
    the tables it makes in an empty PostgreSQL database)."""

    out: Path
    made_out: bool
    url: str
    database: str
    """The database as the summary names it: the SQLite file, or the URL (password hidden)."""
    sqlite: Path | None
    """The SQLite file the demo makes (removed by :func:`undo`); None when the database was
    there (PostgreSQL, or an empty file given): :func:`undo` then drops the demo's tables."""
    made: tuple[Path, ...]


def check_start(municipality: str, year: int, out: Path, database: str | None = None) -> Place:
    """Where the demo of ``municipality``'s ``year`` writes, checked before anything is made:
    ``out`` must not hold what the demo makes, and ``database`` (a URL or SQLite file; default
    ``out/tsk.db``) must not be a tsk database already (:class:`DemoInTheWay`,
    :class:`DemoDatabaseInUse`)."""
    from tsk_workflow.store.database import database_url, reachable_url, shown_url, sqlite_file

    if out.exists() and not out.is_dir():
        raise DemoInTheWay(out)
    key_path = out / KEY_FILE
    made = (
        key_path,
        checkpoints.public_path(key_path),
        out / LINK_KEY_FILE,
        out / CHECKPOINT_DIR,
        out / "maildir",
        out / f"{municipality}-{year}.ics",
        *yearly_report_files(out, municipality, year),
    )
    url = database_url(str(out / "tsk.db") if database is None else database)
    sqlite = sqlite_file(url) if url.startswith("sqlite") else None
    if sqlite is not None and database is None and sqlite.exists():
        raise DemoInTheWay(sqlite)
    for path in made:
        if path.exists():
            raise DemoInTheWay(path)
    new_file = sqlite is not None and not sqlite.exists()
    if not new_file:  # PostgreSQL, or a SQLite file given with --db
        store = Store(url)
        try:
            if migrate.current_revision(store) is not None:
                raise DemoDatabaseInUse(shown_url(url))
        finally:
            store.dispose()
    # The summary's commands reach the same database: its connection options are kept (a
    # schema in ``options``), only a password is not repeated.
    shown = str(sqlite) if sqlite is not None else reachable_url(url)
    return Place(out, not out.exists(), url, shown, sqlite if new_file else None, made)


def undo(place: Place) -> list[str]:
    """Remove what the demo made at ``place``; what is left (not removed) is returned. Ctrl-C
    is ignored meanwhile, so that a second one does not leave half of the undoing."""
    import shutil
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    left: list[str] = []
    try:
        if place.sqlite is None:
            store = Store(place.url)
            try:
                migrate.downgrade(store, "base")  # the database is empty again, as it was
            except TskError:
                left.append(place.database)
            finally:
                store.dispose()
        paths = [place.out] if place.made_out else list(place.made)
        if place.sqlite is not None:
            name = place.sqlite.name
            paths += [
                place.sqlite.with_name(name + end) for end in ("", "-wal", "-shm", "-journal")
            ]
        for path in paths:
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            except OSError:
                left.append(str(path))
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return left


def run_demo(
    municipality: str,
    year: int,
    out: Path,
    seed: int = 2027,
    progress: Callable[[int], None] | None = None,
    until: dt.date | None = None,
    database: str | None = None,
    base_url: str = BASE_URL,
) -> DemoResult:
    """Run ``municipality``'s ``year`` into ``out`` and ``database`` (default ``out/tsk.db``),
    stopping after ``until`` when given (to leave a year half done, for trying things by
    hand); the task links in its mails point at ``base_url`` (where ``tsk serve`` answers).
    What is in the way is refused before anything is made (:func:`check_start`); Ctrl-C
    removes what was made (:func:`undo`) and raises :class:`DemoInterrupted`."""
    place = check_start(municipality, year, out, database)
    try:
        out.mkdir(parents=True, exist_ok=True)
        return _run(municipality, year, place, seed, progress, until, base_url)
    except KeyboardInterrupt:
        raise DemoInterrupted(place, undo(place)) from None


def _run(
    municipality: str,
    year: int,
    place: Place,
    seed: int,
    progress: Callable[[int], None] | None,
    until: dt.date | None,
    base_url: str = BASE_URL,
) -> DemoResult:
    out = place.out
    key_path = out / KEY_FILE
    catalog = load_catalog()
    org = load_organisation(municipality, catalog)
    store = Store(place.url)
    try:
        migrate.upgrade(store)
        with store.transaction() as session:
            installation.make_virtual(session)  # the demo's year is virtual time
        clock = VirtualClock(_local(dt.date(year - 1, 12, 15), DAYTIME, org))
        engine = build_engine(store, catalog, org, clock)
        setup.load_organisation(engine, resolve_organisation_path(municipality))
        checkpoints.generate_key(key_path)
        publishing = checkpoints.Publishing(key_path, out / CHECKPOINT_DIR)
        links.write_key_file(out / LINK_KEY_FILE)
        with LocalSmtpServer(out / "maildir") as smtp:
            last = until or dt.date(year, 12, 31)
            rng = random.Random(seed)
            env = {
                **smtp.environment,
                checkpoints.ENV_KEY: str(publishing.key),
                checkpoints.ENV_DIR: str(publishing.directory),
                links.ENV_BASE_URL: base_url,  # the mails carry task links, as a service's do
                links.ENV_KEY_FILE: str(out / LINK_KEY_FILE),
            }
            _run_year(engine, clock, year, last, env, rng, progress)
            delivered = sum(smtp.handler.per_recipient.values())
        result = _summary(engine, year, out, place.database, delivered)
        result.link_key = out / LINK_KEY_FILE
        result.base_url = base_url
        _check_checkpoints(result, engine, publishing)
        result.calendar.write_bytes(year_calendar(engine, year))
        result.reports = write_yearly_report(engine, year, out)
    finally:
        store.dispose()
    return result


def _local(day: dt.date, clock: dt.time, org: Organisation) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, clock, tzinfo=ZoneInfo(org.calendar.timezone)).astimezone(
        dt.UTC
    )


def _run_year(
    engine: Engine,
    clock: VirtualClock,
    year: int,
    last: dt.date,
    env: dict[str, str],
    rng: random.Random,
    progress: Callable[[int], None] | None,
) -> None:
    """Each day: the scheduler's pass at ``MORNING``, ``AFTERNOON`` and the organisation's
    checkpoint time (``env`` has the SMTP server, the key and the folder), and the people's
    acts at ``DAYTIME`` on working days, their mail sent at once."""
    engines = {engine.org.municipality: engine}
    orgs = {engine.org.municipality: engine.org}
    scheduler_pass = SchedulerPass(engines, env, PassOptions(send=True), worker="demo")
    players = Players(engine, rng)
    passes = {MORNING, AFTERNOON, checkpoints.checkpoint_time(engine.org)}
    day = dt.date(year, 1, 1)
    while day.year == year and day <= last:
        for moment in sorted(passes | {DAYTIME}):
            clock.now = _local(day, moment, engine.org)
            if moment in passes:
                scheduler_pass(clock.now)
            if moment == DAYTIME and engine.cal.is_working_day(day):
                players.play(clock.now)
                deliver(engine.store, orgs, env, clock.now)
        if progress is not None:
            progress(1)
        day += dt.timedelta(days=1)


# ---------------------------------------------------------------- the summary


def _summary(engine: Engine, year: int, out: Path, database: str, delivered: int) -> DemoResult:
    org = engine.org
    result = DemoResult(
        org.municipality,
        org.name,
        year,
        out,
        database,
        out / "maildir",
        out / f"{org.municipality}-{year}.ics",
    )
    with engine.store.reading() as session:
        result.cycles = _cycles(session, org.municipality)
        result.tasks = _tasks(session, org.municipality)
        result.mails_per_role = _mails_per_role(session, org)
        result.decisions = _decisions(session, org.municipality)
        result.reminders, result.escalations = _notices(session, org.municipality)
        result.actions = _action_notices(session, org.municipality)
    result.actions |= _actions(engine)
    in_force = action_plans.in_force(engine)
    result.plan = in_force.to_dict() if in_force is not None else None
    result.compliance = compliance(engine).to_dict()
    with engine.store.reading() as session:  # a read of its own: one snapshot
        verified = replay.verify_record(session)
    result.mails_delivered = delivered
    result.audit_ok, result.audit_events, result.audit_reason = (
        verified.ok,
        verified.checked,
        verified.reason,
    )
    return result


def _check_checkpoints(
    result: DemoResult, engine: Engine, publishing: checkpoints.Publishing
) -> None:
    """The checkpoints of the year, checked with the public key against the chain: the audit
    verdict fails when one does not hold."""
    result.checkpoint_time = engine.org.audit.checkpoint_time
    result.public_key = checkpoints.public_path(publishing.key)
    public_key = checkpoints.load_public_key(result.public_key)
    result.key_id = checkpoints.key_id(public_key)
    result.checkpoints_file = publishing.directory / checkpoints.FILE_NAME
    if not result.checkpoints_file.exists():
        return  # no day reached its checkpoint time
    signed, problems = checkpoints.read(result.checkpoints_file)
    anchored, found = checkpoints.check_store(engine.store, signed, public_key)
    problems += found
    result.checkpoints, result.anchored_to = len(signed), anchored
    if problems and result.audit_ok:
        result.audit_ok, result.audit_reason = False, problems[0].detail


def _cycles(session: Any, municipality: str) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for process, status in summary.cycle_statuses(session, municipality):
        counts = found.setdefault(process, {"opened": 0, "closed": 0, "open": 0})
        counts["opened"] += 1
        counts["closed" if status == "closed" else "open"] += 1
    return dict(sorted(found.items()))


def _tasks(session: Any, municipality: str) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for status, done_at, due_at in summary.task_times(session, municipality):
        if status == "done":
            late = due_at is not None and done_at is not None and done_at > due_at
            counts["done_late" if late else "done_on_time"] += 1
        else:
            counts[status] += 1
    return {key: counts[key] for key in ("done_on_time", "done_late", "open", "cancelled")}


def _mails_per_role(session: Any, org: Organisation) -> dict[str, int]:
    """Mail delivered per role (a person's first; a deputy's, named so; ``others`` for those
    with neither), in the language spoken."""
    counts: Counter[str] = Counter()
    for recipient in summary.sent_recipients(session, org.municipality):
        person = org.person(recipient)
        if person is not None and person.roles:
            role = person.roles[0]
        elif person is not None and person.deputy_for:
            role = _("{role} (deputy)").format(role=person.deputy_for[0])
        else:
            role = _("others")
        counts[role] += 1
    return dict(counts.most_common())


def _decisions(session: Any, municipality: str) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for body, status in summary.decision_statuses(session, municipality):
        counts = found.setdefault(body, {"proposed": 0})
        counts["proposed"] += 1
        counts[status] = counts.get(status, 0) + 1
    return found


def _actions(engine: Engine) -> dict[str, int]:
    views = Actions(engine).listing(states=None)
    return {
        "added": len(views),
        "done": sum(v.state == "done" for v in views),
        "active": sum(v.state == "active" for v in views),
        "overdue": sum(v.overdue for v in views),
        "cancelled": sum(v.state == "cancelled" for v in views),
        "followups": sum(len(v.followups) for v in views),
    }


def _action_notices(session: Any, municipality: str) -> dict[str, int]:
    templates = Counter(summary.mail_templates(session, municipality))
    return {
        "reminders": templates["action_due_soon"],
        "overdue_notices": templates["action_overdue"],
    }


def _notices(session: Any, municipality: str) -> tuple[int, int]:
    templates = Counter(summary.mail_templates(session, municipality))
    return templates["task_reminder"], templates["task_escalated"]


# ---------------------------------------------------------------- the yearly report


def yearly_report_files(out: Path, municipality: str, year: int) -> tuple[Path, Path]:
    """Where the demo writes the yearly report to KF: DOCX and PDF."""
    stem = out / f"arsrapport-{municipality}-{year}"
    return stem.with_suffix(".docx"), stem.with_suffix(".pdf")


def write_yearly_report(engine: Engine, year: int, out: Path) -> list[Path]:
    """The yearly report of the demo's year (``tsk report yearly``), in Swedish, as the record
    holds it on the demo's last day: DOCX, and PDF where WeasyPrint can run (a machine without
    Pango gets the DOCX and a warning, not a failed year)."""
    import logging

    from tsk_workflow.files import write
    from tsk_workflow.reports.docx_file import docx_file
    from tsk_workflow.reports.pdf_file import PdfUnavailable, pdf_file
    from tsk_workflow.reports.yearly import yearly

    made = yearly(engine, year, "sv")
    docx_path, pdf_path = yearly_report_files(out, engine.org.municipality, year)
    write(docx_path, docx_file(made))
    try:
        write(pdf_path, pdf_file(made))
    except PdfUnavailable as exc:
        logging.getLogger(__name__).warning("%s", exc)
        return [docx_path]
    return [docx_path, pdf_path]


# ---------------------------------------------------------------- the year as a calendar


def year_calendar(engine: Engine, year: int) -> bytes:
    """An iCalendar file of what happened: cycle openings, meetings and due dates, named in the
    language spoken (the titles as stored)."""
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", "-//tsk-workflow//demo//SV")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{engine.org.name} {year}")
    stamp = engine.clock()
    with engine.store.reading() as session:
        for uid, summary, start, end in _calendar_items(session, engine):
            event = Event()
            event.add("uid", uid)
            event.add("dtstamp", stamp)
            event.add("summary", summary)
            event.add("dtstart", start)
            if end is not None:
                event.add("dtend", end)
            calendar.add_component(event)
    return bytes(calendar.to_ical())


def _calendar_items(session: Any, engine: Engine) -> list[tuple[str, str, Any, Any]]:
    municipality = engine.org.municipality
    zone = engine.cal.zone
    items: list[tuple[str, str, Any, Any]] = []
    for cycle in summary.cycles(session, municipality):
        items.append(
            (
                f"cycle-{cycle.id}@{municipality}.tsk",
                _("Starts: {title}").format(title=cycle.title),
                cycle.opened_at.astimezone(zone).date(),
                None,
            )
        )
    titles = summary.cycle_titles(session, municipality)
    for seq, cycle_id, payload in summary.events_with_payload(
        session, municipality, "meeting.planned"
    ):
        start = dt.datetime.fromisoformat(payload["start"])
        end = dt.datetime.fromisoformat(payload["end"])
        items.append(
            (
                f"meeting-{seq}@{municipality}.tsk",
                _("Meeting: {title}").format(title=titles.get(cycle_id or 0, "")),
                start,
                end,
            )
        )
    for task in summary.tasks_due(session, municipality):
        assert task.due_at is not None  # tasks_due gives tasks with a due time only
        items.append(
            (
                f"task-{task.id}@{municipality}.tsk",
                _("Due: {title}").format(title=task.title),
                task.due_at.astimezone(zone).date(),
                None,
            )
        )
    return items
