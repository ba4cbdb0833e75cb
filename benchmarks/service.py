"""7. The service under load: ``tsk serve`` on PostgreSQL holding a national year, 50 reporters
at once (locust), against the same requests with the engine called in one process (the floor).

The database: a PostgreSQL database of its own, made for virtual time (``tsk init
--virtual-time``), with 290 organisations loaded (copies of the four shipped ones, as
``benchmarks.national_year`` makes them) on 15 December of the year before, then one
``Ticker`` over all of them ticking once a day at 08:05 from 1 January up to ``--until``
(default 3 November: ten months of cycles, reminders, overdue notices and escalations, with
November's EST open and its reports due). Nobody has acted: every report of every month is
still open. How long that takes is printed.

The service: ``tsk --db URL serve`` in a process of its own, on the clock ``TSK_NOW`` (10:00 on
``--until``), with ``TSK_PASS_INTERVAL=0`` (no scheduler pass during the run), ready when
``/healthz`` answers. The people: ``benchmarks/service_locust.py``, run headless by locust in a
process of its own (``--users`` users, 10 started a second, for ``--seconds``): each user is
one reporter at a time holding an open EST report (``rapport``, role ``inrapportor``), taken in
turn across the municipalities; they sign in from the demo's list, then go round: the inbox
(``GET /api/v1/tasks``), the task (``GET /api/v1/tasks/{id}``), and after a task view, one time
in two, the report (``POST /api/v1/tasks/{id}/done`` with valid answers and the CSRF token),
after which the user signs in as the next reporter. A think time of ``--wait`` seconds
(``1,2``) between requests. Each task is handed to one user only.

The floor: the same three requests for ``--floor`` other reporters of the same database (not
used by locust), made by calling the engine in this process before the service starts
(``Engine.tasks``, ``Engine.readable_task``, ``Engine.complete_task``, each with the JSON the
API's route builds from it, without HTTP, sessions or threads), one after another; each
reporter's inbox and task twice, then the report.

The figures of the inbox, the task view and the report are those of the steady load: from the
moment every user has signed in once (the last user's first ``/api/v1/me`` answered). Until
then, each user's first sign-in gets the demo's sign-in page, which lists every person of the
290 municipalities (about 5,400, 0.7 MB: 0.1-0.2 s of the service's CPU each), and 50 of those
at 10 users a second hold up everything else; the ramp's own p95s are printed on a line of
their own, the sign-in figures over the whole run. (A real service signs people in through
OIDC, whose pages list nobody.)

Checked in the database afterwards: every submit answered 200 has its task done by that person
and exactly one ``task.done`` event in the audit trail; no task has two; no task was done
without an answer of 200 (a lost answer) or answered 200 and not done (a lost act); and the
audit chain is whole (``audit.verify``). An error is any answer other than the one expected
(200; 303 for the sign-in) or no answer at all, over the whole run.

Printed: per kind of request, the count, p50, p95 and max in ms for the service and for the
floor, and the ratio of the p95s; the CPU that the service, locust and everything else on the
machine (PostgreSQL and whatever else runs) used during the run; the verdicts. Targets (issue
17): p95 under 150 ms for the inbox and the task view, under 300 ms for submitting, 0 errors,
no lost or doubled act.

Run: ``python -m benchmarks.service [--municipalities 290] [--users 50] [--seconds 120]
[--keep]``; ``--small`` for a run of a few seconds on a few municipalities (run_all --quick,
tests/test_benchmarks.py). ``--keep`` keeps the database and prints its URL; ``--db URL``
measures on such a database again without building it (with the same ``--until``; each run
uses up reports). ``--profile FILE`` samples the service with py-spy during the run (collapsed
stacks), ``--log FILE`` keeps every request locust made. Skipped (exit 4) without PostgreSQL or
without locust (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from benchmarks.common import (
    PG_URL,
    ROOT,
    SKIPPED,
    header,
    local,
    outcome,
    pg_available,
    temp_dir,
    verdict,
)
from benchmarks.national_year import Clock
from benchmarks.national_year import build as build_organisations
from tsk_workflow import audit
from tsk_workflow.engine.ticker import Ticker, TickResult
from tsk_workflow.store import migrate
from tsk_workflow.store.database import Store

KINDS = ("inbox", "task view", "submit")
TARGETS = {"inbox": 150.0, "task view": 150.0, "submit": 300.0}
"""p95 in ms (issue 17)."""
EXPECTED = {"sign-in page": 200, "sign-in": 303, "me": 200, "inbox": 200, "task view": 200}
EXPECTED["submit"] = 200
LOCUSTFILE = Path(__file__).with_name("service_locust.py")
TSK_MAIN = "import sys; from tsk_workflow.cli import main; sys.exit(main())"
KEY = "benchmark-service-key-" + "0" * 24


# ---------------------------------------------------------------- the database


def new_database(keep_name: str | None) -> tuple[str, str]:
    """A new, empty PostgreSQL database next to ``PG_URL``'s: its name and URL."""
    name = keep_name or f"tsk_bench_service_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    admin = create_engine(PG_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def build(url: str, municipalities: int, until: dt.date) -> dict[str, float]:
    """The national year in the database at ``url``, up to the morning of ``until``; the
    seconds each part took."""
    from tsk_workflow.store.installation import make_virtual

    seconds: dict[str, float] = {}
    start = time.perf_counter()
    store = Store(url)
    migrate.upgrade(store)
    with store.transaction() as session:
        make_virtual(session)
    seconds["migrate"] = time.perf_counter() - start
    clock = Clock(local(dt.date(until.year - 1, 12, 15), 10))
    start = time.perf_counter()
    with temp_dir() as folder:
        engines = build_organisations(store, folder, municipalities, clock)
    seconds["load"] = time.perf_counter() - start
    start = time.perf_counter()
    ticker = Ticker(engines, worker="bench")
    total = TickResult()
    day = dt.date(until.year, 1, 1)
    while day <= until:
        clock.now = local(day, 8, 5)
        total.merge(ticker.tick(clock.now))
        day += dt.timedelta(days=1)
    seconds["ticks"] = time.perf_counter() - start
    start = time.perf_counter()
    with store.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
    seconds["analyze"] = time.perf_counter() - start
    print(
        f"   ticked {(until - dt.date(until.year, 1, 1)).days + 1} days:"
        f" {dict(sorted(total.fired.items()))}, failed {total.failed}"
    )
    store.dispose()
    return seconds


def census(url: str) -> dict[str, Any]:
    """What the database holds (printed, so that the load is known)."""
    store = Store(url)
    with store.reading_rows() as connection:

        def one(sql: str) -> Any:
            return connection.execute(text(sql)).scalar_one()

        found = {
            "municipalities": one("SELECT count(*) FROM municipalities"),
            "cycles": one("SELECT count(*) FROM cycles"),
            "open cycles": one("SELECT count(*) FROM cycles WHERE status = 'open'"),
            "tasks": one("SELECT count(*) FROM tasks"),
            "open tasks": one("SELECT count(*) FROM tasks WHERE status = 'open'"),
            "timers": one("SELECT count(*) FROM timers"),
            "mails": one("SELECT count(*) FROM outbox"),
            "audit events": one("SELECT count(*) FROM audit_events"),
            "size MB": round(one("SELECT pg_database_size(current_database())") / 1e6),
        }
    store.dispose()
    return found


@dataclass(frozen=True)
class Report:
    """An open EST report: its reporter, and the towns of their municipality."""

    municipality: str
    person: str
    task: int
    towns: tuple[str, ...]

    def as_json(self) -> list[Any]:
        return [self.municipality, self.person, self.task, list(self.towns)]


def open_reports(store: Store, engines: dict[str, Any]) -> list[Report]:
    """Every open EST report with one assignee, the newest month first, taken in turn across
    the municipalities (so that users at the same time are in different ones)."""
    with store.reading_rows() as connection:
        rows = connection.execute(
            text(
                "SELECT t.municipality, a.person, t.id, c.period FROM tasks t"
                " JOIN cycles c ON c.id = t.cycle_id"
                " JOIN task_assignees a ON a.task_id = t.id"
                " WHERE c.process = 'est' AND t.key = 'rapport' AND t.status = 'open'"
                " AND (SELECT count(*) FROM task_assignees b WHERE b.task_id = t.id) = 1"
                " ORDER BY c.period DESC, t.municipality, t.id"
            )
        ).all()
    by_period: dict[str, dict[str, list[Report]]] = defaultdict(lambda: defaultdict(list))
    for municipality, person, task_id, period in rows:
        towns = tuple(town.key for town in engines[municipality].org.towns)
        by_period[period][municipality].append(Report(municipality, person, task_id, towns))
    ordered: list[Report] = []
    for period in sorted(by_period, reverse=True):
        queues = list(by_period[period].values())
        while any(queues):
            for queue in queues:
                if queue:
                    ordered.append(queue.pop(0))
    return ordered


def answers_for(report: Report, number: int) -> dict[str, Any]:
    """Valid answers to EST's report form (``processes/est.yaml``)."""
    categories = ["skadegorelse", "klotter", "nedskrapning", "otrygg_plats", "annat"]
    return {
        "kategori": categories[number % len(categories)],
        "ort": report.towns[number % len(report.towns)],
        "antal": 1 + number % 5,
        "beskrivning": f"Rapport från {report.person} i lasttestet.",
    }


# ---------------------------------------------------------------- the floor


def floor(engines: dict[str, Any], reports: list[Report]) -> dict[str, list[float]]:
    """The service's three requests for each of ``reports``, with the engine called in this
    process: the inbox and the task twice, then the report. Milliseconds by kind."""
    from tsk_workflow.rows import task_row
    from tsk_workflow.web.api import task_json
    from tsk_workflow.web.deps import Reading
    from tsk_workflow.web.state import Someone

    times: dict[str, list[float]] = defaultdict(list)

    def timed(kind: str, start: float) -> None:
        times[kind].append((time.perf_counter() - start) * 1000)

    for number, report in enumerate(reports):
        engine = engines[report.municipality]
        for _round in range(2):
            start = time.perf_counter()
            with engine.store.reading() as session:
                found = engine.tasks(session, person=report.person)
                json.dumps([task_row(task, task.cycle.ref) for task in found])
            timed("inbox", start)
            start = time.perf_counter()
            with engine.store.reading() as session:
                task = engine.readable_task(session, report.person, report.task)
                reading = Reading(Someone(report.municipality, report.person), engine, session)
                json.dumps(task_json(engine, reading, task), default=str)
            timed("task view", start)
        start = time.perf_counter()
        engine.complete_task(report.person, report.task, None, answers_for(report, number))
        with engine.store.reading() as session:  # what the route answers
            task = engine.find_task(session, report.task)
            json.dumps(task_row(task, task.cycle.ref) | {"answers": task.answers})
        timed("submit", start)
    return times


# ---------------------------------------------------------------- the service and the people


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_service(url: str, port: int, now: dt.datetime, log: Path) -> subprocess.Popen[bytes]:
    """``tsk serve`` on ``url``, ready (``/healthz`` answers) when this returns."""
    env = {
        **os.environ,
        "TSK_SECRET_KEY": KEY,
        "TSK_PASS_INTERVAL": "0",
        "TSK_NOW": now.isoformat(),
        "TSK_BASE_URL": f"http://127.0.0.1:{port}",
    }
    tsk = Path(sys.executable).with_name("tsk")
    program = [str(tsk)] if tsk.exists() else [sys.executable, "-c", TSK_MAIN]
    command = [*program, "--db", url, "serve", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(
        command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"tsk serve exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("tsk serve did not answer /healthz within 300 s")


def profiler(pid: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` (every thread, idle ones left out) for the run's length."""
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "--pid", str(pid), "--duration", str(args.seconds)]
    command += ["--format", "raw", "--rate", "200", "--nonblocking", "--output", str(args.profile)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_service(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_locust(
    port: int, reports: list[Report], args: argparse.Namespace, folder: Path
) -> tuple[list[dict[str, Any]], list[str]]:
    """locust headless against the service; every request it made, and what it warned of."""
    people = folder / "people.json"
    people.write_text(json.dumps([r.as_json() for r in reports]))
    requests = folder / "requests.jsonl"
    output = folder / "locust.log"
    env = {
        **os.environ,
        "TSK_BENCH_PEOPLE": str(people),
        "TSK_BENCH_LOG": str(requests),
        "TSK_BENCH_SUBMIT": str(args.submit),
        "TSK_BENCH_WAIT": args.wait,
    }
    command = [
        *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"),
        *("--users", str(args.users), "--spawn-rate", str(args.spawn_rate)),
        *("--run-time", f"{args.seconds}s", "--stop-timeout", "10"),
        *("--host", f"http://127.0.0.1:{port}", "--only-summary", "--loglevel", "WARNING"),
        *("--exit-code-on-error", "0"),
    ]
    with output.open("wb") as out:
        done = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    said = output.read_text(errors="replace")
    if done.returncode != 0 or not requests.exists():
        raise SystemExit(f"locust failed (exit {done.returncode}):\n{said[-3000:]}")
    if args.log is not None:
        args.log.write_bytes(requests.read_bytes())
    warnings = [line.strip() for line in said.splitlines() if "WARNING" in line or "CPU" in line]
    lines = requests.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()], warnings


# ---------------------------------------------------------------- CPU


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system, every thread) of a process, from /proc (NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy (every core; /proc/stat, NaN elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except OSError:
        return float("nan")
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the checks


@dataclass
class Checked:
    answered: int = 0
    lost: list[int] = field(default_factory=list)
    """Answered 200, and the task not done by that person, or without its one event."""
    doubled: list[int] = field(default_factory=list)
    """Two task.done events or more for one task."""
    unanswered: list[int] = field(default_factory=list)
    """Done by someone of the run without an answer of 200 (a lost answer)."""
    chain: str = ""
    """What ``audit.verify`` says of the whole chain (empty when it is whole)."""

    @property
    def wrong(self) -> int:
        return len(set(self.lost) | set(self.doubled) | set(self.unanswered)) + bool(self.chain)


def done_tasks(store: Store) -> dict[int, str]:
    with store.reading_rows() as connection:
        rows = connection.execute(text("SELECT id, done_by FROM tasks WHERE status = 'done'"))
        return {int(task): str(person) for task, person in rows}


def check(
    store: Store, before: dict[int, str], submits: list[dict[str, Any]], floor_done: set[int]
) -> Checked:
    """The database against what the service answered."""
    with store.reading_rows() as connection:
        events = Counter(
            {
                int(task): int(n)
                for task, n in connection.execute(
                    text(
                        "SELECT (p.payload->>'task')::int, count(*) FROM audit_events e"
                        " JOIN audit_payloads p ON p.seq = e.seq"
                        " WHERE e.action = 'task.done' GROUP BY 1"
                    )
                )
            }
        )
    done = done_tasks(store)
    found = Checked()
    answered: dict[int, str] = {}
    for submit in submits:
        if submit["status"] == 200:
            answered[submit["task"]] = submit["person"].split(":", 1)[1]
    found.answered = len(answered)
    for task, person in answered.items():
        if done.get(task) != person or events[task] != 1:
            found.lost.append(task)
    found.doubled = sorted(task for task, n in events.items() if n > 1)
    found.unanswered = sorted(set(done) - set(before) - set(answered) - floor_done)
    with store.reading() as session:
        verified = audit.verify(session)
    found.chain = "" if verified.ok else verified.reason
    return found


# ---------------------------------------------------------------- the figures


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def table(service: dict[str, list[float]], floor_ms: dict[str, list[float]]) -> None:
    print(
        f"   {'request':<13} {'service: n':>10} {'p50':>7} {'p95':>7} {'max':>7}"
        f"   {'floor: n':>8} {'p50':>7} {'p95':>7} {'max':>7}   {'p95 ratio':>9}"
    )
    for kind in (*KINDS, "sign-in page", "sign-in", "me"):
        mine, low = service.get(kind, []), floor_ms.get(kind, [])
        cells = [f"{len(mine):>10}"] + [f"{f(mine):>7.1f}" for f in (_p50, _p95, _max)]
        if low:
            lows = [f"{len(low):>8}"] + [f"{f(low):>7.1f}" for f in (_p50, _p95, _max)]
            ratio = f"{_p95(mine) / _p95(low):>8.1f}x"
        else:
            lows, ratio = [f"{'-':>8}", f"{'':>7}", f"{'':>7}", f"{'':>7}"], f"{'':>9}"
        print(f"   {kind:<13} {' '.join(cells)}   {' '.join(lows)}   {ratio}")
    print(
        "   (ms; sign-in page, sign-in and me are not in the targets and have no floor; the"
        " sign-in page is each user's first, all in the ramp)"
    )


def _p50(values: list[float]) -> float:
    return percentile(values, 0.5)


def _p95(values: list[float]) -> float:
    return percentile(values, 0.95)


def _max(values: list[float]) -> float:
    return max(values) if values else float("nan")


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--municipalities", type=int, default=290)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started a second")
    parser.add_argument("--wait", default="1,2", help="think time between requests: min,max s")
    parser.add_argument("--submit", type=float, default=0.5, help="a report after a task view")
    parser.add_argument("--floor", type=int, default=100, help="reporters for the floor")
    parser.add_argument("--until", type=dt.date.fromisoformat, default=dt.date(2027, 11, 3))
    parser.add_argument("--keep", action="store_true", help="keep the database (say its name)")
    parser.add_argument(
        "--profile", type=Path, help="py-spy's samples of tsk serve during the run (collapsed)"
    )
    parser.add_argument("--log", type=Path, help="copy every request locust made to this file")
    parser.add_argument("--db", help="a database an earlier --keep left (its build is skipped)")
    parser.add_argument(
        "--small", action="store_true", help="6 municipalities, 5 users, 5 s (run_all --quick)"
    )
    args = parser.parse_args(argv)
    if args.small:
        args.municipalities, args.users, args.seconds, args.floor = 6, 5, 5, 10
        args.spawn_rate, args.until, args.wait = 5, dt.date(2027, 3, 3), "0.2,0.5"
    header(
        f"7. the service under load: {args.municipalities} municipalities on PostgreSQL,"
        f" {args.users} users for {args.seconds} s"
    )
    print("   (this one: one run; percentiles of every request it made)")
    problem = pg_available()
    if problem is not None:
        print(f"   skipped: PostgreSQL not reachable ({problem})")
        return SKIPPED
    if importlib.util.find_spec("locust") is None:
        print("   skipped: locust is not installed (pip install -e '.[bench]')")
        return SKIPPED
    name = None
    if args.db:
        url = args.db
        print(f"   database: {make_url(url).database}, built before")
    else:
        name, url = new_database(None)
        print(f"   database: {name}")
    try:
        return measure(url, name, args)
    finally:
        if name is not None and not args.keep:
            try:
                drop_database(name)
            except Exception as exc:  # noqa: BLE001 - say what is left, keep the first error
                print(f"   could not drop the database {name}: {str(exc).splitlines()[0]}")
        elif name is not None:
            print(f"   kept: {url}")


def measure(url: str, name: str | None, args: argparse.Namespace) -> int:
    from tsk_workflow.features import loaded_engines

    if name is not None:
        start = time.perf_counter()
        parts = build(url, args.municipalities, args.until)
        seconds = time.perf_counter() - start
        print(
            f"   national year in PostgreSQL up to {args.until}: {seconds:.1f} s ("
            + ", ".join(f"{part} {s:.1f} s" for part, s in parts.items())
            + ")"
        )
    print(f"   holds: {census(url)}")
    now = local(args.until, 10)
    store = Store(url)
    engines = loaded_engines(store, lambda: now)
    reports = open_reports(store, engines)
    for_floor = _distinct_people(reports, args.floor)
    floor_tasks = {r.task for r in for_floor}
    for_service = [r for r in reports if r.task not in floor_tasks]
    print(
        f"   open EST reports: {len(reports)}, of {len({(r.municipality, r.person) for r in reports})}"
        f" reporters; {len(for_floor)} for the floor, the rest for the service"
    )
    before = done_tasks(store)
    floor_ms = floor(engines, for_floor)
    print(f"   floor: done ({sum(len(v) for v in floor_ms.values())} calls)")
    sys.stdout.flush()
    with temp_dir() as folder:
        port = free_port()
        start = time.perf_counter()
        service = start_service(url, port, now, folder / "serve.log")
        print(f"   tsk serve ready in {time.perf_counter() - start:.1f} s (port {port})")
        sys.stdout.flush()
        try:
            cpu = process_cpu(service.pid), machine_cpu(), os.times()
            wall = time.perf_counter()
            spy = profiler(service.pid, args) if args.profile else None
            requests, warnings = run_locust(port, for_service, args, folder)
            if spy is not None:
                spy.wait()
            wall = time.perf_counter() - wall
            service_cpu = process_cpu(service.pid) - cpu[0]
            busy = machine_cpu() - cpu[1]
            locust_cpu = sum(os.times()[2:4]) - sum(cpu[2][2:4])
        finally:
            stop_service(service)
        log = (folder / "serve.log").read_text(errors="replace")
    errors: Counter[str] = Counter()
    for request in requests:
        if request["status"] != EXPECTED.get(request["kind"]):
            errors[f"{request['kind']} {request['status'] or request.get('error', '?')}"] += 1
    ramp_end = end_of_ramp(requests)
    service_ms = by_kind(r for r in requests if r["at"] >= ramp_end or r["kind"] == "sign-in page")
    ramp_ms = by_kind(r for r in requests if r["at"] < ramp_end)
    submits = [r for r in requests if r["kind"] == "submit"]
    found = check(store, before, submits, floor_tasks)
    store.dispose()
    print(
        f"   load: {len(requests)} requests in {wall:.0f} s ({len(requests) / wall:.1f}/s),"
        f" {len(submits)} reports submitted; think time {args.wait} s, a report after"
        f" {args.submit:.0%} of task views"
    )
    print(
        f"   CPU during the run ({os.cpu_count()} cores): tsk serve {service_cpu / wall:.2f} cores,"
        f" locust {locust_cpu / wall:.2f}, everything else (PostgreSQL, other work)"
        f" {(busy - service_cpu - locust_cpu) / wall:.2f}; load average {os.getloadavg()[0]:.1f}"
    )
    for line in warnings[:5]:
        print(f"   locust: {line}")
    for line in [x for x in log.splitlines() if "Traceback" in x or "ERROR" in x][:5]:
        print(f"   tsk serve: {line}")
    first = min(r["at"] for r in requests)
    print(
        f"   the ramp, until every user had signed in (the first {ramp_end - first:.1f} s),"
        " is left out of the table but for the sign-in page; in it: "
        + ", ".join(
            f"{kind} n {len(found_ms)} p95 {_p95(found_ms):.0f} ms"
            for kind, found_ms in ramp_ms.items()
            if kind != "sign-in page"
        )
    )
    table(service_ms, floor_ms)
    if errors:
        print(f"   errors: {dict(errors)}")
    wrong = found.lost + found.doubled + found.unanswered
    print(
        f"   acts: {found.answered} reports answered 200; lost {len(found.lost)},"
        f" doubled {len(found.doubled)}, done without a 200 {len(found.unanswered)}"
        + (f" (tasks {wrong[:10]})" if wrong else "")
        + f"; the audit chain {found.chain or 'is whole (audit.verify)'}"
    )
    ok = True
    for kind in KINDS:
        ok &= verdict(f"{kind} p95 ms", _p95(service_ms[kind]), TARGETS[kind], at_least=False)
    ok &= verdict("errors", sum(errors.values()), 0, at_least=False)
    ok &= verdict("lost or doubled acts", found.wrong, 0, at_least=False)
    return outcome(ok)


def end_of_ramp(requests: list[dict[str, Any]]) -> float:
    """When the last user to sign in for the first time had their ``/api/v1/me`` answered
    (epoch seconds): until then the users' first sign-ins, each through the demo's sign-in
    page, compete with the first users' requests."""
    first_signed_in: dict[Any, float] = {}
    for request in requests:
        if request["kind"] == "me":
            end = request["at"] + request["ms"] / 1000
            user = request.get("user")
            first_signed_in[user] = min(end, first_signed_in.get(user, end))
    return max(first_signed_in.values(), default=0.0)


def by_kind(requests: Any) -> dict[str, list[float]]:
    found: dict[str, list[float]] = defaultdict(list)
    for request in requests:
        found[request["kind"]].append(request["ms"])
    return found


def _distinct_people(reports: list[Report], count: int) -> list[Report]:
    """``count`` reports of different people from the start of the list (the newest month, in
    turn across the municipalities), as the service's users take theirs."""
    seen: set[tuple[str, str]] = set()
    chosen: list[Report] = []
    for report in reports:
        if len(chosen) == count:
            break
        if (report.municipality, report.person) not in seen:
            seen.add((report.municipality, report.person))
            chosen.append(report)
    return chosen


if __name__ == "__main__":
    sys.exit(main())
