"""The decisions' pages (``web/page_decisions.py``): a KS decision proposed from a cycle (its
route shown first) and recorded by the secretary, end to end through the forms as a browser
without JavaScript sends them; the register's filters and its CSV; bad values refused next to
their field; someone who may not record refused with a sentence; a double submit acting once.
On SQLite and PostgreSQL, through HTTP (Starlette's TestClient)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.enginekit import Clock, local
from tests.webkit import csrf_of, demo_sign_in, herrljunga, service_client
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, Decision, RefusedAct

CLOCK_START = local(2027, 3, 8, 10)  # a Monday

CHAIR = "jessica.wahlstrom"  # chairs EST
SECRETARY = "nina.bergqvist"  # KS's and KLG's secretary
REPORTER = "ida.wikstrom"  # member of EST: may propose, may not record
OUTSIDER = "petra.sjodin"  # no part in EST


@pytest.fixture
def client(store: Store, clock: Clock) -> Any:
    engine = herrljunga(store, clock)
    engine.open_cycle(CHAIR, "est", "2027-03")
    with service_client(store, clock) as client:
        yield client


def _form_fields(html: str) -> dict[str, str]:
    """The hidden fields of the (first) form of a page."""
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', html))


def _propose(client: Any, title: str, cost: str = "", **attrs: str) -> Any:
    page = client.get("/decisions/new")
    assert page.status_code == 200, page.text
    hidden = _form_fields(page.text)
    data = {**hidden, "cycle": "est-2027-03", "title": title, "cost": cost}
    data |= {f"attr.{key}": value for key, value in attrs.items()}
    preview = client.post("/decisions/new", data=data | {"action": "preview"})
    assert preview.status_code == 200, preview.text
    data["form_id"] = _form_fields(preview.text)["form_id"]
    return preview, data


def _decisions(store: Store) -> list[Decision]:
    with store.reading() as session:
        return list(session.scalars(select(Decision).order_by(Decision.id)))


def _states(store: Store) -> list[tuple[Any, ...]]:
    return [(d.id, d.status, d.body, d.decided_on, d.paragraph) for d in _decisions(store)]


def _record_form(client: Any, decision: int) -> dict[str, str]:
    page = client.get(f"/decisions/{decision}")
    assert page.status_code == 200, page.text
    return _form_fields(page.text)


# ---------------------------------------------------------------- end to end


def test_a_ks_decision_proposed_then_recorded_by_the_secretary(
    client: Any, store: Store, clock: Clock
) -> None:
    demo_sign_in(client, CHAIR)
    preview, data = _propose(client, "Kameraövervakning vid resecentrum", "250 000 kr")
    # The route and its reason are shown before anything is proposed.
    assert "Kommunstyrelsen (KS)" in preview.text
    assert "Kostnaden överstiger 200 000 kr och kräver politiskt beslut" in preview.text
    assert 'value="propose"' in preview.text
    assert _decisions(store) == []

    made = client.post("/decisions/new", data=data | {"action": "propose"})
    assert made.status_code == 303, made.text
    (decision,) = _decisions(store)
    assert made.headers["location"] == f"/decisions/{decision.id}?proposed=1"
    assert (decision.routed_to, decision.rule, decision.proposed_by) == (
        "ks",
        "kostnad_over_200000",
        CHAIR,
    )
    shown = client.get(made.headers["location"])
    assert "Föreslaget." in shown.text
    assert "kostnad_over_200000" in shown.text
    assert "2027-04-07" in shown.text  # KS's first meeting after four weeks' lead time

    clock.set(local(2027, 4, 7, 15))  # KS meets and decides
    demo_sign_in(client, SECRETARY)
    register = client.get("/decisions").text  # hers to record, though not of EST's group
    assert f'href="/decisions/{decision.id}"' in register
    assert 'href="/cycles/est-2027-03"' not in register  # a cycle she may not read
    form = _record_form(client, decision.id)
    wording = (
        "Kommunstyrelsen beslutar <b>att</b> bifalla förslaget.\nAtt ge kommunchefen i uppdrag"
    )
    recording = {"body": "ks", "date": "2027-04-07", "paragraph": "§ 42", "outcome": "approved"}
    answer = client.post(
        f"/decisions/{decision.id}/record", data=form | recording | {"decision_text": wording}
    )
    assert answer.status_code == 303, answer.text
    (recorded,) = _decisions(store)
    assert (recorded.status, recorded.body, recorded.paragraph, recorded.recorded_by) == (
        "approved",
        "ks",
        "§ 42",
        SECRETARY,
    )
    page = client.get(answer.headers["location"])
    assert "Utfallet är registrerat." in page.text
    assert "Mötesdatum</dt><dd>2027-04-07</dd>" in page.text
    assert "§ 42" in page.text
    assert recorded.decision_text == wording
    assert "beslutar &lt;b&gt;att&lt;/b&gt; bifalla" in page.text  # HTML shown as text
    assert "<b>att</b>" not in page.text
    assert 'action="/decisions/1/record"' not in page.text  # recorded: no form any more
    with store.reading() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert actions.count("decision.proposed") == 1
    assert actions.count("decision.recorded") == 1


def test_the_page_reads_in_english(client: Any) -> None:
    demo_sign_in(client, CHAIR)
    page = client.get("/decisions/new?lang=en")
    assert "Propose a decision" in page.text
    assert "Show the route" in page.text


# ---------------------------------------------------------------- the register


def _three(engine_store: Store, clock: Clock) -> None:
    """Three decisions of EST, proposed on 8 March: a KS one recorded at KS's meeting on 7 April
    (where the clock is left), a KLG one proposed, a KS one proposed."""
    from tests.enginekit import make_engine

    engine = make_engine(engine_store, "herrljunga", clock)
    decisions = Decisions(engine)
    first, _route = decisions.propose(CHAIR, "est-2027-03", "Belysning i Ljung", 300_000)
    decisions.propose(CHAIR, "est-2027-03", "Trygghetsvandring i Annelund", 5_000)
    decisions.propose(CHAIR, "est-2027-03", '=HYPERLINK("x") policy', None, {"policy": "ja"})
    clock.set(local(2027, 4, 7, 15))  # KS's meeting, the first Wednesday of April
    text = "KS beslutar att bifalla förslaget."
    decisions.record(SECRETARY, first.id, "ks", clock.now.date(), "160", "approved", text=text)


def test_the_register_filters_by_body_status_year_process_and_words(
    client: Any, store: Store, clock: Clock
) -> None:
    _three(store, clock)
    demo_sign_in(client, CHAIR)
    everything = client.get("/decisions")
    assert everything.status_code == 200
    for title in ("Belysning i Ljung", "Trygghetsvandring i Annelund", "HYPERLINK"):
        assert title in everything.text

    def titles(query: str) -> set[str]:
        page = client.get(f"/decisions?{query}")
        assert page.status_code == 200, page.text
        return set(re.findall(r'<a href="/decisions/\d+">([^<]+)</a>', page.text))

    assert titles("body=klg") == {"Trygghetsvandring i Annelund"}
    assert titles("status=approved") == {"Belysning i Ljung"}
    assert titles("status=proposed&body=ks") == {"=HYPERLINK(&#34;x&#34;) policy"}
    assert len(titles("year=2027&process=est")) == 3
    assert titles("year=2026") == set()
    assert titles("process=sspf") == set()
    assert titles("q=ANNELUND") == {"Trygghetsvandring i Annelund"}


def test_someone_of_no_part_in_the_cycle_sees_none_of_its_decisions(
    client: Any, store: Store, clock: Clock
) -> None:
    _three(store, clock)
    demo_sign_in(client, OUTSIDER)
    page = client.get("/decisions")
    assert "Belysning" not in page.text
    assert client.get("/decisions.csv").content.decode("utf-8-sig").count("\r\n") == 1
    refused = client.get("/decisions/1")
    assert refused.status_code == 403
    assert "Belysning" not in refused.text


def test_the_csv_export_is_for_swedish_excel_and_keeps_the_filters(
    client: Any, store: Store, clock: Clock
) -> None:
    _three(store, clock)
    demo_sign_in(client, CHAIR)
    answer = client.get("/decisions.csv?body=ks")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    header, *body = rows
    assert header[:4] == ["Beslut", "Titel", "Process", "Omgång"]
    assert len(body) == 2  # the KLG one filtered out
    approved = next(r for r in body if r[1] == "Belysning i Ljung")
    named = dict(zip(header, approved, strict=True))
    assert named["Kostnad (kr)"] == "300000"
    assert named["Mötesdatum"] == "2027-04-07"
    assert named["Paragraf"] == "§ 160"
    assert named["Beslutstext"] == "KS beslutar att bifalla förslaget."
    assert named["Status"] == "bifallet"
    assert re.fullmatch(r"2027-03-08 \d\d:\d\d", named["Föreslaget"])
    formula = next(r for r in body if "HYPERLINK" in r[1])
    assert formula[1] == '\'=HYPERLINK("x") policy'  # not a formula in Excel
    english = client.get("/decisions.csv?lang=en").content.decode("utf-8-sig")
    assert english.startswith("Decision;Title;Process;Cycle")


# ---------------------------------------------------------------- bad input


def test_bad_values_are_refused_next_to_their_field_and_change_nothing(
    client: Any, store: Store, clock: Clock
) -> None:
    _three(store, clock)
    demo_sign_in(client, SECRETARY)
    form = _record_form(client, 2)
    before = _states(store)

    missing = client.post(
        "/decisions/2/record",
        data=form | {"body": "klg", "date": "2027-03-08", "paragraph": "", "outcome": "approved"},
    )
    assert missing.status_code == 422
    assert re.search(r'<p class="error" id="e-paragraph">[^<]*§ 160', missing.text)
    assert 'aria-describedby="h-paragraph e-paragraph" aria-invalid="true"' in missing.text

    not_a_date = client.post(
        "/decisions/2/record",
        data=form | {"body": "klg", "date": "8 mars", "paragraph": "12", "outcome": "approved"},
    )
    assert not_a_date.status_code == 422
    assert re.search(r'id="e-date">8 mars är inget datum', not_a_date.text)
    assert 'value="8 mars"' in not_a_date.text  # what was written is kept

    future = client.post(
        "/decisions/2/record",
        data=form | {"body": "klg", "date": "2027-05-01", "paragraph": "12", "outcome": "approved"},
    )
    assert future.status_code == 422  # the engine's check, next to the date
    assert re.search(r'id="e-date">[^<]*2027-05-01[^<]*framtiden', future.text)

    bad_paragraph = client.post(
        "/decisions/2/record",
        data=form | {"body": "klg", "date": "2027-03-08", "paragraph": "tolv", "outcome": ""},
    )
    assert bad_paragraph.status_code == 422
    assert 'id="e-paragraph"' in bad_paragraph.text
    assert 'id="e-outcome"' in bad_paragraph.text
    assert _states(store) == before


def test_html_in_the_text_is_shown_as_text(client: Any, store: Store) -> None:
    demo_sign_in(client, CHAIR)
    script = '<script>alert("x")</script><b>fet</b>'
    preview, data = _propose(client, script)
    assert "<script>alert" not in preview.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;fet&lt;/b&gt;" in preview.text
    made = client.post("/decisions/new", data=data | {"action": "propose"})
    page = client.get(made.headers["location"])
    assert "<script>alert" not in page.text
    assert "<b>fet</b>" not in page.text
    assert "&lt;b&gt;fet&lt;/b&gt;" in page.text
    register = client.get("/decisions")
    assert "<script>alert" not in register.text


def test_a_proposal_without_title_or_with_a_bad_cost_is_refused_by_its_field(
    client: Any, store: Store
) -> None:
    demo_sign_in(client, CHAIR)
    page = client.get("/decisions/new")
    hidden = _form_fields(page.text)
    answer = client.post(
        "/decisions/new",
        data=hidden
        | {"cycle": "est-2027-03", "title": "  ", "cost": "mycket", "action": "propose"},
    )
    assert answer.status_code == 422
    assert 'id="e-title"' in answer.text
    assert 'id="e-cost"' in answer.text
    huge = client.post(
        "/decisions/new",
        data=hidden
        | {"cycle": "est-2027-03", "title": "Allt", "cost": "1e12", "action": "propose"},
    )
    assert huge.status_code == 422
    assert re.search(r'id="e-cost">[^<]*inget rimligt belopp', huge.text)
    assert _decisions(store) == []


def test_someone_who_may_not_record_is_refused_with_a_sentence(
    client: Any, store: Store, clock: Clock
) -> None:
    _three(store, clock)
    demo_sign_in(client, REPORTER)
    form = _record_form(client, 2)
    answer = client.post(
        "/decisions/2/record",
        data=form | {"body": "klg", "date": "2027-03-08", "paragraph": "7", "outcome": "approved"},
    )
    assert answer.status_code == 403
    assert re.search(r'<p role="alert">[^<]*nina.bergqvist[^<]*Kommunledningsgruppen', answer.text)
    assert _decisions(store)[1].status == "proposed"
    with store.reading() as session:
        refused = session.scalars(select(RefusedAct.action)).all()
    assert "decision.record" in refused


def test_someone_of_no_group_cannot_propose_from_the_cycle(client: Any, store: Store) -> None:
    token = demo_sign_in(client, OUTSIDER)
    page = client.get("/decisions/new")
    assert "est-2027-03" not in page.text
    assert "Du deltar inte i någon öppen omgång" in page.text
    forged = {"csrf_token": token, "form_id": "x", "cycle": "est-2027-03", "title": "Något"}
    answer = client.post("/decisions/new", data=forged | {"action": "propose"})
    assert answer.status_code == 422
    assert 'id="e-cycle"' in answer.text
    assert _decisions(store) == []


# ---------------------------------------------------------------- double submit


def test_a_proposal_sent_twice_is_proposed_once(client: Any, store: Store) -> None:
    demo_sign_in(client, CHAIR)
    _preview, data = _propose(client, "Väktare vid stationen")
    first = client.post("/decisions/new", data=data | {"action": "propose"})
    second = client.post("/decisions/new", data=data | {"action": "propose"})
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(_decisions(store)) == 1
    # A new form (a new id) proposes again: that is a second proposal, on purpose.
    _preview, again = _propose(client, "Väktare vid stationen")
    client.post("/decisions/new", data=again | {"action": "propose"})
    assert len(_decisions(store)) == 2


def test_an_outcome_sent_twice_is_recorded_once(client: Any, store: Store, clock: Clock) -> None:
    _three(store, clock)
    demo_sign_in(client, SECRETARY)
    form = _record_form(client, 2)
    data = form | {"body": "klg", "date": "2027-03-08", "paragraph": "7", "outcome": "postponed"}
    first = client.post("/decisions/2/record", data=data)
    second = client.post("/decisions/2/record", data=data)
    assert first.status_code == second.status_code == 303
    with store.reading() as session:
        recorded = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "decision.recorded")
        )
    assert recorded == 2  # the decision recorded in _three, and this one once


def test_a_stale_form_gets_a_conflict_not_a_second_record(
    client: Any, store: Store, clock: Clock
) -> None:
    _three(store, clock)
    demo_sign_in(client, SECRETARY)
    stale = _record_form(client, 2)
    fresh = _record_form(client, 2)
    data = {"body": "klg", "date": "2027-03-08", "paragraph": "7", "outcome": "postponed"}
    assert client.post("/decisions/2/record", data=fresh | data).status_code == 303
    conflict = client.post("/decisions/2/record", data=stale | data | {"paragraph": "8"})
    assert conflict.status_code == 409
    assert "medan du hade sidan öppen" in conflict.text
    assert _decisions(store)[1].paragraph == "§ 7"


def test_the_forms_need_their_csrf_token(client: Any, store: Store) -> None:
    demo_sign_in(client, CHAIR)
    _preview, data = _propose(client, "Utan token")
    data.pop("csrf_token")
    answer = client.post("/decisions/new", data=data | {"action": "propose"})
    assert answer.status_code == 403
    assert _decisions(store) == []
    assert csrf_of(client.get("/decisions/new").text)


def test_one_time_form_ids_act_once_when_sent_at_the_same_time() -> None:
    """Two posts of one form in flight together (a double click): the second waits for the
    first and gets its result; a failed act keeps nothing, so the form can be sent again."""
    import threading
    import time

    from tsk_workflow.web.onetime import OneTime

    once = OneTime()
    calls: list[int] = []

    def act() -> str:
        calls.append(1)
        time.sleep(0.2)
        return f"/decisions/{len(calls)}"

    results: list[tuple[str, bool]] = []
    threads = [
        threading.Thread(target=lambda: results.append(once.once("k", act))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert sorted(results) == [
        ("/decisions/1", False),
        ("/decisions/1", False),
        ("/decisions/1", True),
    ]

    def fails() -> str:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        once.once("other", fails)
    assert once.once("other", lambda: "/decisions/9") == ("/decisions/9", True)


def test_a_form_sent_after_the_session_ended_leads_back_to_it(
    client: Any, store: Store, clock: Clock
) -> None:
    _three(store, clock)
    demo_sign_in(client, SECRETARY)
    form = _record_form(client, 2)
    client.cookies.clear()  # the session ended
    data = form | {"body": "klg", "date": "2027-03-08", "paragraph": "7", "outcome": "approved"}
    answer = client.post("/decisions/2/record", data=data)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin"
    assert _states(store)[1][1] == "proposed"
    demo_sign_in(client, SECRETARY)
    back = client.get("/decisions/2/record")  # where the sign-in returns to
    assert back.status_code == 200
    assert 'action="/decisions/2/record"' in back.text


# ---------------------------------------------------------------- the meeting calendar


def test_a_date_that_is_no_meeting_is_refused_by_its_field_unless_the_extra_meeting_box_is_ticked(
    client: Any, store: Store, clock: Clock
) -> None:
    _three(store, clock)
    demo_sign_in(client, SECRETARY)
    form = _record_form(client, 2)
    assert (
        '<input type="checkbox" name="extra_meeting" value="1"' in client.get("/decisions/2").text
    )
    # KLG meets on Mondays; Wednesday 10 March is none of its meetings.
    data = form | {"body": "klg", "date": "2027-03-10", "paragraph": "7", "outcome": "approved"}

    refused = client.post("/decisions/2/record", data=data)

    assert refused.status_code == 422
    assert re.search(
        r'id="e-date">2027-03-10 är inget sammanträde för Kommunledningsgruppen[^<]*'
        r"närmaste sammanträden: 2027-03-08, 2027-03-15",
        refused.text,
    )
    ticked = client.post("/decisions/2/record", data=data | {"extra_meeting": "1", "outcome": ""})
    assert ticked.status_code == 422  # refused for the outcome: the box stays ticked
    assert 'name="extra_meeting" value="1" checked' in ticked.text
    assert _states(store)[1][1] == "proposed"

    answer = client.post("/decisions/2/record", data=data | {"extra_meeting": "1"})

    assert answer.status_code == 303, answer.text
    assert _states(store)[1] == (2, "approved", "klg", local(2027, 3, 10).date(), "§ 7")
    assert _decisions(store)[1].extra_meeting is True
    page = client.get(answer.headers["location"]).text
    assert "Mötesdatum</dt><dd>2027-03-10 (ett extra sammanträde)</dd>" in page


def test_the_api_takes_an_extra_meeting(client: Any, store: Store, clock: Clock) -> None:
    _three(store, clock)
    token = demo_sign_in(client, SECRETARY)
    record = {"body": "klg", "date": "2027-03-10", "paragraph": "§ 7", "outcome": "approved"}
    headers = {"X-CSRF-Token": token}

    refused = client.post("/api/v1/decisions/2/record", json=record, headers=headers)
    assert refused.status_code == 409, refused.text  # refused by the engine, as every rule
    assert refused.json()["detail"].startswith(
        "2027-03-10 är inget sammanträde för Kommunledningsgruppen"
    )
    assert _states(store)[1][1] == "proposed"

    recorded = client.post(
        "/api/v1/decisions/2/record", json=record | {"extra_meeting": True}, headers=headers
    )

    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["date"], recorded.json()["extra_meeting"]) == ("2027-03-10", True)
    listed = {d["id"]: d for d in client.get("/api/v1/decisions").json()}
    assert (listed[1]["extra_meeting"], listed[2]["extra_meeting"]) == (False, True)


# ---------------------------------------------------------------- bodies beyond KLG and KS


def test_a_strategic_measure_goes_to_the_styrgrupp_whose_chair_records_it_on_the_page(
    client: Any, store: Store, clock: Clock
) -> None:
    demo_sign_in(client, CHAIR)
    preview, data = _propose(client, "Trygghet i centrum först", strategisk="ja")
    assert "Styrgrupp (strategiskt råd) (STYRGRUPP)" in preview.text
    assert "styrgruppen beslutar" in preview.text
    made = client.post("/decisions/new", data=data | {"action": "propose"})
    assert made.status_code == 303, made.text
    (decision,) = _decisions(store)
    assert (decision.routed_to, decision.agenda_date) == ("styrgrupp", local(2027, 3, 30).date())

    clock.set(local(2027, 3, 30, 12))
    demo_sign_in(client, "gunilla.ahlberg")  # the styrgrupp's chair, not of EST
    form = _record_form(client, decision.id)
    page = client.get(f"/decisions/{decision.id}").text
    assert '<option value="styrgrupp" selected>' in page
    recording = {
        "body": "styrgrupp",
        "date": "2027-03-30",
        "paragraph": "§ 3",
        "outcome": "approved",
    }
    answer = client.post(f"/decisions/{decision.id}/record", data=form | recording)
    assert answer.status_code == 303, answer.text
    assert _states(store) == [
        (decision.id, "approved", "styrgrupp", local(2027, 3, 30).date(), "§ 3")
    ]


def test_a_department_records_without_a_meeting_by_its_number_on_the_page(
    store: Store, clock: Clock
) -> None:
    from tests.enginekit import make_engine, set_up

    engine = set_up(make_engine(store, "svenljunga", clock))
    engine.open_cycle("maria.holm", "est", "2027-03")
    attrs = {"forvaltning": "Socialförvaltningen"}
    proposed, _route = Decisions(engine).propose(
        "maria.holm", "est-2027-03", "Fältassistenter", 60_000, attrs
    )
    assert (proposed.routed_to, proposed.agenda_date) == ("forvaltning", None)
    with service_client(store, clock) as client:
        demo_sign_in(client, "annika.lund", "svenljunga")  # head of Socialförvaltningen
        page = client.get(f"/decisions/{proposed.id}").text
        assert "beslutas utan sammanträde" in page or "decided without a meeting" in page
        assert "Beslutsdatum" in page or "Decision date" in page
        form = _form_fields(page)
        bad = {
            "body": "forvaltning",
            "date": "2027-03-08",
            "paragraph": "sju",
            "outcome": "approved",
        }
        refused = client.post(f"/decisions/{proposed.id}/record", data=form | bad)
        assert refused.status_code == 422
        assert _states(store)[0][1] == "proposed"
        good = bad | {"paragraph": "D 2027:14"}
        # One person decides alone: there is no extra meeting, and the box says so.
        extra = client.post(
            f"/decisions/{proposed.id}/record", data=form | good | {"extra_meeting": "1"}
        )
        assert extra.status_code == 422
        assert re.search(
            r'id="e-extra_meeting">[^<]*beslutar utan sammanträden, så det finns inget extra',
            extra.text,
        )
        assert _states(store)[0][1] == "proposed"
        answer = client.post(f"/decisions/{proposed.id}/record", data=form | good)
        assert answer.status_code == 303, answer.text
    assert _states(store) == [
        (proposed.id, "approved", "forvaltning", local(2027, 3, 8).date(), "D 2027:14")
    ]
