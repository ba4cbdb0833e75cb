"""The audit pages (``/audit``, ``/audit.csv``, ``/audit/verify``): for ``read_audit`` (here the
admins), refused to anyone else with a page and recorded; the trail filtered, a page at a time,
exported as CSV that ``csv`` reads back row for row; bad filters refused next to their field;
the refused acts; the record verified, against the service's checkpoints. On SQLite and
PostgreSQL, through HTTP."""

from __future__ import annotations

import codecs
import csv
import html
import io
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.enginekit import Clock, local, tasks
from tests.pagekit import table
from tests.webkit import demo_sign_in, herrljunga, service_client
from tsk_workflow import audit, checkpoints
from tsk_workflow.errors import TskError
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import RefusedAct
from tsk_workflow.web import page_audit

CLOCK_START = local(2027, 3, 1, 8)
CHAIR = "jessica.wahlstrom"
REPORTER = "ida.wikstrom"
AUDITOR = "marie.lind"  # an admin: reads the trail without being listed
HTML = "<script>alert('x')</script>"


@pytest.fixture
def world(store: Store, clock: Clock, tmp_path: Path) -> Any:
    engine = herrljunga(store, clock)
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")
    clock.set(local(2027, 3, 3, 10))
    task = next(t for t in tasks(engine, cycle.id) if t.assignees == (REPORTER,))
    engine.complete_task(REPORTER, task.id, f"Inget {HTML}", nothing_to_report=True)
    with pytest.raises(TskError):
        engine.actor(HTML)  # an unknown person: refused, and kept with the name given
    key = checkpoints.generate_key(tmp_path / "audit.key")
    environ = {
        "TSK_AUDIT_KEY": str(key.private),
        "TSK_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
    }
    with service_client(store, clock, environ) as client:
        yield client, engine, cycle, environ


def _trail(store: Store, **filters: Any) -> list[audit.AuditRow]:
    with store.reading() as session:
        return audit.query(session, "herrljunga", tz=local(2027, 1, 1).tzinfo, **filters)


@pytest.mark.parametrize("path", ["/audit", "/audit.csv", "/audit/verify"])
def test_a_reporter_is_refused_with_a_sentence_and_it_is_recorded(
    world: Any, store: Store, path: str
) -> None:
    client, _engine, _cycle, _environ = world
    demo_sign_in(client, REPORTER)
    refused = client.get(path)
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]
    assert "ida.wikstrom får inte läsa granskningsloggen" in refused.text
    with store.reading() as session:
        last = session.scalars(select(RefusedAct).order_by(RefusedAct.id.desc())).first()
    assert last is not None
    assert (last.actor, last.action) == (REPORTER, "read_audit")


def test_the_trail_with_filters(world: Any, store: Store) -> None:
    client, _engine, cycle, _environ = world
    demo_sign_in(client, AUDITOR)
    everything = client.get("/audit")
    assert everything.status_code == 200, everything.text
    rows = table(everything.text, "audit-table")[1:]
    assert [int(r[0]) for r in rows] == [row.seq for row in _trail(store)]
    mine = table(client.get("/audit", params={"actor": REPORTER}).text, "audit-table")[1:]
    assert [int(r[0]) for r in mine] == [row.seq for row in _trail(store, actor=REPORTER)]
    assert {r[2] for r in mine} == {"Ida Wikström (ida.wikstrom)"}
    done = table(client.get("/audit", params={"action": "task.done"}).text, "audit-table")[1:]
    assert [r[4] for r in done] == ["task.done"]
    by_cycle = client.get("/audit", params={"cycle": cycle.ref, "since": "2027-03-03"})
    found = [int(r[0]) for r in table(by_cycle.text, "audit-table")[1:]]
    expected = _trail(store, cycle_id=cycle.id, since=local(2027, 3, 3, 0).date())
    assert found == [row.seq for row in expected]
    assert found
    before = client.get("/audit", params={"until": "2027-03-02"})
    assert [int(r[0]) for r in table(before.text, "audit-table")[1:]] == [
        row.seq for row in _trail(store, until=local(2027, 3, 2).date())
    ]
    nothing = client.get("/audit", params={"actor": "nobody"})
    assert "Ingen händelse" in nothing.text


def test_the_trail_a_page_at_a_time(
    world: Any, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _engine, _cycle, _environ = world
    monkeypatch.setattr(page_audit, "PAGE_SIZE", 2)
    demo_sign_in(client, AUDITOR)
    seqs = [row.seq for row in _trail(store)]
    seen: list[int] = []
    page = client.get("/audit", params={"action": "", "page": "1"})
    pages = 1
    while True:
        seen += [int(r[0]) for r in table(page.text, "audit-table")[1:]]
        following = re.search(r'<a href="([^"]+)" rel="next">', page.text)
        if following is None:
            break
        page = client.get(html.unescape(following.group(1)))
        pages += 1
    assert seen == seqs
    assert pages == (len(seqs) + 1) // 2 > 1
    last = client.get("/audit", params={"page": str(pages)}).text
    assert 'rel="prev"' in last
    assert f"sida {pages} av {pages}" in last


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"since": "2027-13-01"}, "since", "Ange ett datum"),
        ({"since": "2027-03-05", "until": "2027-03-01"}, "until", "före den första"),
        ({"cycle": "est-1999-01"}, "cycle", "est-1999-01"),
    ],
)
def test_bad_filters_are_refused_next_to_their_field(
    world: Any, params: dict[str, str], field: str, message: str
) -> None:
    client, _engine, _cycle, _environ = world
    demo_sign_in(client, AUDITOR)
    page = client.get("/audit", params=params)
    assert page.status_code == 422
    assert f'id="f-{field}" name="{field}"' in page.text
    assert 'aria-invalid="true"' in page.text
    error = page.text.split(f'<p class="error" id="e-{field}">')[1].split("</p>")[0]
    assert message in error
    assert 'id="audit-table"' not in page.text
    csv_answer = client.get("/audit.csv", params=params)
    assert csv_answer.status_code == 422
    assert "text/html" in csv_answer.headers["content-type"]


def test_the_csv_export_reads_back_with_csv(world: Any, store: Store) -> None:
    client, _engine, cycle, _environ = world
    demo_sign_in(client, AUDITOR)
    answer = client.get("/audit.csv", params={"cycle": cycle.ref})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.content.startswith(codecs.BOM_UTF8)
    text = answer.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    expected = _trail(store, cycle_id=cycle.id)
    assert [int(r["seq"]) for r in rows] == [row.seq for row in expected]
    assert [r["hash"] for r in rows] == [row.hash for row in expected]
    done = next(r for r in rows if r["action"] == "task.done")
    assert HTML in done["payload"]  # evidence: as stored
    everything = client.get("/audit.csv").content.decode("utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(everything), delimiter=";"))) == len(_trail(store))


def test_html_in_a_note_or_an_actor_shows_as_text(world: Any) -> None:
    client, _engine, _cycle, _environ = world
    demo_sign_in(client, AUDITOR)
    page = client.get("/audit").text
    assert HTML not in page
    assert "&lt;script&gt;alert(" in page
    refused = table(page, "refused-table")[1:]
    assert refused[0][1] == HTML  # the newest first, as text


def test_the_record_verified_with_the_last_checkpoint(world: Any, store: Store) -> None:
    client, engine, _cycle, environ = world
    demo_sign_in(client, AUDITOR)
    audit_page = client.get("/audit").text
    assert "Ingen kontrollpunkt" in audit_page
    made = checkpoints.publish_now(store, environ, engine.clock(), engine.org)
    assert made is not None
    assert f"händelse {made.checkpoint.seq}" in client.get("/audit").text
    page = client.get("/audit/verify")
    assert page.status_code == 200
    html = page.text
    with store.reading() as session:
        events = audit.count(session)
    assert 'class="status-ok"' in html
    assert f'<dd id="events">{events}</dd>' in html
    assert f"händelse {made.checkpoint.seq}, " in html
    assert environ["TSK_CHECKPOINT_DIR"] in html
    assert f"händelse {made.checkpoint.seq}" in html.split('class="help"')[0]
