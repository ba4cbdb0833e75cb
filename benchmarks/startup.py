"""5. Command start-up: every ``tsk`` command is a new process, so start-up is what a user feels.

Two comparisons, each of repeated runs of new processes (with ``hyperfine`` when it is installed,
in blocks of five runs, the two commands taking turns block by block; otherwise with
``subprocess`` and a wall clock, run by run), the runs of a pair interleaved so that a drift in
the machine's speed falls on both:

- ``tsk --help`` against ``python -c pass`` (the same interpreter): median ratio, target <= 4;
- ``tsk task list --json`` on a SQLite database with 10,000 open tasks (in 500 cycles of the
  shipped Herrljunga organisation, created in bulk after ``tsk init``) against
  ``python -c "import sqlalchemy.orm"``: median ratio, target <= 1.3.

Run: ``python -m benchmarks.startup [--runs 30] [--tasks 10000]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import insert, select

from benchmarks.common import header, median, outcome, temp_dir, verdict
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Cycle, Task, TaskAssignee

PYTHON = sys.executable
TSK = str(Path(PYTHON).with_name("tsk"))


def make_database(folder: Path, tasks: int) -> Path:
    """``tsk init`` for Herrljunga, then ``tasks`` open tasks in bulk (20 per cycle)."""
    database = folder / "tsk.db"
    env = {**os.environ, "TSK_DATABASE_URL": str(database), "TSK_ORG": "herrljunga"}
    subprocess.run([TSK, "init", "--json"], check=True, env=env, capture_output=True)
    store = Store(f"sqlite:///{database}")
    now = dt.datetime(2027, 3, 1, 8, tzinfo=dt.UTC)
    per_cycle = 20
    people = ["jessica.wahlstrom", "hanna.nyberg", "erik.sundin", "lars.hedlund"]
    with store.transaction() as session:
        conn = session.connection()
        for number in range(tasks // per_cycle):
            cycle_id = conn.execute(
                insert(Cycle.__table__).values(
                    ref=f"est-bench-{number}",
                    municipality="herrljunga",
                    process="est",
                    process_version=1,
                    period=f"b{number}",
                    subject="",
                    title=f"EST {number}",
                    state="lagesbild",
                    status="open",
                    group_key="est",
                    opened_at=now,
                    opened_by="tsk",
                    step_entered_at=now,
                    forced=False,
                    late=False,
                    version=1,
                )
            ).inserted_primary_key[0]
            rows = [
                {
                    "cycle_id": cycle_id,
                    "municipality": "herrljunga",
                    "step": "lagesbild",
                    "key": f"uppgift_{i}",
                    "role": "sakerhetschef",
                    "title": f"Uppgift {i} i cykel {number}",
                    "required": True,
                    "status": "open",
                    "created_at": now,
                    "due_at": now + dt.timedelta(days=i, hours=number % 24),
                }
                for i in range(per_cycle)
            ]
            conn.execute(insert(Task.__table__), rows)
        ids = list(conn.scalars(select(Task.__table__.c.id)))
        conn.execute(
            insert(TaskAssignee.__table__),
            [{"task_id": i, "person": people[i % len(people)]} for i in ids]
            + [{"task_id": i, "person": people[(i + 1) % len(people)]} for i in ids[::3]],
        )
    store.dispose()
    return database


BLOCK = 5
"""Runs of each command in one hyperfine call; the calls alternate the order of the commands,
so that a machine whose speed drifts (a shared virtual machine) slows both alike."""


def hyperfine(commands: list[str], runs: int, env: dict[str, str]) -> list[float]:
    """Median seconds of each command over all its runs, measured by hyperfine in blocks of
    ``BLOCK`` runs, the commands taking turns block by block."""
    times: list[list[float]] = [[] for _ in commands]
    for block in range(-(-runs // BLOCK)):
        order = list(range(len(commands)))[:: 1 if block % 2 == 0 else -1]
        measured = _hyperfine([commands[i] for i in order], BLOCK, env, warmup=3 if block else 5)
        for index, seconds in zip(order, measured, strict=True):
            times[index] += seconds
    return [median(t) for t in times]


def _hyperfine(
    commands: list[str], runs: int, env: dict[str, str], warmup: int
) -> list[list[float]]:
    """Each command's run times (seconds) from one hyperfine call."""
    with temp_dir() as folder:
        out = folder / "hf.json"
        subprocess.run(
            ["hyperfine", "-N", "--warmup", str(warmup), "--runs", str(runs)]
            + ["--export-json", str(out), *commands],
            check=True,
            env=env,
            capture_output=True,
        )
        results = json.loads(out.read_text())["results"]
    return [[float(t) for t in r["times"]] for r in results]


def by_hand(argvs: list[list[str]], runs: int, env: dict[str, str]) -> list[float]:
    """Median seconds of each command, runs interleaved, measured with subprocess."""
    times: list[list[float]] = [[] for _ in argvs]
    for round_ in range(runs + 3):
        for index, argv in enumerate(argvs):
            start = time.perf_counter()
            subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
            if round_ >= 3:
                times[index].append(time.perf_counter() - start)
    return [median(t) for t in times]


def measure(argvs: list[list[str]], runs: int, env: dict[str, str]) -> list[float]:
    if shutil.which("hyperfine"):
        import shlex

        return hyperfine([shlex.join(a) for a in argvs], runs, env)
    return by_hand(argvs, runs, env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args(argv)
    header("5. command start-up")
    tool = "hyperfine" if shutil.which("hyperfine") else "subprocess"
    print(f"   measured with {tool}, {args.runs} runs each, interleaved, after warm-up runs")
    ok = True
    with temp_dir() as folder:
        env = {**os.environ, "TSK_DATABASE_URL": "", "TSK_ORG": ""}
        env.pop("TSK_DEBUG", None)
        python, helped = measure([[PYTHON, "-c", "pass"], [TSK, "--help"]], args.runs, env)
        print(f"   python -c pass {python * 1000:.1f} ms, tsk --help {helped * 1000:.1f} ms")
        ok &= verdict("tsk --help / python -c pass", helped / python, 4, at_least=False)
        database = make_database(folder, args.tasks)
        env = {**os.environ, "TSK_DATABASE_URL": str(database), "TSK_ORG": "herrljunga"}
        listed = subprocess.run(
            [TSK, "task", "list", "--json"], check=True, env=env, capture_output=True, text=True
        )
        count = len(json.loads(listed.stdout))
        orm, tasks = measure(
            [[PYTHON, "-c", "import sqlalchemy.orm"], [TSK, "task", "list", "--json"]],
            args.runs,
            env,
        )
        print(
            f"   import sqlalchemy.orm {orm * 1000:.1f} ms, tsk task list --json ({count} tasks)"
            f" {tasks * 1000:.1f} ms"
        )
        ok &= verdict(
            "tsk task list --json / import sqlalchemy.orm", tasks / orm, 1.3, at_least=False
        )
    return outcome(ok)


if __name__ == "__main__":
    sys.exit(main())
