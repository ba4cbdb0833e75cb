"""2. The scheduler pass: a tick with nothing due, and a tick with 10,000 due reminders.

Both on SQLite (a file), the shipped Herrljunga organisation loaded as ``tsk init`` does, the
rest of the rows created in bulk with Core for the setup; what is timed is ``Ticker.tick``.

- **Nothing due.** Two databases, one with 1,000 and one with 100,000 open EST cycles, each cycle
  with two open tasks whose due, reminder and escalation timers are all in the future (so 6
  pending timers per cycle). The median time of a tick with nothing due is compared: target
  ratio (100,000 / 1,000) at most 1.5.
- **10,000 due reminders.** 10,000 open tasks (in 5,000 cycles), each with one reminder due an
  hour ago and its due time a week ahead: one tick sends each its ``task_reminder`` mail (two
  assignees: 20,000 outbox rows). Timed on a fresh copy of the database each repeat. Target: at
  least 5,000 reminders per second (there is one way to fire them since issue 15, so no
  comparison with firing them one by one any more). Printed besides: reminders per second of the benchmark process's CPU time, which a machine
  busy with other work changes less than the wall time.

Run: ``python -m benchmarks.tick [--repeats 5] [--small 1000] [--large 100000] [--reminders 10000]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from benchmarks.common import (
    REPEATS,
    bulk_cycles,
    header,
    local,
    median,
    outcome,
    sqlite_store,
    temp_dir,
    timed,
    verdict,
)
from tsk_workflow.catalog import load_catalog, load_organisation, resolve_organisation_path
from tsk_workflow.engine.service import Engine
from tsk_workflow.engine.setup import load_organisation as load_into_store
from tsk_workflow.engine.ticker import Ticker, TickResult
from tsk_workflow.features import build_engine
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import OutboxMessage, Timer

NOW = local(dt.date(2027, 3, 10), 8, 5)


def loaded(folder: Path, name: str) -> tuple[Store, Engine]:
    store = sqlite_store(folder, name)
    catalog = load_catalog()
    org = load_organisation("herrljunga", catalog)
    at = local(dt.date(2027, 3, 1), 9)
    engine = build_engine(store, catalog, org, lambda: at)
    load_into_store(engine, resolve_organisation_path("herrljunga"))
    # Cycles due to open before NOW would be due: open them now, so that nothing is.
    Ticker({org.municipality: engine}).tick(NOW)
    return store, engine


def future_timers(task_id: int, due: dt.datetime) -> list[tuple[str, str, dt.datetime]]:
    return [
        ("due", "due", due),
        ("reminder:2wd", "reminder", due - dt.timedelta(days=2)),
        ("escalate", "escalation", due + dt.timedelta(days=3)),
    ]


def due_reminder(task_id: int, due: dt.datetime) -> list[tuple[str, str, dt.datetime]]:
    return [("reminder:1wd", "reminder", NOW - dt.timedelta(hours=1))]


def empty_ticks(store: Store, engine: Engine, ticks: int) -> float:
    """Median seconds of one tick with nothing due."""
    ticker = Ticker({engine.org.municipality: engine})
    times = []
    for _ in range(ticks):
        times.append(timed(lambda: ticker.tick(NOW)))
    result = ticker.tick(NOW)
    assert result.total == 0, result
    assert result.batches == 0, result
    return median(times)


def nothing_due(repeats: int, small: int = 1_000, large: int = 100_000) -> bool:
    with temp_dir() as folder:
        sizes = {}
        for cycles in (small, large):
            store, engine = loaded(folder, f"c{cycles}.db")
            made = bulk_cycles(
                store,
                "herrljunga",
                cycles,
                tasks_per_cycle=2,
                now=NOW - dt.timedelta(days=1),
                task_due=NOW + dt.timedelta(days=20),
                timers=future_timers,
            )
            with store.reading() as session:
                pending = session.scalar(
                    select(func.count()).select_from(Timer).where(Timer.status == "pending")
                )
            sizes[cycles] = (store, engine, made, pending)
        results: dict[int, list[float]] = {small: [], large: []}
        for _ in range(repeats):
            for cycles, (store, engine, _made, _pending) in sizes.items():
                results[cycles].append(empty_ticks(store, engine, 50))
        for cycles, (store, _engine, _made, pending) in sizes.items():
            print(
                f"   {cycles:>7} open cycles ({pending} pending timers): empty tick"
                f" {median(results[cycles]) * 1e6:.0f} us (median of {repeats} x 50)"
            )
            store.dispose()
    ratios = [b / a for a, b in zip(results[small], results[large], strict=True)]
    return verdict(f"empty tick {large:,} / {small:,} cycles", median(ratios), 1.5, at_least=False)


def one_tick(engine: Engine) -> tuple[float, float, TickResult]:
    """Seconds of one tick at NOW (wall, and this process's CPU time), and what it did."""
    ticker = Ticker({"herrljunga": engine}, worker="bench")
    done: list[TickResult] = []
    cpu = time.process_time()
    seconds = timed(lambda: done.append(ticker.tick(NOW)))
    cpu = time.process_time() - cpu
    return seconds, cpu, done[0]


def reminders(repeats: int, count: int = 10_000) -> bool:
    with temp_dir() as folder:
        store, engine = loaded(folder, "template.db")
        bulk_cycles(
            store,
            "herrljunga",
            count // 2,
            tasks_per_cycle=2,
            now=NOW - dt.timedelta(days=5),
            task_due=NOW + dt.timedelta(days=7),
            timers=due_reminder,
        )
        store.dispose()
        template = folder / "template.db"
        rates: list[float] = []
        cpu_rates: list[float] = []
        for _ in range(repeats):
            copy = folder / "copy.db"
            shutil.copyfile(template, copy)
            store = Store(f"sqlite:///{copy}")
            engine.store = store
            seconds, cpu, result = one_tick(engine)
            assert result.fired == {"reminder": count}, result
            with store.reading() as session:
                mails = session.scalar(select(func.count()).select_from(OutboxMessage))
            store.dispose()
            rates.append(count / seconds)
            cpu_rates.append(count / cpu)
        print(f"   {count} due reminders -> {mails} outbox rows")
        print(
            f"   {median(rates):.0f} reminders/s (median of {repeats};"
            f" {median(cpu_rates):.0f} per second of this process's CPU time)"
        )
    return verdict("reminders per second", median(rates), 5_000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--small", type=int, default=1_000, help="open cycles, the small database")
    parser.add_argument("--large", type=int, default=100_000, help="open cycles, the large one")
    parser.add_argument("--reminders", type=int, default=10_000, help="due reminders")
    args = parser.parse_args(argv)
    header(
        f"2. tick: nothing due ({args.small:,} vs {args.large:,} open cycles);"
        f" {args.reminders:,} due reminders; SQLite"
    )
    ok = nothing_due(args.repeats, args.small, args.large)
    ok &= reminders(args.repeats, args.reminders)
    return outcome(ok)


if __name__ == "__main__":
    sys.exit(main())
