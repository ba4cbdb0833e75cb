"""The personal data guard (issue 22): a Swedish personal identity number (personnummer or
samordningsnummer, with or without century and separator, Luhn checked with python-stdnum)
in free text is refused by the engine, so by the command line, the pages and the API alike,
with a sentence that says why and how to write instead; an organisation with
``privacy.personal_numbers: warn`` lets it through with a warning; the forms show the guidance
before a person writes."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from stdnum import luhn

from tests.enginekit import Clock, Tsk, local, tasks
from tests.test_page_report import block, page_form
from tests.webkit import demo_sign_in, herrljunga, service_client
from tsk_workflow import i18n
from tsk_workflow.catalog import resolve_organisation_path
from tsk_workflow.engine.actions import Actions, InvalidAction
from tsk_workflow.engine.events import InvalidEvents, report_events
from tsk_workflow.engine.privacy import PersonalNumbers, identity_numbers
from tsk_workflow.engine.service import Engine
from tsk_workflow.store.database import Store

CHAIR = "jessica.wahlstrom"
ADMIN = "marie.lind"
STAFF = "ida.wikstrom"
OWNER = "jonas.ek"
PNR = "811218-9876"  # a valid personnummer (Luhn)


def coordination_number() -> str:
    """A valid samordningsnummer: born on the 18th, so the day is 78."""
    nine = "811278987"
    return f"{nine[:6]}-{nine[6:]}{luhn.calc_check_digit(nine)}"


SAMORDNING = coordination_number()


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with i18n.speaking("en"):
        yield


# ---------------------------------------------------------------- what is found


@pytest.mark.parametrize(
    "number",
    [
        PNR,  # no century, with -
        PNR.replace("-", ""),  # no century, no separator
        "19" + PNR,  # century, with -
        "19" + PNR.replace("-", ""),  # century, no separator
        PNR.replace("-", "+"),  # aged 100 or more: +
        SAMORDNING,
        "19" + SAMORDNING.replace("-", ""),
    ],
)
def test_a_personal_identity_number_is_found_however_written(number: str) -> None:
    assert identity_numbers(f"Mannen ({number}) sprang mot stationen") == [number]


@pytest.mark.parametrize(
    "text",
    [
        "811218-9875",  # the check digit is wrong
        "811278-9876",  # a samordningsnummer with a wrong check digit
        f"811232-987{luhn.calc_check_digit('811232987')}",  # no day 32; the check digit is right
        "Ring 070-123 45 67 eller 0701234568",  # phone numbers
        "Det hände 2027-03-14 kl. 22:15, dnr 2027/00123",  # a date, a case number
        "20270314",
        "1234567890123",  # thirteen digits: no identity number inside
    ],
)
def test_what_is_no_personal_identity_number_is_not_found(text: str) -> None:
    assert identity_numbers(text) == []


# ---------------------------------------------------------------- the engine refuses


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    clock.set(local(2027, 3, 3, 9))
    return herrljunga(store, clock)


def test_every_free_text_of_the_engine_is_guarded(engine: Engine) -> None:
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    report = tasks(engine, cycle)[0]
    answers = {"kategori": "klotter", "ort": "herrljunga", "beskrivning": f"Han har {PNR}"}
    with pytest.raises(PersonalNumbers) as refused:
        engine.complete_task(report.assignees[0], report.id, None, answers)
    assert [p.key for p in refused.value.problems] == ["beskrivning"]
    assert "GDPR art. 10" in str(refused.value)
    assert "'a man in his 30s'" in str(refused.value)
    with pytest.raises(PersonalNumbers):
        engine.complete_task(
            report.assignees[0], report.id, f"Anmäld: {SAMORDNING}", nothing_to_report=True
        )
    assert [t.id for t in tasks(engine, cycle)].count(report.id) == 1  # still open
    with pytest.raises(PersonalNumbers) as refused:
        engine.close_cycle(CHAIR, cycle, f"Avslutad, se {PNR}", force=True)
    assert refused.value.field == "note"
    with pytest.raises(InvalidEvents) as wrong:
        report_events(
            engine,
            STAFF,
            [
                {
                    "category": "klotter",
                    "when": "2027-03-02",
                    "town": "herrljunga",
                    "place": f"hos {PNR.replace('-', '')}",
                    "description": "Taggar",
                }
            ],
        )
    assert [p.field for p in wrong.value.problems] == ["place"]
    register = Actions(engine)
    made = register.add(
        CHAIR,
        {
            "title": "Belysning",
            "cause": "Mörkt",
            "start": "2027-03-15",
            "due": "2027-05-31",
            "owner": OWNER,
        },
    )
    with pytest.raises(InvalidAction) as invalid:
        register.followup(OWNER, made.id, status="yellow", note=f"Kontakt med 19{PNR}")
    assert [p.field for p in invalid.value.problems] == ["note"]
    # A phone number and a date go through.
    calm = answers | {"beskrivning": "En man i 30-årsåldern"}
    engine.complete_task(report.assignees[0], report.id, "Ring 070-123 45 67, 2027-03-02", calm)


# ---------------------------------------------------------------- the command line


@pytest.fixture
def tsk(runner: CliRunner, engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Tsk:
    return Tsk(runner, engine.store, "herrljunga", clock, monkeypatch)


def test_the_command_line_refuses_with_why_and_how(engine: Engine, tsk: Tsk) -> None:
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    report = tasks(engine, cycle)[0]
    line = tsk.refused(
        "--lang",
        "en",
        "task",
        "done",
        str(report.id),
        "--answer",
        "kategori=klotter",
        "--answer",
        "ort=herrljunga",
        "--answer",
        f"beskrivning=Kalle {PNR}",
        as_=report.assignees[0],
    )
    assert line.startswith("tsk: beskrivning: this looks like a Swedish personal identity number")
    assert "instead of a name or a personnummer" in line
    swedish = tsk.refused(
        "event",
        "report",
        "--category",
        "klotter",
        "--when",
        "2027-03-02",
        "--town",
        "herrljunga",
        "--description",
        f"Mannen med samordningsnummer {SAMORDNING}",
        as_=STAFF,
    )
    assert "personnummer" in swedish
    assert "GDPR art. 10" in swedish
    assert tsk.ok("event", "list", as_=STAFF) == []


# ---------------------------------------------------------------- the pages and the API


@pytest.fixture
def client(engine: Engine, clock: Clock) -> Iterator[TestClient]:
    with service_client(engine.store, clock) as client:
        yield client


def test_the_forms_show_the_guidance_before_a_person_writes(
    engine: Engine, client: TestClient
) -> None:
    demo_sign_in(client, STAFF)
    page = client.get("/report", params={"lang": "en"}).text
    described = re.search(r'<textarea id="e0-description"[^>]*aria-describedby="([^"]*)"', page)
    assert described is not None
    assert "e0-description-help" in described.group(1).split()
    help_text = re.search(r'<p class="help" id="e0-description-help">([^<]*)</p>', page)
    assert help_text is not None
    assert "personnummer or samordningsnummer" in html.unescape(help_text.group(1))

    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    report = tasks(engine, cycle)[0]
    demo_sign_in(client, report.assignees[0])
    page = client.get(f"/tasks/{report.id}", params={"lang": "en"}).text
    assert 'id="privacy-help"' in page
    assert re.search(r'<textarea id="note"[^>]*aria-describedby="privacy-help"', page)
    assert re.search(r'id="f-beskrivning"[^>]*aria-describedby="[^"]*privacy-help', page)


def test_the_page_and_the_api_refuse(engine: Engine, client: TestClient) -> None:
    demo_sign_in(client, STAFF)
    page = client.get("/report", params={"lang": "en"}).text
    refused = client.post(
        "/report",
        data={
            **page_form(page),
            **block(0, date="2027-03-02", description=f"Det var {PNR}"),
            "send": "1",
        },
    )
    assert refused.status_code == 422
    found = re.search(r'<p class="error" id="e0-description-error">([^<]*)</p>', refused.text)
    assert found is not None
    assert "personal data must not be written here" in html.unescape(found.group(1))

    csrf = demo_sign_in(client, STAFF)
    body = {
        "events": [
            {
                "category": "klotter",
                "when": "2027-03-02",
                "town": "herrljunga",
                "description": f"Det var {PNR}",
            }
        ]
    }
    answer = client.post(
        "/api/v1/events", json=body, headers={"X-CSRF-Token": csrf, "Accept-Language": "en"}
    )
    assert answer.status_code == 422
    assert any(
        e["field"] == "events.0.description" and "personnummer" in e["message"]
        for e in answer.json()["errors"]
    )

    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    report = tasks(engine, cycle)[0]
    csrf = demo_sign_in(client, report.assignees[0])
    done = client.post(
        f"/api/v1/tasks/{report.id}/done",
        json={"note": f"Se {PNR}", "nothing_to_report": True},
        headers={"X-CSRF-Token": csrf, "Accept-Language": "en"},
    )
    assert done.status_code == 422, done.text
    assert "personuppgifter får inte skrivas här" in done.text  # the session speaks Swedish


# ---------------------------------------------------------------- warn instead


@pytest.fixture
def warning_organisation(tsk: Tsk, tmp_path: Path) -> None:
    source = resolve_organisation_path("herrljunga").read_text(encoding="utf-8")
    changed = source.replace("  retention: P3Y\n", "  retention: P3Y\n  personal_numbers: warn\n")
    assert changed != source
    path = tmp_path / "herrljunga.yaml"
    path.write_text(changed, encoding="utf-8")
    tsk.ok("org", "load", str(path), as_=ADMIN)


@pytest.mark.usefixtures("warning_organisation")
def test_an_organisation_may_warn_instead(engine: Engine, tsk: Tsk, client: TestClient) -> None:
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    first, second = tasks(engine, cycle)[:2]
    result = tsk(
        "--lang",
        "en",
        "task",
        "done",
        str(first.id),
        "--nothing-to-report",
        "--note",
        f"Se {PNR}",
        as_=first.assignees[0],
    )
    assert result.exit_code == 0, result.output
    assert "tsk: warning: note: this looks like a Swedish personal identity number" in result.stderr
    assert "It was saved, as Herrljunga kommun allows" in result.stderr

    demo_sign_in(client, STAFF)
    page = client.get("/report", params={"lang": "en"}).text
    sent = client.post(
        "/report",
        data={
            **page_form(page),
            **block(0, date="2027-03-02", description=f"Det var {PNR}"),
            "send": "1",
        },
    )
    assert sent.status_code == 303, re.findall(r"class=\"error\"[^>]*>([^<]*)<", sent.text)
    assert sent.headers["location"].endswith("?warned=1")
    receipt = client.get(sent.headers["location"]).text
    assert "It was saved, as Herrljunga kommun allows" in html.unescape(receipt)

    csrf = demo_sign_in(client, second.assignees[0])
    done = client.post(
        f"/api/v1/tasks/{second.id}/done",
        json={"note": f"Se {PNR}", "nothing_to_report": True},
        headers={"X-CSRF-Token": csrf, "Accept-Language": "en"},
    )
    assert done.status_code == 200, done.text
    (warning,) = done.headers.get_list("x-tsk-warning")
    assert unquote(warning).startswith("note: det här ser ut som ett personnummer")
