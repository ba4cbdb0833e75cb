"""What can fire in a cycle, and why not (``Engine.possible_transitions``, ``tsk cycle next``),
and the step listeners the engine calls for features it does not import."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.enginekit import (
    Clock,
    Tsk,
    cycle_state,
    finish_step,
    shared_catalog,
    shared_organisation,
    tasks,
)
from tsk_workflow.definitions.model import Step
from tsk_workflow.engine.context import StepContext
from tsk_workflow.engine.documents import Upload, attach
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Refused
from tsk_workflow.features import build_engine, standard_listeners
from tsk_workflow.lagesbild.produce import LagesbildProducer
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Cycle, Document

REPORT_CHAIR = "marie.lind"  # chair of the yearly report (KS's group)
OUTSIDER = "jonas.ek"  # a reporter: neither chair nor sekreterare


def at_ks(engine: Engine) -> int:
    """A yearly report's cycle with its draft attached: in ``ks_behandling``."""
    cycle = engine.open_cycle(REPORT_CHAIR, "arsrapport", "2027").id
    assert finish_step(engine, cycle) == "utkast"
    finish_step(engine, cycle)
    attach(engine, REPORT_CHAIR, cycle, Upload("rapport.md", b"# Rapport\n"), "rapport")
    assert cycle_state(engine, cycle) == ("ks_behandling", "open")
    return cycle


def test_a_step_that_waits_for_a_document_says_which(engine: Engine) -> None:
    cycle = engine.open_cycle(REPORT_CHAIR, "arsrapport", "2027").id
    (first,) = engine.possible_transitions(cycle)
    assert (first.trigger, first.source, first.target) == ("skriv_rapport", "insamling", "utkast")
    assert (first.allowed, first.auto, first.after, first.needs_note) == (True, True, None, False)
    assert first.people[0] == REPORT_CHAIR  # the chair first, then the deputy

    finish_step(engine, cycle)
    finish_step(engine, cycle)  # the draft's task done: only the document is missing
    (waiting,) = engine.possible_transitions(cycle)
    assert waiting.trigger == "till_ks"
    assert not waiting.allowed
    assert waiting.reasons == ("dokument saknas: rapport",)
    assert waiting.missing_documents == ("rapport",)
    assert engine.missing_documents(cycle) == ["rapport"]
    with pytest.raises(Refused, match="dokument saknas: rapport"):
        engine.advance(REPORT_CHAIR, cycle, "till_ks")


def test_what_a_person_may_fire_and_what_waits_for_tasks(engine: Engine) -> None:
    cycle = at_ks(engine)
    by_trigger = {p.trigger: p for p in engine.possible_transitions(cycle)}
    assert list(by_trigger) == ["overlamna_kf", "ater_till_utkast"]  # definition order
    forward, back = by_trigger["overlamna_kf"], by_trigger["ater_till_utkast"]
    assert forward.reasons == ("stegets obligatoriska uppgifter är inte alla klara",)
    assert (forward.needs_note, back.needs_note) == (True, True)
    assert back.allowed  # the note is given with the act
    assert back.reasons == ()
    assert forward.roles == ("chair", "sekreterare")

    (refused,) = engine.possible_transitions(cycle, OUTSIDER)[1:]
    assert not refused.allowed
    assert refused.reasons == (f"{OUTSIDER} får inte göra den: bara chair, sekreterare får",)

    finish_step(engine, cycle)  # KS's agenda: the tasks are done now
    (forward, _) = engine.possible_transitions(cycle, REPORT_CHAIR)
    assert forward.allowed
    with pytest.raises(Refused, match="en anteckning krävs"):
        engine.advance(REPORT_CHAIR, cycle, "overlamna_kf")
    engine.advance(REPORT_CHAIR, cycle, "overlamna_kf", "KS § 12")
    assert cycle_state(engine, cycle)[0] == "kf_behandling"


def test_a_closed_cycle_has_nothing_to_fire(engine: Engine) -> None:
    cycle = engine.open_cycle(REPORT_CHAIR, "arsrapport", "2027").id
    engine.close_cycle(REPORT_CHAIR, cycle, "fel år", force=True)
    assert engine.possible_transitions(cycle) == []
    assert engine.missing_documents(cycle) == []


def test_tsk_cycle_next(
    store: Store, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tsk = Tsk(runner, store, "herrljunga", clock, monkeypatch)
    tsk.ok("init")
    tsk.ok("cycle", "open", "arsrapport", "--period", "2027", as_=REPORT_CHAIR)

    shown = tsk.ok("cycle", "next", "arsrapport-2027", as_=OUTSIDER)
    assert (shown["cycle"], shown["step"], shown["person"]) == (
        "arsrapport-2027",
        "insamling",
        OUTSIDER,
    )
    (item,) = shown["transitions"]
    assert (item["trigger"], item["to"], item["allowed"], item["auto"]) == (
        "skriv_rapport",
        "utkast",
        False,
        True,
    )
    assert item["reasons"] == [f"{OUTSIDER} får inte göra den: bara chair får"]
    text = tsk.text("--lang", "en", "cycle", "next", "arsrapport-2027")
    assert text.splitlines()[:3] == [
        "arsrapport-2027: open, step: insamling",
        f"  skriv_rapport -> utkast (by {', '.join(item['people'])}): yes",
        "    fires by itself once the tasks are done",
    ]
    assert "okänd person" in tsk.refused("cycle", "next", "arsrapport-2027", as_="nobody")


# ---------------------------------------------------------------- listeners


class Recorder:
    """A step listener that notes each step entered, and that it runs inside the act."""

    def __init__(self) -> None:
        self.entered: list[tuple[str, str, bool]] = []

    def on_enter_step(self, ctx: StepContext, cycle: Cycle, step: Step) -> None:
        in_act = ctx.session.in_transaction()
        self.entered.append((cycle.ref, step.key, in_act))


def test_the_engine_calls_its_listeners_at_each_step_entered(store: Store, clock: Clock) -> None:
    recorder = Recorder()
    engine = Engine(store, shared_catalog(), shared_organisation("herrljunga"), clock, [recorder])
    cycle = engine.open_cycle(REPORT_CHAIR, "arsrapport", "2027").id
    finish_step(engine, cycle)
    assert recorder.entered == [
        ("arsrapport-2027", "insamling", True),
        ("arsrapport-2027", "utkast", True),
    ]


def test_the_lagesbild_is_a_feature_of_the_standard_engine(store: Store, clock: Clock) -> None:
    assert [type(listener) for listener in standard_listeners()] == [LagesbildProducer]
    catalog, org = shared_catalog(), shared_organisation("herrljunga")
    bare, standard = Engine(store, catalog, org, clock), build_engine(store, catalog, org, clock)
    assert bare.listeners == ()

    made = {}
    for engine, period in ((bare, "2027-03"), (standard, "2027-04")):
        clock.set(dt.datetime(2027, int(period[-2:]), 4, 9, tzinfo=engine.cal.zone))
        cycle = engine.open_cycle("jessica.wahlstrom", "est", period).id
        for task in tasks(engine, cycle):
            engine.complete_task(
                task.assignees[0], task.id, "inget att rapportera", nothing_to_report=True
            )
        assert cycle_state(engine, cycle)[0] == "egna_lagesbilder"
        for task in tasks(engine, cycle):  # each organisation's own
            engine.complete_task(task.assignees[0], task.id, "vår lägesbild")
        assert cycle_state(engine, cycle)[0] == "sammanstallning"
        with store.reading() as session:
            kinds = session.scalars(select(Document.kind).where(Document.cycle_id == cycle))
            made[period] = list(kinds)
    assert made == {"2027-03": [], "2027-04": ["lagesbild"]}
