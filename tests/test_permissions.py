"""Who may do what, on both databases: the whole matrix of people (by their place in the EST
group of Herrljunga) and acts. An allowed act is recorded in the audit trail by that person; a
refused one changes nothing, and a refusal for lack of permission is kept in ``refused_acts``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from tests.enginekit import Clock, Tsk, counts, est_periods, events, local, make_engine, tasks
from tsk_workflow.cli import cli
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.documents import Upload, attach
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Refused
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import RefusedAct

PEOPLE = {
    "chair": "jessica.wahlstrom",  # also samordnare, and deputy kanslichef
    "deputy": "hanna.nyberg",  # deputy chair of EST, also samordnare
    "samordnare": "tomas.berglund",  # member holding the samordnare role
    "member": "sofie.ahlin",  # member without a role in EST
    "assignee": "viktor.holmberg",  # reporter (inrapportor), not a member
    "secretary": "nina.bergqvist",  # secretary of KLG and KS
    "kanslichef": "marie.lind",
    "outsider": "ali.rahimi",  # in the organisation, nothing to do with EST
    "unknown": "okand.person",
    "scheduler": "tsk",
    "nobody": None,
}
ACTION = {
    "open": "cycle.open",
    "advance": "advance:sammanstall",
    "task.done": "task.done",
    "close": "cycle.close",
    "propose": "decision.propose",
    "record": "decision.record",
    "attach": "document.attach",
}
"""What a refusal records as the act that was tried."""

NOT_A_PERSON = {
    "unknown": "okänd person 'okand.person'",
    "scheduler": "'tsk' är schemaläggaren, inte en person",
    "nobody": "vem agerar?",
}

ALLOWED = {
    "open": {"chair", "deputy"},
    "advance": {"chair", "deputy", "samordnare"},
    "task.done": {"chair", "deputy", "assignee"},
    "close": {"chair", "deputy"},
    "propose": {"chair", "deputy", "samordnare", "member"},
    "record": {"chair", "secretary", "kanslichef"},
    "attach": {"chair", "deputy", "samordnare", "member", "assignee"},
}
REFUSAL = {
    "open": "får öppna dess cykler",
    "advance": "'sammanstall' får bara göras av: chair, samordnare",
    "task.done": "bara de eller ordföranden får markera den klar",
    "close": "får stänga dess cykler",
    "propose": "får föreslå beslut från dess cykler",
    "record": "bara nina.bergqvist eller kanslichefen får registrera besluten i Kommunledningsgruppen",
    "attach": "får bifoga dokument",
}
EVENT = {
    "open": "cycle.opened",
    "advance": "cycle.advanced",
    "task.done": "task.done",
    "close": "cycle.closed",
    "propose": "decision.proposed",
    "record": "decision.recorded",
    "attach": "document.attached",
}


@dataclass
class Board:
    """A fresh EST cycle to act on (and a decision), made again after an allowed act used it."""

    engine: Engine
    clock: Clock
    n: int = 0
    cycle: int = 0
    task: int = 0
    decision: int = 0
    used: bool = True
    made: list[int] = field(default_factory=list)
    periods: Iterator[str] = field(default_factory=lambda: iter(est_periods(1000)))
    """Periods EST has, a new one for each cycle opened (or tried)."""

    def fresh(self) -> None:
        if not self.used:
            return
        self.n += 1
        self.cycle = self.engine.open_cycle(PEOPLE["chair"], "est", next(self.periods)).id
        self.task = next(
            t.id for t in tasks(self.engine, self.cycle) if t.assignees == (PEOPLE["assignee"],)
        )
        made, _ = Decisions(self.engine).propose(PEOPLE["chair"], self.cycle, f"Åtgärd {self.n}")
        self.decision = made.id
        self.used = False

    def act(self, act: str, who: str | None) -> Callable[[], Any]:
        decisions = Decisions(self.engine)
        today = self.clock.now.date()
        return {
            "open": lambda: self.engine.open_cycle(who, "est", next(self.periods)),
            "advance": lambda: self.engine.advance(who, self.cycle, "sammanstall", "muntligt"),
            "task.done": lambda: self.engine.complete_task(
                who, self.task, "rapporterat", nothing_to_report=True
            ),
            "close": lambda: self.engine.close_cycle(who, self.cycle, "inställd", force=True),
            "propose": lambda: decisions.propose(who, self.cycle, "Fler papperskorgar", 8_000),
            "record": lambda: decisions.record(who, self.decision, "klg", today, "§ 7", "approved"),
            "attach": lambda: attach(
                self.engine, who, self.cycle, Upload("bild.pdf", b"%PDF"), "lagesbild"
            ),
        }[act]


@pytest.mark.parametrize("act", list(ALLOWED))
def test_permission_matrix(store: Store, act: str) -> None:
    clock = Clock(local(2027, 3, 1))
    board = Board(make_engine(store, "herrljunga", clock), clock)
    outcome: dict[str, str] = {}
    for place, who in PEOPLE.items():
        board.fresh()
        clock.advance(minutes=10)
        before = counts(store)
        refusal: Refused | None = None
        try:
            board.act(act, who)()
        except Refused as exc:
            refusal = exc
        if refusal is not None:
            after = counts(store)
            if place in NOT_A_PERSON:
                assert NOT_A_PERSON[place] in str(refusal), (place, str(refusal))
                # Someone unknown trying to act is kept (who was named, what, when); the
                # scheduler's name or no name at all is a mistake of use, nobody's attempt.
                recorded = 1 if place == "unknown" else 0
                assert after == {**before, "refused": before["refused"] + recorded}, place
                if recorded:
                    with store.reading() as session:
                        kept = session.scalars(
                            select(RefusedAct).order_by(RefusedAct.id.desc())
                        ).first()
                    assert kept is not None
                    assert (kept.actor, kept.action, kept.at) == (who, ACTION[act], clock.now)
            else:
                assert REFUSAL[act] in str(refusal), (place, str(refusal))
                assert after == {**before, "refused": before["refused"] + 1}, place
                with store.reading() as session:
                    kept = session.scalars(
                        select(RefusedAct).order_by(RefusedAct.id.desc())
                    ).first()
                assert kept is not None
                assert (kept.actor, kept.at) == (who, clock.now)
            outcome[place] = "refused"
            continue
        outcome[place] = "allowed"
        board.used = True
        latest = [e for e in events(store) if e.at == clock.now and e.action == EVENT[act]]
        assert [e.actor for e in latest] == [who], place

    assert {place for place, result in outcome.items() if result == "allowed"} == ALLOWED[act]


def test_the_actor_comes_from_tsk_user_or_as(
    store: Store, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    Tsk(runner, store, "herrljunga", Clock(local(2027, 3, 1)), monkeypatch).ok("init")

    def as_user(user: str | None, *args: str | None) -> Result:
        env = {"TSK_USER": user, "TSK_DATABASE_URL": None, "TSK_ORG": None, "TSK_LANG": None}
        words = [str(arg) for arg in args]
        return CliRunner(env=env).invoke(cli, ["--db", store.url, "--org", "herrljunga", *words])

    opening = ("cycle", "open", "est", "--period", "2027-03")
    refused = as_user(PEOPLE["member"], *opening)
    assert refused.exit_code == 1
    assert "bara ordföranden i Effektiv samordning för ökad trygghet (EST)" in refused.stderr
    assert "(jessica.wahlstrom eller hanna.nyberg)" in refused.stderr

    opened = as_user(PEOPLE["chair"], *opening, "--json")
    assert opened.exit_code == 0, opened.output
    assert json.loads(opened.stdout)["opened_by"] == PEOPLE["chair"]

    closing = ("cycle", "close", "est-2027-03", "--force", "--note", "fel månad", "--json")
    overridden = as_user(PEOPLE["member"], "--as", PEOPLE["deputy"], *closing)  # --as wins
    assert overridden.exit_code == 0, overridden.output
    assert json.loads(overridden.stdout)["closed_by"] == PEOPLE["deputy"]


def test_unknown_or_missing_person_is_refused_by_the_cli(
    store: Store, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    tsk = Tsk(runner, store, "herrljunga", Clock(local(2027, 3, 1)), monkeypatch)
    tsk.ok("init")
    before = counts(store)

    assert "okänd person 'okand.person' i Herrljunga kommun" in tsk.refused(
        "cycle", "open", "est", as_="okand.person"
    )
    assert "vem agerar? ge --as PERSON eller sätt TSK_USER" in tsk.refused("cycle", "open", "est")
    assert "'tsk' är schemaläggaren" in tsk.refused("cycle", "open", "est", as_="tsk")
    assert "okänd person" in tsk.refused("task", "list", "--mine", as_="okand.person")
    assert counts(store) == {**before, "refused": before["refused"] + 2}  # the unknown one's
    refused = json.loads(tsk("audit", "--refused", "--json").stdout)
    assert [(r["actor"], r["action"]) for r in refused] == [
        ("okand.person", "cycle.open"),
        ("okand.person", "task.list"),
    ]


def test_refused_acts_are_listed_by_the_cli(
    store: Store, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(local(2027, 3, 1))
    tsk = Tsk(runner, store, "herrljunga", clock, monkeypatch)
    tsk.ok("init")
    tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=PEOPLE["chair"])
    clock.advance(hours=1)

    line = tsk.refused(
        "cycle", "close", "est-2027-03", "--force", "--note", "x", as_=PEOPLE["outsider"]
    )

    assert line.startswith("tsk: bara ordföranden i")
    rows = tsk.ok("audit", "--refused")
    assert [(r["actor"], r["action"]) for r in rows] == [("ali.rahimi", "cycle.close")]
    assert dt.datetime.fromisoformat(rows[0]["at"]) == clock.now
