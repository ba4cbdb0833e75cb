"""3. National year: 290 municipalities on one SQLite database, one simulated year through tick.

The 290 organisations are copies of the four shipped ones (round robin), each under a new key
with new people ids and e-mail addresses (``benchmarks.common.clone_org``), running every
process its seed runs. They are loaded as ``tsk init`` loads one (``engine.setup``: the
organisation row, the year's planned openings as timers, the ``organisation.loaded`` event) on
15 December of the year before. Then one ``Ticker`` over all 290 engines ticks once a day at
08:05 local time from 1 January to 31 December. Only the scheduler acts (no people): cycles open
on their dates, tasks are created and mailed, reminders, overdue notices and escalations fire,
timed transitions move cycles on, and on 1 December the next year is planned. Mail is queued in
the outbox, not sent.

Printed: cycles, tasks, timers and mails handled; the year's wall time and the peak memory
(``ru_maxrss`` of this process, which is the whole run: setup, year and counting). Targets:
under 60 s and under 400 MB on this machine.

Run: ``python -m benchmarks.national_year [--municipalities 290] [--year 2027]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from benchmarks.common import (
    clone_org,
    header,
    local,
    organisation,
    outcome,
    seed_data,
    sqlite_store,
    temp_dir,
    verdict,
)
from tsk_workflow import audit
from tsk_workflow.catalog import load_catalog
from tsk_workflow.engine.service import Engine
from tsk_workflow.engine.setup import load_organisation as load_into_store
from tsk_workflow.engine.ticker import Ticker, TickResult
from tsk_workflow.features import build_engine
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, Cycle, OutboxMessage, Task, Timer


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def build(store: Store, folder: Path, count: int, clock: Clock) -> dict[str, Engine]:
    """``count`` organisations loaded into ``store``; their engines by key."""
    catalog = load_catalog()
    seeds = [data for _key, data in sorted(seed_data().items())]
    engines: dict[str, Engine] = {}
    for number in range(count):
        data = clone_org(seeds[number % len(seeds)], number)
        path = folder / f"{data['municipality']}.yaml"
        path.write_text(json.dumps(data, default=str, ensure_ascii=False), encoding="utf-8")
        org = organisation(data, catalog, path)
        engine = build_engine(store, catalog, org, clock)
        load_into_store(engine, path)
        engines[org.municipality] = engine
    return engines


def run_year(engines: dict[str, Engine], clock: Clock, year: int) -> TickResult:
    ticker = Ticker(engines, worker="bench")
    total = TickResult()
    day = dt.date(year, 1, 1)
    while day.year == year:
        clock.now = local(day, 8, 5)
        total.merge(ticker.tick(clock.now))
        day += dt.timedelta(days=1)
    return total


def counts(store: Store) -> dict[str, object]:
    with store.reading() as session:

        def count(model: object, *where: object) -> int:
            query = select(func.count()).select_from(model)  # type: ignore[arg-type]
            return int(session.scalar(query.where(*where)) or 0)

        timers = Counter(
            {
                f"{kind} {status}": int(n)
                for kind, status, n in session.execute(
                    select(Timer.kind, Timer.status, func.count()).group_by(
                        Timer.kind, Timer.status
                    )
                )
            }
        )
        return {
            "cycles": count(Cycle),
            "cycles closed": count(Cycle, Cycle.status == "closed"),
            "tasks": count(Task),
            "timers": sum(timers.values()),
            "timers fired": sum(n for k, n in timers.items() if k.endswith(" fired")),
            "mails queued": count(OutboxMessage),
            "audit events": count(AuditEvent),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--municipalities", type=int, default=290)
    parser.add_argument("--year", type=int, default=2027)
    parser.add_argument("--verify", action="store_true", help="also verify the audit chain")
    args = parser.parse_args(argv)
    header(f"3. national year: {args.municipalities} municipalities, {args.year}, SQLite")
    with temp_dir() as folder:
        store = sqlite_store(folder)
        clock = Clock(local(dt.date(args.year - 1, 12, 15), 10))
        start = time.perf_counter()
        engines = build(store, folder, args.municipalities, clock)
        setup = time.perf_counter() - start
        print(f"   setup (generate, validate and load {len(engines)} organisations): {setup:.1f} s")
        sys.stdout.flush()
        start = time.perf_counter()
        result = run_year(engines, clock, args.year)
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        found = counts(store)
        print(f"   fired by tick: {dict(sorted(result.fired.items()))}")
        print(
            f"   without effect {result.skipped}, failed {result.failed}, batches {result.batches}"
        )
        print(f"   handled: {found}")
        if args.verify:
            with store.reading() as session:
                print(f"   audit: {audit.verify(session).reason}")
        size = sum(p.stat().st_size for p in folder.glob("tsk.db*")) / 1e6
        print(f"   database: {size:.0f} MB")
        store.dispose()
    print(f"   year: {seconds:.1f} s ({365 / seconds:.1f} days/s), peak memory {peak_mb:.0f} MB")
    scale = 290 / args.municipalities
    if scale != 1:
        print(f"   (scaled to 290 municipalities: about {seconds * scale:.0f} s)")
    ok = verdict("year seconds", seconds * scale, 60, at_least=False)
    ok &= verdict("peak MB", peak_mb, 400, at_least=False)
    return outcome(ok)


if __name__ == "__main__":
    sys.exit(main())
