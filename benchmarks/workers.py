"""6. More than one machine: two tick workers on one PostgreSQL against one.

A fresh PostgreSQL schema (as ``tests/dbfixtures.py`` makes them) with the shipped Herrljunga
organisation loaded as ``tsk init`` does, and 20,000 open tasks (in 10,000 EST cycles, created in
bulk), each with a reminder due an hour ago: 20,000 due timers. Each worker is a process of its
own doing what ``tsk tick`` does (the engines of the municipalities loaded in the database, then
one ``Ticker.tick``); the processes are started and ready before the clock starts, so process
start-up is not in the figure. Measured: the wall time from the start signal until every worker
is done, once with one worker and once with two, each on a fresh copy of the due timers.
Printed for each worker: its own CPU time and its PostgreSQL backend's (from ``/proc``, when the
server runs on this machine; ``nan`` otherwise), and the cores they kept busy together. "ceiling"
is what two workers could reach at best on this machine: its cores (at most two are used) over
the cores one worker already keeps busy (a worker and its backend overlap), if two workers
spent no more CPU than one, and never more than two. The target (issue 15): two workers at
least 0.85 of that ceiling, and no timer fired twice.

Checked: every timer fired exactly once (the workers' counts add up to 20,000, every timer is
``fired``, 40,000 outbox rows for the two assignees each, no Message-ID twice).

Reminders write no audit event, so batches of due reminders are claimed without the audit
chain's advisory lock (``engine/ticker.py``, "Reminders without the chain lock"); two workers can
then work at the same time.

Run: ``python -m benchmarks.workers [--timers 20000] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import sys
import time
from typing import Any

from sqlalchemy import func, select, text, update

from benchmarks.common import (
    SKIPPED,
    bulk_cycles,
    header,
    local,
    median,
    outcome,
    pg_available,
    pg_schema,
    pg_store,
    verdict,
)
from tsk_workflow.catalog import load_catalog, load_organisation, resolve_organisation_path
from tsk_workflow.engine.setup import load_organisation as load_into_store
from tsk_workflow.engine.ticker import Ticker
from tsk_workflow.features import build_engine
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import OutboxMessage, Timer

NOW = local(dt.date(2027, 3, 10), 8, 5)


def prepare(url: str, timers: int) -> None:
    store = pg_store(url)
    catalog = load_catalog()
    org = load_organisation("herrljunga", catalog)
    at = local(dt.date(2027, 3, 1), 9)
    engine = build_engine(store, catalog, org, lambda: at)
    load_into_store(engine, resolve_organisation_path("herrljunga"))
    Ticker({org.municipality: engine}).tick(NOW)  # what is due before the benchmark's timers
    bulk_cycles(
        store,
        "herrljunga",
        timers // 2,
        tasks_per_cycle=2,
        now=NOW - dt.timedelta(days=5),
        task_due=NOW + dt.timedelta(days=7),
        timers=lambda _task, _due: [("reminder:1wd", "reminder", NOW - dt.timedelta(hours=1))],
    )
    with store.transaction() as session:  # a snapshot to reset to before each measurement
        session.execute(text("CREATE TABLE bench_outbox_before AS SELECT id FROM outbox"))
    store.dispose()


def reset(url: str) -> None:
    """The reminders due again, their mail gone: as before the first measurement."""
    store = Store(url)
    with store.transaction() as session:
        session.execute(
            update(Timer)
            .where(Timer.key.like("task:%:reminder:1wd"), Timer.status != "pending")
            .values(status="pending", fired_at=None, fired_by=None)
        )
        session.execute(
            text("DELETE FROM outbox WHERE id NOT IN (SELECT id FROM bench_outbox_before)")
        )
    with store.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text("VACUUM ANALYZE timers"))
        connection.execute(text("VACUUM ANALYZE outbox"))
    store.dispose()


def worker(url: str, name: str, ready: Any, go: Any, results: Any) -> None:
    """What ``tsk tick`` does, with the engines made before the start signal."""
    from tsk_workflow.catalog import organisation_from_text
    from tsk_workflow.engine.setup import in_force

    store = Store(url)
    catalog = load_catalog()
    engines = {
        key: build_engine(
            store, catalog, organisation_from_text(v.content, v.source, catalog), lambda: NOW
        )
        for key, v in in_force(store).items()
    }
    ticker = Ticker(engines, worker=name)
    with store.engine.connect() as connection:  # in the pool, as a running worker has one
        backend = int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())
    ready.put(name)
    go.wait()
    cpu, server = time.process_time(), backend_cpu(backend)
    result = ticker.tick(NOW)
    cpu = time.process_time() - cpu
    server = backend_cpu(backend) - server
    if store.engine.pool.checkedin() != 1:  # the tick used another connection: not measured
        server = float("nan")
    results.put((name, result.total, (cpu, server), result.failed, time.perf_counter()))
    store.dispose()


def backend_cpu(pid: int) -> float:
    """CPU seconds (user and system) of a PostgreSQL backend on this machine, from /proc; NaN
    when it cannot be read (a server elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(url: str, workers: int) -> tuple[float, dict[str, int], float]:
    """Wall seconds, timers fired per worker, and the cores kept busy on average (the workers'
    and their backends' CPU over the wall time; NaN when the backends' CPU is unknown)."""
    context = mp.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    processes = [
        context.Process(target=worker, args=(url, f"w{i}", ready, go, results))
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=120)
    start = time.perf_counter()
    go.set()
    done = [results.get(timeout=600) for _ in processes]
    seconds = max(end for *_rest, end in done) - start
    for process in processes:
        process.join()
    counts = {name: total for name, total, _cpu, _failed, _end in done}
    assert all(failed == 0 for *_x, failed, _end in done), done
    cpu = {name: round(cpu[0], 2) for name, _total, cpu, _failed, _end in done}
    server = {name: round(cpu[1], 2) for name, _total, cpu, _failed, _end in done}
    ends = {name: round(end - start, 2) for name, _total, _cpu, _failed, end in done}
    busy = (sum(cpu.values()) + sum(server.values())) / seconds
    print(
        f"   ({workers} worker(s): done after {ends} s, their own CPU {cpu} s,"
        f" their PostgreSQL backends' CPU {server} s; {busy:.2f} cores busy)"
    )
    return seconds, counts, busy


def check(url: str, timers: int, counts: dict[str, int]) -> None:
    store = Store(url)
    with store.reading() as session:
        fired = session.scalar(
            select(func.count())
            .select_from(Timer)
            .where(Timer.key.like("task:%:reminder:1wd"), Timer.status == "fired")
        )
        mails = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.template == "task_reminder")
        )
        distinct = session.scalar(select(func.count(func.distinct(OutboxMessage.message_id))))
        rows = session.scalar(select(func.count()).select_from(OutboxMessage))
    store.dispose()
    assert sum(counts.values()) == timers, counts
    assert fired == timers, fired
    assert mails == 2 * timers, mails
    assert distinct == rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timers", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    header(f"6. two tick workers on one PostgreSQL: {args.timers} due reminders")
    problem = pg_available()
    if problem is not None:
        print(f"   skipped: PostgreSQL not reachable ({problem})")
        return SKIPPED
    times: dict[int, list[float]] = {1: [], 2: []}
    busy: dict[int, list[float]] = {1: [], 2: []}
    with pg_schema() as url:
        prepare(url, args.timers)
        for _ in range(args.repeats):
            for workers in (1, 2):
                reset(url)
                seconds, counts, cores = run(url, workers)
                check(url, args.timers, counts)
                times[workers].append(seconds)
                busy[workers].append(cores)
                print(
                    f"   {workers} worker(s): {seconds:.2f} s, {args.timers / seconds:.0f} timers/s,"
                    f" fired per worker {counts}"
                )
                sys.stdout.flush()
    print(
        f"   median: one worker {median(times[1]):.2f} s, two workers {median(times[2]):.2f} s;"
        " every timer fired once"
    )
    cores = min(2, os.cpu_count() or 1)
    # Two workers go at most twice as fast as one, and no faster than the cores let them: one
    # worker that keeps 0.6 cores busy leaves room for 2 / 0.6 = 3.3 of it on two cores.
    ceiling = min(2.0, cores / median(busy[1]))
    print(
        f"   ceiling: the smaller of 2 workers and {cores} cores / {median(busy[1]):.2f}"
        f" cores one worker keeps busy = {ceiling:.2f}"
    )
    speedup = median([a / b for a, b in zip(times[1], times[2], strict=True)])
    print(f"   two workers / one (speed): {speedup:.2f}")
    # Restated by issue 15 (it was >= 1.5x, above what the machine allows as measured).
    return outcome(verdict("two workers / one, of the ceiling", speedup / ceiling, 0.85))


if __name__ == "__main__":
    sys.exit(main())
