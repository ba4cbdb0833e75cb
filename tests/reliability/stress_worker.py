"""One of the processes of the concurrency test: for a while, act on the cycles through the
``tsk`` command line (in this process, with click's runner) as the right people would, and log
every outcome as a line of JSON.

    python -m tests.reliability.stress_worker DB_URL SECONDS SEED LOG NOW EPOCH

Every process reads one virtual clock: NOW at the wall-clock moment EPOCH (``time.time()``),
going ``SPEED`` times as fast as the wall clock. Processes that shared a server would share its
clock, so the audit trail's times go forward across all of them (``audit verify`` reports a
time going back by more than the tolerated clock skew).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from tests.enginekit import est_periods
from tsk_workflow.catalog import load_catalog, load_organisation
from tsk_workflow.cli import cli
from tsk_workflow.engine.directory import Directory
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Cycle, Task

WEIGHTS = {"done": 38, "advance": 22, "propose": 12, "tick": 10, "open": 6, "close": 3, "show": 9}
PERIODS = 12
"""Cycles are opened for a few periods only, so that two workers often open the same one."""
SPEED = 10
"""Virtual seconds per wall-clock second: a command that takes 3 s under load is 30 s of
virtual time, well within the clock skew ``audit verify`` tolerates."""


class Worker:
    def __init__(self, url: str, seed: int, now: dt.datetime, epoch: float) -> None:
        self.url = url
        self.rng = random.Random(seed)
        self.start, self.epoch = now, epoch
        self.store = Store(url)
        self.catalog = load_catalog()
        self.org = load_organisation("herrljunga", self.catalog)
        self.directory = Directory(self.org)
        self.runner = CliRunner(env={"TSK_DATABASE_URL": None, "TSK_USER": None})

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=(time.time() - self.epoch) * SPEED)

    def state(self) -> tuple[list[tuple[int, str, str]], list[tuple[int, list[str], str, str]]]:
        """The open cycles (id, process, state) and open tasks (id, assignees, process, key)."""
        with self.store.reading() as session:
            cycles = [
                (c.id, c.process, c.state)
                for c in session.scalars(select(Cycle).where(Cycle.status == "open"))
            ]
            tasks = [
                (t.id, t.assignee_ids, t.cycle.process, t.key)
                for t in session.scalars(select(Task).where(Task.status == "open"))
            ]
        return cycles, tasks

    def chair(self, process: str) -> str:
        return self.rng.choice(self.directory.chairs(self.directory.group_of(process)))

    def command(self) -> tuple[str, list[str], str | None]:
        """What to do next: (kind, arguments, the note or title it carries)."""
        kind = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        cycles, tasks = self.state()
        note = f"w{self.rng.randrange(10**9):09d}"
        if kind == "done" and tasks:
            task_id, assignees, process, key = self.rng.choice(tasks)
            who = self.rng.choice([*assignees, self.chair(process)])
            args = ["--as", who, "task", "done", str(task_id), "--note", note]
            # EST's reporters answer a form: with nothing to report, as the note says
            return kind, [*args, "--nothing-to-report"] if key == "rapport" else args, note
        if kind == "advance" and cycles:
            cycle_id, process, state = self.rng.choice(cycles)
            triggers = self.catalog.compiled(process).allowed_triggers(state) or ["avsluta"]
            trigger = self.rng.choice(triggers)
            args = ["cycle", "advance", str(cycle_id), trigger, "--note", note]
            return kind, ["--as", self.chair(process), *args], note
        if kind == "propose" and cycles:
            cycle_id, process, _state = self.rng.choice(cycles)
            cost = str(self.rng.choice([500, 20_000, 250_000, 2_000_000]))
            args = ["decision", "propose", str(cycle_id), "--title", note, "--cost", cost]
            return kind, ["--as", self.chair(process), *args], note
        if kind == "close" and cycles:
            cycle_id, process, _state = self.rng.choice(cycles)
            args = ["cycle", "close", str(cycle_id), "--force", "--note", note]
            return kind, ["--as", self.chair(process), *args], note
        if kind == "open":
            period = est_periods(PERIODS, 2030)[self.rng.randrange(PERIODS)]
            args = ["cycle", "open", "est", "--period", period]
            return kind, ["--as", self.chair("est"), *args], None
        if kind == "tick":
            return kind, ["tick", "--no-send", "--now", self.now().isoformat()], None
        return "show", ["cycle", "list", "--open"], None

    def act(self) -> dict[str, Any]:
        kind, args, note = self.command()
        began = time.perf_counter()
        result = self.runner.invoke(
            cli,
            ["--db", self.url, "--org", "herrljunga", *args, "--json"],
            env={"TSK_NOW": self.now().isoformat()},
        )
        exception = result.exception
        unexpected = exception is not None and not isinstance(exception, SystemExit)
        return {
            "kind": kind,
            "args": args,
            "note": note,
            "exit": result.exit_code,
            "stdout": result.stdout if result.exit_code == 0 else "",
            "stderr": result.stderr,
            "exception": "".join(traceback.format_exception(exception)) if unexpected else None,
            "seconds": round(time.perf_counter() - began, 3),
        }


def main(argv: list[str]) -> int:
    url, seconds, seed, log, now, epoch = argv
    worker = Worker(url, int(seed), dt.datetime.fromisoformat(now), float(epoch))
    deadline = time.monotonic() + float(seconds)
    with Path(log).open("w", encoding="utf-8") as out:
        while time.monotonic() < deadline:
            out.write(json.dumps(worker.act(), ensure_ascii=False) + "\n")
            out.flush()
    worker.store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
