"""Concurrency: ten processes act on the same cycles at once for a while (``TSK_STRESS_SECONDS``,
20 by default): completing tasks, advancing, proposing decisions, closing, ticking, listing.
Afterwards no update is lost, no act is half-written, every conflict was reported clearly (exit
1 and one line, no traceback), and the audit chain is one unbroken sequence. On both databases.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import REPO
from tests.dbfixtures import MakeStore
from tests.enginekit import est_periods
from tests.reliability.kit import (
    CHAIR,
    LATER,
    chain_ok,
    duplicate_events,
    environment,
    herrljunga,
    iso,
    replay_problems,
)
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, AuditPayload, Cycle, Decision, Task, Timer

# Many processes or much CPU at once: under pytest-xdist these share one worker, one at a
# time (--dist loadgroup), so that they do not starve each other or PostgreSQL's connections.
pytestmark = pytest.mark.xdist_group("processes")

WORKERS = 10
SECONDS = float(os.environ.get("TSK_STRESS_SECONDS", "20"))
CYCLES = 3
CONFLICT_WORDS = ("samtidigt", "upptagen", "försök igen")  # the workers speak Swedish


def start_workers(store: Store, logs: Path) -> list[subprocess.Popen[str]]:
    env = environment()
    epoch = time.time()  # the moment every worker's virtual clock reads LATER
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.reliability.stress_worker",
                store.url,
                str(SECONDS),
                str(1000 + index),
                str(logs / f"w{index}.jsonl"),
                iso(LATER),
                repr(epoch),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(WORKERS)
    ]


def read_logs(logs: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(logs.glob("w*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def payloads(store: Store, action: str) -> list[tuple[str, dict[str, Any]]]:
    with store.reading() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditPayload.payload)
            .join(AuditPayload, AuditPayload.seq == AuditEvent.seq)
            .where(AuditEvent.action == action)
        )
        return [(actor, payload) for actor, payload in rows]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_ten_processes_on_the_same_cycles(kind: str, make_store: MakeStore, tmp_path: Path) -> None:
    store = make_store(kind)
    world = herrljunga(store)
    for period in est_periods(CYCLES):
        world.engine.open_cycle(CHAIR, "est", period)

    began = time.perf_counter()
    workers = start_workers(store, tmp_path)
    for worker in workers:
        out, err = worker.communicate(timeout=SECONDS + 120)
        assert worker.returncode == 0, (out, err)
    elapsed = time.perf_counter() - began
    acts = read_logs(tmp_path)

    # Every outcome is clear: done, or refused/conflicting with one line and exit 1.
    unexpected = [a for a in acts if a["exception"] or a["exit"] not in (0, 1)]
    assert not unexpected, unexpected[:3]
    failed = [a for a in acts if a["exit"] == 1]
    for act in failed:
        lines = act["stderr"].splitlines()
        assert len(lines) == 1, act
        assert lines[0].startswith("tsk: "), act
        assert "Traceback" not in act["stderr"]
        assert "internal error" not in act["stderr"]
        assert "internt fel" not in act["stderr"]
    conflicts = [a for a in failed if any(w in a["stderr"] for w in CONFLICT_WORDS)]
    done = [a for a in acts if a["exit"] == 0]
    by_kind = Counter(a["kind"] for a in done)

    # The audit chain is one unbroken sequence: no gaps, no forks.
    verified = chain_ok(store)
    assert verified.ok, verified.problems
    with store.reading() as session:
        count, links, first, last = session.execute(
            select(
                func.count(AuditEvent.seq),
                func.count(func.distinct(AuditEvent.prev_hash)),
                func.min(AuditEvent.seq),
                func.max(AuditEvent.seq),
            )
        ).one()
    assert count == links == last - first + 1
    assert first == 1

    # No lost update: every task reported done is done, by whom and with the note given, once.
    task_done = payloads(store, "task.done")
    assert len(task_done) == by_kind["done"]
    assert Counter(p["task"] for _actor, p in task_done).most_common(1)[0][1] == 1
    with store.reading() as session:
        tasks = {t.id: t for t in session.scalars(select(Task))}
        decisions = list(session.scalars(select(Decision)))
        cycles = list(session.scalars(select(Cycle)))
        failed_timers = session.scalar(select(func.count(Timer.id)).where(Timer.status == "failed"))
    for act in (a for a in done if a["kind"] == "done"):
        task = tasks[int(act["args"][4])]
        assert (task.status, task.done_by, task.note) == ("done", act["args"][1], act["note"])
    for actor, payload in task_done:
        assert tasks[payload["task"]].status == "done"
        assert tasks[payload["task"]].done_by == actor
    # ... every advance and forced close reported done is in the trail, once ...
    advanced = [p for _a, p in payloads(store, "cycle.advanced") if not p["automatic"]]
    assert sorted(p["note"] for p in advanced) == sorted(
        a["note"] for a in done if a["kind"] == "advance"
    )
    forced = [p for _a, p in payloads(store, "cycle.closed") if p["forced"]]
    assert sorted(p["note"] for p in forced) == sorted(
        a["note"] for a in done if a["kind"] == "close"
    )
    # ... every decision reported proposed exists, once, with its event.
    assert sorted(d.title for d in decisions) == sorted(
        a["note"] for a in done if a["kind"] == "propose"
    )
    assert len(payloads(store, "decision.proposed")) == len(decisions)

    # ... every cycle reported opened exists once (its period is unique per process).
    opened = [json.loads(a["stdout"])["ref"] for a in done if a["kind"] == "open"]
    assert len(opened) == len(set(opened))
    assert set(opened) <= {c.ref for c in cycles}

    # No half-written act: each cycle is what its events say; open tasks are in open cycles'
    # current steps; no timer failed or fired twice.
    assert replay_problems(store) == []
    states = {c.id: (c.status, c.state) for c in cycles}
    for task in tasks.values():
        if task.status == "open":
            assert states[task.cycle_id] == ("open", task.step), task.id
    assert failed_timers == 0
    assert duplicate_events(store, ["task.overdue", "task.escalated", "cycle.opened"]) == {}

    figures = {
        "database": kind,
        "workers": WORKERS,
        "seconds": SECONDS,
        "wall_s": round(elapsed, 1),
        "commands": len(acts),
        "done": dict(sorted(by_kind.items())),
        "refused": len(failed) - len(conflicts),
        "conflicts": len(conflicts),
        "events": verified.checked,
        "cycles": len(cycles),
        "refusals": dict(
            Counter(re.sub(r"[0-9]+", "N", a["stderr"])[5:55] for a in failed).most_common(6)
        ),
        "slowest_s": max(a["seconds"] for a in acts),
    }
    print("\nstress figures:", json.dumps(figures))
