"""Refused acts are recorded: an act refused for lack of permission is kept with who, what and
when in ``refused_acts`` and shown by ``tsk audit --refused``, for opening, closing and advancing
a cycle, completing a task, recording a decision and purging personal data. The refusal is not
an act: it is outside the hash chain and changes nothing else."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from tests.enginekit import Clock, Tsk, events, tasks
from tests.reliability.kit import CHAIR, START, chain_ok, dump, herrljunga
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.store.database import Store

MEMBER = "sofie.ahlin"  # a member of EST: no chair, no role that may advance, no recorder
OUTSIDER = "ali.rahimi"


def test_refused_acts_are_recorded_outside_the_chain(
    store: Store, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = herrljunga(store, START)
    cycle = world.engine.open_cycle(CHAIR, "est", "2027-03")
    task = tasks(world.engine, cycle.id)[0]
    decision, _route = Decisions(world.engine).propose(CHAIR, cycle.id, "Belysning", 20_000)
    clock = Clock(START + dt.timedelta(hours=2))
    tsk = Tsk(runner, store, "herrljunga", clock, monkeypatch)
    before = dump(store)
    chain_before = [event.hash for event in events(store)]

    attempts = {
        ("cycle.open", "process:est"): ("cycle", "open", "est", "--period", "2027-04"),
        ("cycle.close", f"cycle:{cycle.id}"): (
            "cycle",
            "close",
            str(cycle.id),
            "--force",
            "--note",
            "x",
        ),
        ("advance:sammanstall", f"cycle:{cycle.id}"): (
            "cycle",
            "advance",
            cycle.ref,
            "sammanstall",
        ),
        ("task.done", f"task:{task.id}"): ("task", "done", str(task.id), "--note", "klart"),
        ("decision.record", f"decision:{decision.id}"): (
            "decision",
            "record",
            str(decision.id),
            "--body",
            "klg",
            "--date",
            "2027-03-01",
            "--paragraph",
            "§ 12",
            "--outcome",
            "approved",
        ),
        ("personal_data.purge", "municipality:herrljunga"): (
            "gdpr",
            "purge",
            "--before",
            "2020-01-01",
        ),
    }
    messages = {}
    for index, (what, args) in enumerate(attempts.items()):
        clock.set(START + dt.timedelta(hours=2, minutes=index))
        messages[what] = tsk.refused(*args, as_=OUTSIDER if what[0] == "task.done" else MEMBER)

    refused = tsk.ok("audit", "--refused")
    assert [(row["action"], row["subject"]) for row in refused] == list(attempts)
    for index, row in enumerate(refused):
        assert row["actor"] == (OUTSIDER if row["action"] == "task.done" else MEMBER)
        assert dt.datetime.fromisoformat(row["at"]) == START + dt.timedelta(hours=2, minutes=index)
        assert row["reason"] in messages[(row["action"], row["subject"])]
    text = tsk.text("audit", "--refused").splitlines()
    assert len(text) == len(attempts)
    assert all(MEMBER in line or OUTSIDER in line for line in text)
    assert "decision.record" in text[4]
    assert "2027-03-02 11:04" in text[4]
    only_mine = tsk.ok("audit", "--refused", "--actor", OUTSIDER)
    assert [row["action"] for row in only_mine] == ["task.done"]

    # Not in the chain, and nothing else changed: only refused_acts has new rows.
    assert [event.hash for event in events(store)] == chain_before
    assert chain_ok(store).ok
    assert dump(store) == before
    audit_json = json.loads(tsk("audit", "--json").stdout)
    assert not any(row["actor"] in {MEMBER, OUTSIDER} for row in audit_json)
