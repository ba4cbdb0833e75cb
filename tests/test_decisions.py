"""Decisions on both databases: routed to KLG or KS by the municipality's rules (with the rule
and why; the other bodies in test_routing_targets.py), put on the agenda of the body's next meeting that leaves the lead time, recorded with
body, date, paragraph and outcome; a postponed one goes on a later agenda and is recorded again.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.enginekit import Clock, Tsk, counts, events, local, make_engine
from tests.test_audit import tamper
from tsk_workflow import audit, i18n, replay
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import NotFound, Refused
from tsk_workflow.rows import decision_row
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, OutboxMessage

CHAIR, SECRETARY = "jessica.wahlstrom", "nina.bergqvist"
NBSP = "\u00a0"
CLOCK_START = local(2027, 3, 8, 10)  # a Monday; the clock fixture (conftest.py)


@pytest.fixture
def cycle(engine: Engine) -> int:
    return engine.open_cycle(CHAIR, "est", "2027-03").id


def case_states(store: Store, case: int) -> list[str]:
    """The steps the decision's ``beslut`` case cycle went through, as its audit events say."""
    with store.reading() as session:
        rows = audit.query(session, cycle_id=case)
    return [str(r.payload["to"]) for r in rows if r.action == "cycle.advanced" and r.payload]


# --- routing -----------------------------------------------------------------------------------


ROUTES = [
    # cost, attributes, body, rule, (part of) the reason
    (40_000, {}, "klg", "default", "Ingen regel träffade"),
    (
        250_000,
        {},
        "ks",
        "kostnad_over_200000",
        f"Kostnaden överstiger 200 000 kr och kräver politiskt beslut (kostnad 250{NBSP}000 kr"
        f" > 200{NBSP}000 kr)",
    ),
    (200_000, {}, "klg", "default", "Ingen regel träffade"),  # over the limit, not at it
    (None, {"policy": "JA"}, "ks", "principfraga", "som kommunstyrelsen avgör (policy = ja)"),
    (None, {"forvaltningar": "3"}, "ks", "flera_forvaltningar", "(forvaltningar = 3 >= 3)"),
    (None, {"forvaltningar": "2"}, "klg", "default", "Ingen regel träffade"),
    (None, {"forvaltningar": "många"}, "klg", "default", "Ingen regel träffade"),
    # the first rule that matches decides: a strategic measure is the styrgrupp's (seed 003)
    (500_000, {"strategisk": "ja"}, "styrgrupp", "strategisk_inriktning", "styrgruppen beslutar"),
]


def test_routing_by_herrljungas_rules(engine: Engine, cycle: int) -> None:
    decisions = Decisions(engine)
    for cost, attrs, body, rule, reason in ROUTES:
        decision, route = decisions.propose(CHAIR, cycle, "Åtgärd", cost, attrs)

        case = (cost, attrs)
        assert (decision.routed_to, decision.rule, route.rule) == (body, rule, rule), case
        assert reason in decision.reason, case
        assert decision.status == "proposed"


def test_tingsryds_delegated_rule_comes_before_the_cost(store: Store, clock: Clock) -> None:
    tingsryd = make_engine(store, "tingsryd", clock)
    cycle = tingsryd.open_cycle("malin.gustavsson", "samverkan").id
    decisions = Decisions(tingsryd)

    delegated, _ = decisions.propose(
        "malin.gustavsson", cycle, "Kameror", 500_000, {"delegerat": "ja"}
    )
    costly, _ = decisions.propose("jonas.lindberg", cycle, "Kameror", 500_000)

    assert (delegated.routed_to, delegated.rule) == ("delegat", "delegerat")
    assert delegated.agenda_date is None  # the delegate decides without a meeting
    assert (costly.routed_to, costly.rule) == ("ks", "kostnad_over_100000")
    # Tingsryd's KS meets the first Tuesday with three weeks' lead: from 8 March, 6 April.
    assert costly.agenda_date == dt.date(2027, 4, 6)


@pytest.mark.parametrize(
    ("now", "klg", "ks"),
    [
        # Monday 8 March: KLG a week later; KS (first Wednesday, four weeks' lead) 7 April.
        (local(2027, 3, 8, 10), dt.date(2027, 3, 15), dt.date(2027, 4, 7)),
        # Wednesday 10 March: exactly four weeks before 7 April is enough.
        (local(2027, 3, 10, 10), dt.date(2027, 3, 22), dt.date(2027, 4, 7)),
        # Thursday 11 March: a day too late for April, so May.
        (local(2027, 3, 11, 10), dt.date(2027, 3, 22), dt.date(2027, 5, 5)),
        # No meetings in July: from 28 June, KLG 2 August and KS 4 August.
        (local(2027, 6, 28, 10), dt.date(2027, 8, 2), dt.date(2027, 8, 4)),
    ],
)
def test_agenda_is_the_next_meeting_that_leaves_the_lead_time(
    engine: Engine, cycle: int, clock: Clock, now: dt.datetime, klg: dt.date, ks: dt.date
) -> None:
    clock.set(now)
    decisions = Decisions(engine)

    to_klg, _ = decisions.propose(CHAIR, cycle, "Liten åtgärd", 10_000)
    to_ks, _ = decisions.propose(CHAIR, cycle, "Stor åtgärd", 300_000)

    assert (to_klg.routed_to, to_klg.agenda_date) == ("klg", klg)
    assert (to_ks.routed_to, to_ks.agenda_date) == ("ks", ks)


def test_proposal_is_audited_and_mailed(engine: Engine, store: Store, cycle: int) -> None:
    decision, _ = Decisions(engine).propose(
        "tomas.berglund", cycle, "  Ny   belysning  ", 250_000, {"forvaltningar": "1"}
    )

    assert decision.title == "Ny belysning"
    proposed = events(store, "decision.proposed")[-1]
    assert (proposed.actor, proposed.role, proposed.subject) == (
        "tomas.berglund",
        "bostadsbolag",
        f"decision:{decision.id}",
    )
    with store.reading() as session:
        (row,) = [r for r in audit.query(session) if r.seq == proposed.seq]
        mailed = set(
            session.scalars(
                select(OutboxMessage.recipient).where(OutboxMessage.template == "decision_routed")
            )
        )
    assert row.payload is not None
    assert row.payload["routed_to"] == "ks"
    assert row.payload["rule"] == "kostnad_over_200000"
    assert row.payload["agenda_date"] == "2027-04-07"
    assert mailed == {SECRETARY, "tomas.berglund"}
    assert decision.case_cycle_id is not None
    assert case_states(store, decision.case_cycle_id) == ["dirigerad", "pa_dagordning"]


def test_bad_proposals_are_refused(engine: Engine, store: Store, cycle: int) -> None:
    decisions = Decisions(engine)
    before = counts(store)

    with pytest.raises(Refused, match="ett beslut behöver en --title"):
        decisions.propose(CHAIR, cycle, " ")
    with pytest.raises(Refused, match="är inget rimligt belopp"):
        decisions.propose(CHAIR, cycle, "Dyr", -1)
    with pytest.raises(Refused, match="längre än 300 tecken"):
        decisions.propose(CHAIR, cycle, "x" * 301)
    with pytest.raises(NotFound, match="ingen cykel 'est-1999-01'"):
        decisions.propose(CHAIR, "est-1999-01", "Fel cykel")
    assert counts(store) == before


# --- recording -------------------------------------------------------------------------------


def test_record_approved(engine: Engine, store: Store, cycle: int, clock: Clock) -> None:
    decisions = Decisions(engine)
    proposed, _ = decisions.propose(CHAIR, cycle, "Belysning", 40_000)
    clock.set(local(2027, 3, 15, 11))

    recorded = decisions.record(
        SECRETARY, proposed.id, "klg", dt.date(2027, 3, 15), "12", "approved"
    )

    assert (recorded.status, recorded.body, recorded.decided_on, recorded.paragraph) == (
        "approved",
        "klg",
        dt.date(2027, 3, 15),
        "§ 12",
    )
    assert (recorded.recorded_by, recorded.recorded_at) == (SECRETARY, clock.now)
    assert proposed.case_cycle_id is not None
    assert case_states(store, proposed.case_cycle_id) == ["dirigerad", "pa_dagordning", "beslutad"]
    with store.reading() as session:
        case = engine.find_cycle(session, proposed.case_cycle_id)
        assert case.status == "closed"
    with pytest.raises(Refused, match="redan registrerat \\(bifallet 2027-03-15 § 12\\)"):
        decisions.record(SECRETARY, proposed.id, "klg", dt.date(2027, 3, 15), "§ 13", "rejected")


def test_the_body_must_match_the_route_unless_overridden(
    engine: Engine, store: Store, cycle: int, clock: Clock
) -> None:
    decisions = Decisions(engine)
    proposed, _ = decisions.propose(CHAIR, cycle, "Belysning", 40_000)
    clock.set(local(2027, 4, 7, 15))  # KS's meeting, the first Wednesday of April
    ks_meeting = dt.date(2027, 4, 7)
    before = counts(store)

    with pytest.raises(
        Refused, match="gick till KLG; att registrera det för KS kräver --override-reason"
    ):
        decisions.record(SECRETARY, proposed.id, "ks", ks_meeting, "§ 40", "approved")
    with pytest.raises(Refused, match="kräver --override-reason"):
        decisions.record(SECRETARY, proposed.id, "ks", ks_meeting, "§ 40", "approved", " ")
    assert counts(store) == before

    recorded = decisions.record(
        SECRETARY,
        proposed.id,
        "ks",
        ks_meeting,
        "§ 40",
        "approved",
        "KS tog upp ärendet direkt",
    )

    assert (recorded.routed_to, recorded.body) == ("klg", "ks")
    assert recorded.override_reason == "KS tog upp ärendet direkt"
    with store.reading() as session:
        row = audit.query(session, actor=SECRETARY)[-1]
    assert row.payload is not None
    assert row.payload["override_reason"] == "KS tog upp ärendet direkt"
    assert (row.payload["routed_to"], row.payload["body"]) == ("klg", "ks")


def test_bad_records_are_refused(engine: Engine, store: Store, cycle: int) -> None:
    decisions = Decisions(engine)
    proposed, _ = decisions.propose(CHAIR, cycle, "Belysning", 40_000)
    before = counts(store)
    today = dt.date(2027, 3, 8)

    with pytest.raises(Refused, match="ogiltig paragraf 'paragraf sju'"):
        decisions.record(SECRETARY, proposed.id, "klg", today, "paragraf sju", "approved")
    with pytest.raises(Refused, match="utfallet måste vara ett av"):
        decisions.record(SECRETARY, proposed.id, "klg", today, "§ 7", "tabled")
    with pytest.raises(Refused, match="ligger i framtiden"):
        decisions.record(SECRETARY, proposed.id, "klg", dt.date(2027, 3, 15), "§ 7", "approved")
    with pytest.raises(
        Refused, match=r"2020-03-09 är före den dag beslut \d+ föreslogs \(2027-03-0"
    ):
        decisions.record(SECRETARY, proposed.id, "klg", dt.date(2020, 3, 9), "§ 7", "approved")
    with pytest.raises(NotFound, match="inget beslut 999"):
        decisions.record(SECRETARY, 999, "klg", today, "§ 7", "approved")
    assert counts(store) == before


def test_postponed_goes_on_a_later_agenda_and_is_recorded_again(
    engine: Engine, store: Store, cycle: int, clock: Clock
) -> None:
    decisions = Decisions(engine)
    proposed, _ = decisions.propose(CHAIR, cycle, "Kameraövervakning", 450_000)
    assert proposed.agenda_date == dt.date(2027, 4, 7)
    clock.set(local(2027, 4, 7, 16))

    postponed = decisions.record(
        SECRETARY, proposed.id, "ks", dt.date(2027, 4, 7), "§ 61", "postponed"
    )

    assert (postponed.status, postponed.outcome) == ("postponed", "postponed")
    # Four weeks from 7 April is 5 May, itself a KS meeting.
    assert postponed.agenda_date == dt.date(2027, 5, 5)
    clock.set(local(2027, 5, 5, 16))
    approved = decisions.record(
        SECRETARY, proposed.id, "ks", dt.date(2027, 5, 5), "§ 80", "approved"
    )

    assert (approved.status, approved.decided_on, approved.paragraph) == (
        "approved",
        dt.date(2027, 5, 5),
        "§ 80",
    )
    assert proposed.case_cycle_id is not None
    assert case_states(store, proposed.case_cycle_id) == [
        "dirigerad",
        "pa_dagordning",
        "bordlagd",
        "pa_dagordning",
        "beslutad",
    ]
    with store.reading() as session:
        recorded = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "decision.recorded")
        ).all()
        mails = session.scalars(
            select(OutboxMessage.message_id).where(OutboxMessage.template == "decision_recorded")
        ).all()
    assert len(recorded) == 2
    assert len(set(mails)) == 2  # one mail to the proposer for each recording


# --- the meeting calendar ---------------------------------------------------------------------

WEDNESDAY = dt.date(2027, 3, 10)  # no meeting of KLG, which meets on Mondays (8 and 15 March)
NOT_A_MEETING = (
    "2027-03-10 är inget sammanträde för Kommunledningsgruppen enligt organisationens"
    " sammanträdeskalender (närmaste sammanträden: 2027-03-08, 2027-03-15): ange datumet för"
    " sammanträdet som fattade beslutet, eller, om det var ett extra sammanträde, ange det"
    " (--extra-meeting)"
)


def recorded_payload(store: Store) -> dict[str, object]:
    """The payload of the newest ``decision.recorded`` event."""
    with store.reading() as session:
        (row,) = [r for r in audit.query(session) if r.action == "decision.recorded"][-1:]
    assert row.payload is not None
    return dict(row.payload)


def test_a_date_that_is_no_meeting_of_the_body_is_refused_with_the_meetings_nearest(
    engine: Engine, store: Store, cycle: int, clock: Clock
) -> None:
    decisions = Decisions(engine)
    proposed, _ = decisions.propose(CHAIR, cycle, "Belysning", 40_000)
    clock.set(local(2027, 3, 10, 15))
    before = counts(store)

    with pytest.raises(Refused) as refused:
        decisions.record(SECRETARY, proposed.id, "klg", WEDNESDAY, "§ 12", "approved")

    assert (str(refused.value), refused.value.field) == (NOT_A_MEETING, "date")
    with i18n.speaking("en"), pytest.raises(Refused) as english:
        decisions.record(SECRETARY, proposed.id, "klg", WEDNESDAY, "§ 12", "approved")
    assert str(english.value).startswith(
        "2027-03-10 is not a meeting of Kommunledningsgruppen in the organisation's meeting"
        " calendar (the meetings nearest: 2027-03-08, 2027-03-15)"
    )
    # KS meets on the first Wednesday: 3 March, then 7 April.
    with pytest.raises(Refused, match=r"närmaste sammanträden: 2027-03-03, 2027-04-07\)"):
        decisions.record(SECRETARY, proposed.id, "ks", WEDNESDAY, "§ 12", "approved", "KS tog det")
    assert counts(store) == before
    # The meeting of that week is the date to give.
    recorded = decisions.record(
        SECRETARY, proposed.id, "klg", dt.date(2027, 3, 8), "§ 12", "approved"
    )
    assert (recorded.decided_on, recorded.extra_meeting) == (dt.date(2027, 3, 8), False)
    assert recorded_payload(store)["extra_meeting"] is False


def test_an_extra_meeting_is_recorded_as_one_and_replayed_by_audit_verify(
    engine: Engine, store: Store, cycle: int, clock: Clock
) -> None:
    decisions = Decisions(engine)
    proposed, _ = decisions.propose(CHAIR, cycle, "Belysning", 40_000)
    clock.set(local(2027, 3, 10, 15))

    recorded = decisions.record(
        SECRETARY, proposed.id, "klg", WEDNESDAY, "§ 12", "approved", extra_meeting=True
    )

    assert (recorded.status, recorded.decided_on, recorded.extra_meeting) == (
        "approved",
        WEDNESDAY,
        True,
    )
    assert decision_row(recorded)["extra_meeting"] is True
    with store.reading() as session:
        (listed,) = Decisions(engine).listing(session)
        assert (decision_row(listed)["date"], decision_row(listed)["extra_meeting"]) == (
            "2027-03-10",
            True,
        )
        assert replay.verify_record(session).ok
    payload = recorded_payload(store)
    assert (payload["date"], payload["extra_meeting"]) == ("2027-03-10", True)
    seq = events(store, "decision.recorded")[-1].seq

    tamper(store, f"UPDATE decisions SET extra_meeting = FALSE WHERE id = {proposed.id}")

    with store.reading() as session, i18n.speaking("en"):
        verified = replay.verify_record(session)
    assert verified.problems == (
        audit.Problem(
            seq,
            "state_mismatch",
            f"decision {proposed.id}: extra_meeting is False but event {seq}"
            " (decision.recorded) says True",
        ),
    )


def test_a_date_before_the_proposal_is_refused_as_that_extra_meeting_or_not(
    engine: Engine, store: Store, cycle: int
) -> None:
    decisions = Decisions(engine)
    proposed, _ = decisions.propose(CHAIR, cycle, "Belysning", 40_000)
    before = counts(store)

    for extra_meeting in (False, True):
        with pytest.raises(Refused) as refused:
            decisions.record(
                SECRETARY,
                proposed.id,
                "klg",
                dt.date(1990, 1, 1),
                "§ 1",
                "approved",
                extra_meeting=extra_meeting,
            )
        assert refused.value.field == "date"
        assert str(refused.value).startswith(
            f"mötesdatumet 1990-01-01 är före den dag beslut {proposed.id} föreslogs (2027-03-08)"
        )
    assert counts(store) == before


@pytest.mark.parametrize(
    ("org", "proposer", "recorder", "body", "attrs"),
    [
        # Svenljunga's analysgrupp proposes to the department concerned; its head decides.
        (
            "svenljunga",
            "maria.holm",
            "annika.lund",
            "forvaltning",
            {"forvaltning": "Socialförvaltningen"},
        ),
        # Tingsryd's kommunchef decides under the delegationsordning.
        ("tingsryd", "malin.gustavsson", "bengt.rydell", "delegat", {"delegerat": "ja"}),
    ],
)
def test_a_body_that_decides_without_meetings_has_no_extra_meeting(
    store: Store,
    clock: Clock,
    org: str,
    proposer: str,
    recorder: str,
    body: str,
    attrs: dict[str, str],
) -> None:
    engine = make_engine(store, org, clock)
    process = "est" if org == "svenljunga" else "samverkan"
    cycle = engine.open_cycle(proposer, process, "2027-03" if process == "est" else None).id
    decisions = Decisions(engine)
    proposed, _ = decisions.propose(proposer, cycle, "Fältassistenter", 60_000, attrs)
    assert (proposed.routed_to, proposed.agenda_date) == (body, None)
    clock.set(local(2027, 3, 10, 15))
    before = counts(store)

    with pytest.raises(Refused) as refused:
        decisions.record(
            recorder, proposed.id, body, WEDNESDAY, "D 2027:14", "approved", extra_meeting=True
        )

    assert refused.value.field == "extra_meeting"
    assert str(refused.value).endswith(
        "beslutar utan sammanträden, så det finns inget extra sammanträde"
    )
    assert counts(store) == before
    # Any day is a day one person can decide on: the date is not checked against a calendar.
    recorded = decisions.record(recorder, proposed.id, body, WEDNESDAY, "D 2027:14", "approved")
    assert (recorded.decided_on, recorded.extra_meeting) == (WEDNESDAY, False)


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def tsk(store: Store, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Tsk:
    tsk = Tsk(runner, store, "herrljunga", clock, monkeypatch)
    tsk.ok("init")
    tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    return tsk


def test_cli_propose_prints_the_route_and_why(tsk: Tsk) -> None:
    text = tsk.text(
        "decision",
        "propose",
        "est-2027-03",
        "--title",
        "Trygghetskameror vid stationen",
        "--cost",
        "250000",
        as_=CHAIR,
    )

    lines = text.splitlines()
    assert lines[0] == "Beslut 1: Trygghetskameror vid stationen"
    assert "till KS enligt regeln 'kostnad_over_200000'" in lines[1]
    assert "Kostnaden överstiger 200 000 kr" in lines[1]
    assert lines[2].strip() == "på dagordningen för KS 2027-04-07"

    row = tsk.ok(
        "decision",
        "propose",
        "est-2027-03",
        "--title",
        "Policy för trygghetsvandringar",
        "--attr",
        "policy=ja",
        "--attr",
        "forvaltningar = 2",
        as_=CHAIR,
    )
    assert {"id", "routed_to", "reason", "rule", "agenda_date"} <= set(row)
    assert (row["id"], row["routed_to"], row["rule"]) == (2, "ks", "principfraga")
    assert row["attrs"] == {"policy": "ja", "forvaltningar": "2"}
    assert "Principiell fråga" in row["reason"]


def test_cli_usage_errors_exit_2(tsk: Tsk) -> None:
    bad_attr = tsk("decision", "propose", "est-2027-03", "--title", "X", "--attr", "nej", as_=CHAIR)
    no_title = tsk("decision", "propose", "est-2027-03", as_=CHAIR)
    bad_body = tsk(
        "decision", "record", "1", "--body", "kf", "--date", "2027-03-01", "--paragraph", "§ 1"
    )
    bad_date = tsk(
        "decision",
        "record",
        "1",
        "--body",
        "ks",
        "--date",
        "1 mars",
        "--paragraph",
        "§ 1",
        "--outcome",
        "approved",
    )

    for result in (bad_attr, no_title, bad_body, bad_date):
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
    assert "'nej' har inte formen KEY=VALUE" in bad_attr.stderr
    english = tsk(
        "--lang", "en", "decision", "propose", "est-2027-03", "--title", "X", "--attr", "nej"
    )
    assert "'nej' is not KEY=VALUE" in english.stderr


def test_cli_record_and_list(tsk: Tsk, clock: Clock) -> None:
    tsk.ok(
        "decision", "propose", "est-2027-03", "--title", "Belysning", "--cost", "40000", as_=CHAIR
    )
    tsk.ok(
        "decision", "propose", "est-2027-03", "--title", "Kameror", "--cost", "300000", as_=CHAIR
    )
    clock.set(local(2027, 3, 15, 12))
    recorded = tsk.ok(
        "decision",
        "record",
        "1",
        "--body",
        "klg",
        "--date",
        "2027-03-15",
        "--paragraph",
        "§ 12",
        "--outcome",
        "approved",
        as_=SECRETARY,
    )
    assert (recorded["status"], recorded["paragraph"], recorded["recorded_by"]) == (
        "approved",
        "§ 12",
        SECRETARY,
    )
    refused = tsk.refused(
        "decision",
        "record",
        "2",
        "--body",
        "klg",
        "--date",
        "2027-03-15",
        "--paragraph",
        "§ 13",
        "--outcome",
        "approved",
        as_=SECRETARY,
    )
    assert "gick till KS; att registrera det för KLG kräver --override-reason" in refused

    rows = tsk.ok("decision", "list")
    assert [(r["id"], r["routed_to"], r["status"], r["proposed_by"]) for r in rows] == [
        (1, "klg", "approved", CHAIR),
        (2, "ks", "proposed", CHAIR),
    ]
    lines = tsk.text("decision", "list").splitlines()
    assert "Belysning [KLG] föreslagen av jessica.wahlstrom" in lines[0]
    assert "-> bifallet KLG 2027-03-15 § 12 (nina.bergqvist)" in lines[0]
    english = tsk.text("--lang", "en", "decision", "list").splitlines()
    assert "Belysning [KLG] proposed by jessica.wahlstrom" in english[0]
    assert "-> approved KLG 2027-03-15 § 12 (nina.bergqvist)" in english[0]
    assert "Kameror [KS, dagordning 2027-04-07] föreslagen av jessica.wahlstrom" in lines[1]
    assert json.loads(tsk("decision", "list", "--json").stdout) == rows


def test_cli_record_at_an_extra_meeting(tsk: Tsk, store: Store, clock: Clock) -> None:
    tsk.ok(
        "decision", "propose", "est-2027-03", "--title", "Belysning", "--cost", "40000", as_=CHAIR
    )
    clock.set(local(2027, 3, 10, 15))
    record = (
        *("decision", "record", "1", "--body", "klg", "--date", "2027-03-10"),
        *("--paragraph", "§ 12", "--outcome", "approved"),
    )

    assert tsk.refused(*record, as_=SECRETARY) == f"tsk: {NOT_A_MEETING}"
    recorded = tsk.ok(*record, "--extra-meeting", as_=SECRETARY)

    assert (recorded["date"], recorded["extra_meeting"]) == ("2027-03-10", True)
    assert [(r["id"], r["extra_meeting"]) for r in tsk.ok("decision", "list")] == [(1, True)]
    (line,) = tsk.text("decision", "list").splitlines()
    assert "-> bifallet KLG 2027-03-10 (extra sammanträde) § 12 (nina.bergqvist)" in line
    (english,) = tsk.text("--lang", "en", "decision", "list").splitlines()
    assert "-> approved KLG 2027-03-10 (extra meeting) § 12 (nina.bergqvist)" in english
    assert tsk.ok("audit", "verify")["ok"] is True

    tamper(store, "UPDATE decisions SET extra_meeting = FALSE WHERE id = 1")

    result = tsk("audit", "verify", "--json")
    assert result.exit_code == 1
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["kind"] == "state_mismatch"
    assert problem["detail"].startswith("beslut 1: extra_meeting är False men händelse")
