"""1. Persisted steps: tsk's ``Engine.advance`` against the same writes in SQLAlchemy Core, and
against SpiffWorkflow saving its serialised workflow after each step.

What is compared (all on SQLite, a file, with the store's settings: WAL, ``synchronous=NORMAL``,
``BEGIN IMMEDIATE``): N cycles of a five-step process are each advanced through their five
transitions to the end, one transaction per step.

- **tsk**: a benchmark-only definition, ``samverkan_bench``, with samverkan's five steps (and its
  final step) and one transition each, fired by the chair. Each step has one task for the chair
  (not required, no due date), so that entering a step queues one mail (``task_assigned``), the
  outbox row. An advance is then, in one transaction: the cycle's state and version updated, the
  step's open task cancelled, the ``cycle.advanced`` audit event (hash-chained) and its payload,
  the new step's task and its assignee, and the outbox row. The last advance enters the final
  step and so also closes the cycle: a ``cycle.closed`` event and its payload, and one
  ``cycle_closed`` mail per chair (the chair and the deputy).
- **(a) Core**: the same rows, the same values where it matters (hash chain, JSON payloads,
  outbox contexts), the same optimistic version check, written with SQLAlchemy Core statements in
  one transaction per step: the floor for this design.
- **(b) SpiffWorkflow 3**: a BPMN process of five user tasks; each step completes the ready user
  task, runs the engine, serialises the workflow (``BpmnWorkflowSerializer``) and saves it to a
  table in its own SQLite transaction (same settings). It writes no audit trail and no mail.

The three take turns, ten cycles each, all through a round (so that the load of a shared
machine falls on all three alike); each one's time is the sum of its turns. The benchmark checks
that tsk and Core wrote the same number of rows of each kind. Also printed: the floor (a) over
(b), which bounds tsk over (b): tsk writes the same rows as the floor, with more work around them.

Run: ``python -m benchmarks.steps [--cycles N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from benchmarks.common import (
    REPEATS,
    catalog_with,
    definition_from_text,
    header,
    median,
    organisation,
    outcome,
    seed_data,
    sqlite_store,
    temp_dir,
    timed,
    verdict,
)
from tsk_workflow import audit, messages
from tsk_workflow.engine import mailctx
from tsk_workflow.engine.service import Engine
from tsk_workflow.features import build_engine
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import (
    AuditEvent,
    AuditPayload,
    Cycle,
    OutboxMessage,
    Task,
    TaskAssignee,
    Timer,
)

PROCESS = "samverkan_bench"
STEPS = (
    ("initiera_och_inga_samverkan", "till_egna_forberedelser"),
    ("egna_forberedelser", "till_gemensamma_forberedelser"),
    ("gemensamma_forberedelser", "till_genomforande"),
    ("genomforande", "till_uppfoljning"),
    ("uppfoljning", "avsluta"),
)
FINAL = "avslutad"


def definition_yaml() -> str:
    steps = []
    for number, (key, _trigger) in enumerate(STEPS, 1):
        steps.append(
            f"""  - key: {key}
    title: {{sv: Steg {number}, en: Step {number}}}
    tasks:
      - key: steg_{number}
        title: {{sv: Arbeta i steg {number}, en: Work in step {number}}}
        role: chair
        required: false
"""
        )
    transitions = []
    for index, (key, trigger) in enumerate(STEPS):
        dest = STEPS[index + 1][0] if index + 1 < len(STEPS) else FINAL
        transitions.append(f"  - {{trigger: {trigger}, from: {key}, to: {dest}}}\n")
    return (
        f"key: {PROCESS}\nversion: 1\n"
        "title: {sv: Samverkan i fem steg (mätning), en: Collaboration in five steps (benchmark)}\n"
        "chair: samordnare\nroles: [kommunpolis, kommunchef]\nsubject: period\n"
        "schedule: {kind: manual}\n"
        "steps:\n" + "".join(steps) + f"  - key: {FINAL}\n    title: {{sv: Avslutad, en: Closed}}\n"
        "transitions:\n" + "".join(transitions) + f"final: [{FINAL}]\n"
    )


def bench_engine(store: Store, folder: Path) -> Engine:
    definition = definition_from_text(definition_yaml(), f"{PROCESS}.yaml")
    catalog = catalog_with(definition)
    data = seed_data()["tingsryd"]
    data["processes"] = {
        **data["processes"],
        PROCESS: {"group": "trygg_i_tingsryd"},
    }
    for group in data["groups"]:
        if group["key"] == "trygg_i_tingsryd":
            group.pop("deputy", None)  # one chair: one assignee and one mail per step
    org = organisation(data, catalog, folder / "tingsryd.yaml")
    now = dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)
    return build_engine(store, catalog, org, lambda: now)


def open_cycles(engine: Engine, count: int) -> list[int]:
    chair = engine.directory.group_of(PROCESS).chair
    return [engine.open_cycle(chair, PROCESS, f"p{i}").id for i in range(count)]


TABLES = {
    "cycles": Cycle,
    "tasks": Task,
    "task_assignees": TaskAssignee,
    "audit_events": AuditEvent,
    "audit_payloads": AuditPayload,
    "outbox": OutboxMessage,
    "timers": Timer,
}


def row_counts(store: Store) -> dict[str, int]:
    with store.reading() as session:
        return {
            name: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in TABLES.items()
        }


def status_counts(store: Store) -> dict[str, int]:
    with store.reading() as session:
        rows = session.execute(select(Task.status, func.count()).group_by(Task.status))
        cycles = session.execute(select(Cycle.status, func.count()).group_by(Cycle.status))
        return {f"tasks {k}": int(v) for k, v in rows} | {f"cycles {k}": int(v) for k, v in cycles}


# ---------------------------------------------------------------- tsk


def run_tsk(engine: Engine, cycles: list[int]) -> None:
    chair = engine.directory.group_of(PROCESS).chair
    for cycle_id in cycles:
        for _key, trigger in STEPS:
            engine.advance(chair, cycle_id, trigger)


# ---------------------------------------------------------------- (a) SQLAlchemy Core


def run_core(engine: Engine, cycles: list[int]) -> None:
    """The rows ``Engine.advance`` writes, with prepared Core statements: the floor."""
    org, store = engine.org, engine.store
    definition = engine.catalog.definition(PROCESS)
    group = engine.directory.group_of(PROCESS)
    chair = group.chair
    people = [p for p in (org.person(c) for c in engine.directory.chairs(group)) if p]
    now = engine.clock()
    cycles_t, tasks_t, timers_t = Cycle.__table__, Task.__table__, Timer.__table__
    read_cycle = select(
        cycles_t.c.ref, cycles_t.c.title, cycles_t.c.period, cycles_t.c.subject, cycles_t.c.version
    ).where(cycles_t.c.id == bindparam("cid"))
    move = (
        update(cycles_t)
        .where(cycles_t.c.id == bindparam("cid"), cycles_t.c.version == bindparam("old"))
        .values(state=bindparam("state"), step_entered_at=bindparam("at"), version=bindparam("new"))
    )
    open_tasks = select(tasks_t.c.id).where(
        tasks_t.c.cycle_id == bindparam("cid"),
        tasks_t.c.status == "open",
        tasks_t.c.step == bindparam("step"),
    )
    cancel_tasks = (
        update(tasks_t)
        .where(tasks_t.c.id.in_(bindparam("ids", expanding=True)))
        .values(status="cancelled")
    )
    cancel_task_timers = (
        update(timers_t)
        .where(
            timers_t.c.status == "pending", timers_t.c.task_id.in_(bindparam("ids", expanding=True))
        )
        .values(status="cancelled")
    )
    cancel_step_timers = (
        update(timers_t)
        .where(
            timers_t.c.cycle_id == bindparam("cid"),
            timers_t.c.kind == "transition",
            timers_t.c.status == "pending",
        )
        .values(status="cancelled")
    )
    new_task = insert(tasks_t)
    new_assignee = insert(TaskAssignee.__table__)
    close = (
        update(cycles_t)
        .where(cycles_t.c.id == bindparam("cid"))
        .values(status="closed", closed_at=bindparam("at"), closed_by=bindparam("by"), forced=False)
    )
    dests = [STEPS[i + 1][0] if i + 1 < len(STEPS) else FINAL for i in range(len(STEPS))]
    for cycle_id in cycles:
        for index, (step, trigger) in enumerate(STEPS):
            dest = dests[index]
            with store.engine.begin() as conn:
                row = conn.execute(read_cycle, {"cid": cycle_id}).one()
                done = conn.execute(
                    move,
                    {
                        "cid": cycle_id,
                        "old": row.version,
                        "new": row.version + 1,
                        "state": dest,
                        "at": now,
                    },
                )
                assert done.rowcount == 1
                open_ids = list(conn.scalars(open_tasks, {"cid": cycle_id, "step": step}))
                conn.execute(cancel_tasks, {"ids": open_ids})
                conn.execute(cancel_task_timers, {"ids": open_ids})
                conn.execute(cancel_step_timers, {"cid": cycle_id})
                payload = {
                    "trigger": trigger,
                    "from": step,
                    "to": dest,
                    "note": None,
                    "automatic": False,
                    "cancelled_tasks": open_ids,
                }
                _core_audit(
                    conn, org.municipality, chair, "chair", "cycle.advanced", cycle_id, payload, now
                )
                cycle_ctx = {
                    "id": cycle_id,
                    "ref": row.ref,
                    "title": row.title,
                    "period": row.period,
                    "subject": row.subject,
                }
                if dest != FINAL:
                    task_def = definition.step(dest).tasks[0]
                    task_id = conn.execute(
                        new_task,
                        {
                            "cycle_id": cycle_id,
                            "municipality": org.municipality,
                            "step": dest,
                            "key": task_def.key,
                            "role": task_def.role,
                            "title": task_def.title.sv,
                            "required": False,
                            "status": "open",
                            "created_at": now,
                            "due_at": None,
                        },
                    ).inserted_primary_key[0]
                    conn.execute(
                        new_assignee, [{"task_id": task_id, "person": p.id} for p in people]
                    )
                    context = {
                        "task": {
                            "id": task_id,
                            "key": task_def.key,
                            "title": mailctx.label(task_def.title),
                            "description": "",
                            "role": task_def.role,
                            "due": None,
                            "step": mailctx.label(definition.step(dest).title),
                        },
                        "cycle": cycle_ctx,
                        "process": mailctx.process_ctx(definition),
                        "command": mailctx.tsk(
                            org, "task", "done", str(task_id), "--note", '"..."'
                        ),
                    }
                    _core_outbox(
                        conn,
                        org,
                        people,
                        "task_assigned",
                        f"task:{task_id}:assigned",
                        context,
                        now,
                        cycle_id,
                        task_id,
                    )
                else:
                    conn.execute(close, {"cid": cycle_id, "at": now, "by": chair})
                    closed = {"state": FINAL, "forced": False, "note": None, "cancelled_tasks": []}
                    _core_audit(
                        conn,
                        org.municipality,
                        chair,
                        "chair",
                        "cycle.closed",
                        cycle_id,
                        closed,
                        now,
                    )
                    context = {
                        "cycle": cycle_ctx,
                        "process": mailctx.process_ctx(definition),
                        "closed_by": mailctx.name_of(org, chair),
                        "note": "",
                        "forced": False,
                        "command": mailctx.tsk(org, "cycle", "show", row.ref),
                    }
                    _core_outbox(
                        conn,
                        org,
                        people,
                        "cycle_closed",
                        f"cycle:{cycle_id}:closed",
                        context,
                        now,
                        cycle_id,
                        None,
                    )


_HEAD = (
    select(AuditEvent.__table__.c.seq, AuditEvent.__table__.c.hash)
    .order_by(AuditEvent.__table__.c.seq.desc())
    .limit(1)
)


def _core_audit(
    conn: Any,
    municipality: str,
    actor: str,
    role: str,
    action: str,
    cycle_id: int,
    payload: dict[str, Any],
    now: dt.datetime,
) -> None:
    head = conn.execute(_HEAD).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, audit.GENESIS)
    stored = json.loads(audit.canonical(payload))
    fields = {
        "seq": seq,
        "at": now,
        "municipality": municipality,
        "actor": actor,
        "role": role,
        "action": action,
        "subject": f"cycle:{cycle_id}",
        "cycle_id": cycle_id,
        "payload_digest": audit.digest(stored),
        "prev_hash": prev,
    }
    conn.execute(insert(AuditEvent.__table__), {**fields, "hash": audit._chain_hash(fields)})
    conn.execute(insert(AuditPayload.__table__), {"seq": seq, "payload": stored})


def _core_outbox(
    conn: Any,
    org: Any,
    people: list[Any],
    template: str,
    key: str,
    context: dict[str, Any],
    now: dt.datetime,
    cycle_id: int,
    task_id: int | None,
) -> None:
    rows = []
    for person in people:
        digest = template in messages.DIGESTIBLE and messages.wants_digest(person, org)
        rows.append(
            {
                "message_id": messages.message_id(org, key, person.id),
                "municipality": org.municipality,
                "recipient": person.id,
                "email": person.email,
                "language": person.language,
                "template": template,
                "context": messages.personal(context, person, org),
                "status": "digest" if digest else "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "cycle_id": cycle_id,
                "task_id": task_id,
            }
        )
    conn.execute(insert(OutboxMessage.__table__), rows)


# ---------------------------------------------------------------- (b) SpiffWorkflow


def spiff_bpmn() -> str:
    tasks = "".join(
        f'<bpmn:userTask id="{key}" name="Steg {i}" />' for i, (key, _t) in enumerate(STEPS, 1)
    )
    ids = ["start", *(key for key, _t in STEPS), "end"]
    flows = "".join(
        f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}" />'
        for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'id="defs" targetNamespace="http://bpmn.io/schema/bpmn">'
        f'<bpmn:process id="{PROCESS}" isExecutable="true">'
        '<bpmn:startEvent id="start" />'
        f"{tasks}"
        '<bpmn:endEvent id="end" />'
        f"{flows}"
        "</bpmn:process></bpmn:definitions>"
    )


class Spiff:
    """SpiffWorkflow's side: ``count`` workflows saved in SQLite, advanced a chunk at a time."""

    def __init__(self, folder: Path, count: int) -> None:
        from SpiffWorkflow.bpmn import BpmnWorkflow
        from SpiffWorkflow.bpmn.parser import BpmnParser
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
        from sqlalchemy import Column, Integer, MetaData, Table, Text

        from tsk_workflow.store.database import make_engine

        path = folder / "spiff.bpmn"
        path.write_text(spiff_bpmn(), encoding="utf-8")
        parser = BpmnParser()
        parser.add_bpmn_file(str(path))
        spec = parser.get_spec(PROCESS)
        self.serializer = BpmnWorkflowSerializer()
        self.engine = make_engine(f"sqlite:///{folder / 'spiff.db'}")
        meta = MetaData()
        self.table = Table(
            "workflows", meta, Column("id", Integer, primary_key=True), Column("state", Text)
        )
        meta.create_all(self.engine)
        self.ids = []
        with self.engine.begin() as conn:
            for _ in range(count):
                workflow = BpmnWorkflow(spec)
                workflow.do_engine_steps()
                state = self.serializer.serialize_json(workflow)
                inserted = conn.execute(insert(self.table).values(state=state))
                self.ids.append(inserted.inserted_primary_key[0])

    def run(self, ids: list[int]) -> int:
        """Each workflow's five steps: load, complete the ready task, save. Returns the steps."""
        from SpiffWorkflow.util.task import TaskState

        table, serializer = self.table, self.serializer
        done = 0
        for workflow_id in ids:
            for _ in STEPS:
                with self.engine.begin() as conn:
                    state = conn.execute(
                        select(table.c.state).where(table.c.id == workflow_id)
                    ).scalar_one()
                    workflow = serializer.deserialize_json(state)
                    ready = workflow.get_tasks(state=TaskState.READY, manual=True)
                    ready[0].run()
                    workflow.do_engine_steps()
                    conn.execute(
                        update(table)
                        .where(table.c.id == workflow_id)
                        .values(state=serializer.serialize_json(workflow))
                    )
                done += 1
        return done


# ---------------------------------------------------------------- the run


CHUNK = 10
"""Cycles each contender advances before the next one's turn: the three take turns all through
a round, so that a change of load on a shared machine falls on all three alike."""


def one_round(count: int) -> dict[str, float]:
    with temp_dir() as folder:
        tsk_store = sqlite_store(folder, "tsk.db")
        core_store = sqlite_store(folder, "core.db")
        tsk_engine = bench_engine(tsk_store, folder)
        core_engine = bench_engine(core_store, folder)
        tsk_cycles = open_cycles(tsk_engine, count)
        core_cycles = open_cycles(core_engine, count)
        spiff = Spiff(folder, count)
        before = row_counts(tsk_store)
        assert before == row_counts(core_store)
        seconds = {"tsk": 0.0, "core": 0.0, "spiff": 0.0}
        for start in range(0, count, CHUNK):
            part = slice(start, start + CHUNK)
            seconds["tsk"] += timed(partial(run_tsk, tsk_engine, tsk_cycles[part]))
            seconds["core"] += timed(partial(run_core, core_engine, core_cycles[part]))
            seconds["spiff"] += timed(partial(spiff_steps_of, spiff, spiff.ids[part]))
        after_tsk, after_core = row_counts(tsk_store), row_counts(core_store)
        if after_tsk != after_core or status_counts(tsk_store) != status_counts(core_store):
            raise SystemExit(f"not the same writes: tsk {after_tsk}, core {after_core}")
        with tsk_store.reading() as session:
            assert audit.verify(session).ok
        with core_store.reading() as session:
            assert audit.verify(session).ok
        written = {k: after_tsk[k] - before[k] for k in after_tsk}
        tsk_store.dispose()
        core_store.dispose()
        spiff.engine.dispose()
    steps = count * len(STEPS)
    return {
        "tsk": steps / seconds["tsk"],
        "core": steps / seconds["core"],
        "spiff": steps / seconds["spiff"],
        **{f"rows {k}": float(v) for k, v in written.items()},
    }


def spiff_steps_of(spiff: Spiff, ids: list[int]) -> None:
    if spiff.run(ids) != len(ids) * len(STEPS):
        raise SystemExit("SpiffWorkflow did not take every step")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200, help="cycles per round (5 steps each)")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args(argv)
    header(f"1. persisted steps: {args.cycles} cycles x {len(STEPS)} steps, SQLite")
    rounds = []
    for number in range(args.repeats):
        rounds.append(one_round(args.cycles))
        r = rounds[-1]
        print(
            f"   round {number + 1}: tsk {r['tsk']:.0f} steps/s, core {r['core']:.0f},"
            f" spiff {r['spiff']:.0f}"
        )
        sys.stdout.flush()
    rows = {k[5:]: int(v) for k, v in rounds[0].items() if k.startswith("rows ")}
    print(f"   rows written by each of tsk and core (the same): {rows}")
    tsk, core, spiff = (median([r[k] for r in rounds]) for k in ("tsk", "core", "spiff"))
    print(f"   median steps/s: tsk {tsk:.0f}, (a) core {core:.0f}, (b) SpiffWorkflow {spiff:.0f}")
    floor_b = median([r["core"] / r["spiff"] for r in rounds])
    print(f"   the floor (a) itself / (b) SpiffWorkflow: {floor_b:.2f} (what (b) can be at best)")
    ratio_a = median([r["tsk"] / r["core"] for r in rounds])
    ratio_b = median([r["tsk"] / r["spiff"] for r in rounds])
    ok = verdict("tsk / (a) Core", ratio_a, 0.8)
    # Restated by issue 15: tsk writes the audit trail, tasks and outbox, which SpiffWorkflow
    # does not; the old 4x was above the floor (a) itself, as measured (docs/performance.md).
    ok &= verdict("tsk / (b) SpiffWorkflow", ratio_b, 0.9)
    return outcome(ok)


if __name__ == "__main__":
    sys.exit(main())
