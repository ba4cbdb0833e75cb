"""``tsk plan YEAR``: the year computed from the definitions, checked against the schedules, the
bodies' meeting rules and the engine itself; as text, JSON and an iCalendar file."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from icalendar import Calendar
from sqlalchemy import select

from tests.dbfixtures import MakeStore
from tests.test_tick import World, local
from tsk_workflow.calendar import STOCKHOLM
from tsk_workflow.catalog import load_catalog, load_organisation
from tsk_workflow.cli import cli
from tsk_workflow.engine import plan, timing
from tsk_workflow.engine.actions import Actions
from tsk_workflow.engine.plan import PlanItem
from tsk_workflow.store.models import AuditEvent, AuditPayload, Task, Timer

KINDS = {"cycle_open", "meeting", "due", "reminder", "report", "review"}


@pytest.fixture(scope="module")
def herrljunga_2027() -> list[PlanItem]:
    catalog = load_catalog()
    return plan.year_plan(load_organisation("herrljunga", catalog), catalog.definitions, 2027)


def of(items: list[PlanItem], cycle: str) -> list[PlanItem]:
    return [item for item in items if item.cycle == cycle]


# --- the pure plan -------------------------------------------------------------------------


def test_the_year_has_every_opening_and_only_dates_of_the_year(
    herrljunga_2027: list[PlanItem],
) -> None:
    catalog = load_catalog()
    org = load_organisation("herrljunga", catalog)
    cal = timing.work_calendar(org)
    openings = plan.openings(
        org, catalog.definitions, cal, dt.date(2027, 1, 1), dt.date(2027, 12, 31)
    )
    opened = [(i.process, i.date) for i in herrljunga_2027 if i.kind == "cycle_open"]

    assert opened == [(o.process, o.date) for o in openings]
    assert Counter(process for process, _ in opened) == {
        "est": 10,  # monthly except July and December
        "sspf": 4,
        "rattighetsnatverket": 4,
        "styrgrupp": 2,
        "arsrapport": 1,
        "fordjupad_lagesbild": 1,  # odd years
        "medborgarloften": 1,  # yearly with the police
        "trygghetsundersokning": 1,  # "medborgarenkäter och dialoger" (003)
        "medborgardialog": 1,
    }
    assert {i.kind for i in herrljunga_2027} == KINDS
    assert all(i.date.year == 2027 for i in herrljunga_2027)
    assert herrljunga_2027 == plan.sort_items(herrljunga_2027)
    # A cycle opened in December 2026 (styrgrupp's second meeting) reaches into 2027.
    assert any(i.cycle == "styrgrupp-2026-t2" for i in herrljunga_2027)


def test_ks_and_kf_meetings_come_from_their_rules(herrljunga_2027: list[PlanItem]) -> None:
    meetings = [i for i in herrljunga_2027 if i.kind == "meeting" and i.process is None]
    ks = [i for i in meetings if i.body == "ks"]
    kf = [i for i in meetings if i.body == "kf"]

    # KS: the first Wednesday of each month but July, at 13:00; 6 January 2027 (trettondedag
    # jul) is a holiday, so that meeting moves to the working day before, by Herrljunga's rule.
    assert [i.date.month for i in ks] == [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12]
    assert ks[0].date == dt.date(2027, 1, 5)
    assert all(i.date.weekday() == 2 and i.date.day <= 7 for i in ks[1:])
    assert {i.start.astimezone(STOCKHOLM).time() for i in ks if i.start} == {dt.time(13)}
    # KF: the third Tuesday of February, April, June, September, November and December.
    assert [i.date for i in kf][:2] == [dt.date(2027, 2, 16), dt.date(2027, 4, 20)]
    assert len(kf) == 6
    assert not [i for i in meetings if i.body == "klg"]  # weekly: not listed


def test_the_yearly_report_has_its_opening_deadline_reminders_and_reports(
    herrljunga_2027: list[PlanItem],
) -> None:
    report = of(herrljunga_2027, "arsrapport-2027")
    kinds = Counter(i.kind for i in report)

    assert [i.date for i in report if i.kind == "cycle_open"] == [dt.date(2027, 2, 22)]
    deadline = [i for i in report if i.title.sv.startswith("Sista dag")]
    assert [i.date for i in deadline] == [dt.date(2027, 5, 31)]
    assert kinds["due"] == 4  # one per step with a task (samordnare: once for the role)
    assert kinds["reminder"] == 5
    to_ks = [i for i in report if i.kind == "report" and i.body == "ks"]
    to_kf = [i for i in report if i.kind == "report" and i.body == "kf"]
    assert len(to_ks) == len(to_kf) == 1
    assert to_ks[0].date < to_kf[0].date
    assert to_ks[0].date.weekday() == 2  # a KS meeting: a Wednesday
    assert "kanslichef" in to_ks[0].roles  # the process's chair, for the pseudo-role chair


def test_roles_name_the_holders_of_the_work(herrljunga_2027: list[PlanItem]) -> None:
    mine = plan.with_roles(herrljunga_2027, ["inrapportor"])

    assert mine
    assert {i.process for i in mine} == {"est"}
    assert {i.kind for i in mine} == {"cycle_open", "meeting", "due", "reminder"}
    assert all("inrapportor" in i.roles for i in mine)
    assert "chair" not in plan.roles_of(herrljunga_2027)


CHAIR = "jessica.wahlstrom"


def test_the_plan_follows_the_engine_along_the_happy_path(make_store: MakeStore) -> None:
    """Walk est-2027-03 through the engine, finishing each step when the plan says it ends:
    the engine's due times, reminders and meeting are the plan's."""
    catalog = load_catalog()
    org = load_organisation("herrljunga", catalog)
    planned = of(plan.year_plan(org, catalog.definitions, 2027), "est-2027-03")
    world = World(make_store("sqlite"), local(2027, 3, 1, 7))
    cycle = world.engine.open_cycle(CHAIR, "est", "2027-03")

    for _ in range(10):
        open_tasks = world.rows(Task, Task.cycle_id == cycle.id, Task.status == "open")
        if not open_tasks:
            break
        meetings = [p for p in _planned_meetings(world) if p["step"] == open_tasks[0].step]
        ends = [t.due_at for t in open_tasks if t.due_at]
        ends += [dt.datetime.fromisoformat(p["end"]) for p in meetings]
        world.clock.now = max(ends)
        for task in open_tasks:
            world.engine.complete_task(
                task.assignee_ids[0], task.id, "klart", nothing_to_report=task.key == "rapport"
            )
        if open_tasks[0].key == "skriv_atgardsplan":  # the plan is actions in the register
            action = {"title": "Belysning", "cause": "Otryggt", "due": "2027-06-30"}
            Actions(world.engine).add(CHAIR, {**action, "owner": CHAIR, "cycle": cycle.id})

    engine_items = Counter()
    tasks = world.rows(Task, Task.cycle_id == cycle.id)
    assert {t.status for t in tasks} == {"done"}
    for task in tasks:
        engine_items[("due", task.step, task.key, _day(task.due_at))] += 1
    for timer in world.rows(Timer, Timer.cycle_id == cycle.id, Timer.kind == "reminder"):
        task = next(t for t in tasks if t.id == timer.task_id)
        engine_items[("reminder", task.step, task.key, _day(timer.fire_at))] += 1
    for meeting in _planned_meetings(world):
        start = dt.datetime.fromisoformat(meeting["start"])
        engine_items[("meeting", meeting["step"], None, _day(start))] += 1
    # A per-person task is planned once for its role: count the engine's once per key and day.
    engine_once = Counter(dict.fromkeys(engine_items, 1))
    plan_items = Counter(
        (i.kind, i.step, i.task, i.date)
        for i in planned
        if i.kind in {"due", "reminder", "meeting"}
    )
    assert plan_items == engine_once
    assert len(plan_items) > 10
    assert {kind for kind, *_ in plan_items} == {"due", "reminder", "meeting"}


def _planned_meetings(world: World) -> list[dict[str, Any]]:
    with world.store.reading() as session:
        query = (
            select(AuditPayload.payload)
            .join(AuditEvent, AuditEvent.seq == AuditPayload.seq)
            .where(AuditEvent.action == "meeting.planned")
        )
        return [dict(p) for p in session.scalars(query)]


def _day(moment: dt.datetime | None) -> dt.date:
    assert moment is not None
    return moment.astimezone(STOCKHOLM).date()


# --- the command ---------------------------------------------------------------------------


def test_plan_prints_the_year_in_swedish_and_needs_no_database(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["--org", "herrljunga", "plan", "2027"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Herrljunga kommun – årsplan 2027 (")
    assert "Januari" in lines
    assert any("öppnas" in line and "EST" in line for line in lines)
    assert any("klart senast" in line for line in lines)
    assert not list(tmp_path.iterdir())  # no tsk.db made


def test_plan_json_lists_the_items_with_their_roles(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--org", "herrljunga", "plan", "2027", "--json"])
    english = runner.invoke(cli, ["--org", "herrljunga", "plan", "2027", "--json", "--lang", "en"])

    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert len(items) > 200
    for item in items:
        assert {"date", "process", "kind", "title", "roles"} <= item.keys()
        assert item["kind"] in KINDS
        dt.date.fromisoformat(item["date"])
        assert isinstance(item["roles"], list)
    assert any(i["title"].startswith("Öppnas: ") for i in items)
    in_english = json.loads(english.stdout)
    assert [i["date"] for i in in_english] == [i["date"] for i in items]
    assert any(i["title"].startswith("Opens: ") for i in in_english)
    meeting = next(i for i in items if i["kind"] == "meeting" and i["process"])
    assert meeting["time"]
    assert meeting["start"].startswith(meeting["date"])


def test_plan_filters_by_role_and_kind(runner: CliRunner) -> None:
    args = ["--org", "herrljunga", "plan", "2027", "--json", "--role", "sekreterare"]
    result = runner.invoke(cli, [*args, "--kind", "report", "--kind", "due"])

    items = json.loads(result.stdout)
    assert items
    assert all("sekreterare" in i["roles"] for i in items)
    assert {i["kind"] for i in items} == {"report", "due"}


def test_plan_refuses_an_unknown_role_or_a_missing_organisation(runner: CliRunner) -> None:
    unknown = runner.invoke(cli, ["--org", "herrljunga", "plan", "2027", "--role", "trollkarl"])
    no_org = runner.invoke(cli, ["plan", "2027"])
    bad_year = runner.invoke(cli, ["--org", "herrljunga", "plan", "tjugo"])

    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("tsk: okänd roll 'trollkarl' i Herrljunga kommun; roller: ")
    assert len(unknown.stderr.splitlines()) == 1
    english = runner.invoke(
        cli, ["--lang", "en", "--org", "herrljunga", "plan", "2027", "--role", "trollkarl"]
    )
    assert english.stderr.startswith("tsk: unknown role 'trollkarl' in Herrljunga kommun; roles: ")
    assert no_org.exit_code == 1
    assert "--org" in no_org.stderr
    assert bad_year.exit_code == 2


def test_plan_writes_an_icalendar_file_calendars_import(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "herrljunga-2027.ics"
    args = ["--org", "herrljunga", "plan", "2027", "--ics", str(path)]
    result = runner.invoke(cli, [*args, "--json"])
    again = tmp_path / "again.ics"
    runner.invoke(cli, ["--org", "herrljunga", "plan", "2027", "--ics", str(again)])

    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    raw = path.read_bytes()
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n")
    calendar = Calendar.from_ical(raw)
    assert calendar["VERSION"] == "2.0"
    assert "tsk-workflow" in str(calendar["PRODID"])
    events = list(calendar.walk("VEVENT"))
    assert len(events) == len(items)
    for event, item in zip(events, items, strict=True):
        for name in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION"):
            assert name in event, (name, item)
        start = event.decoded("DTSTART")
        if item["time"]:  # meetings (and reports at a meeting): a timed event
            assert isinstance(start, dt.datetime)
            assert start == dt.datetime.fromisoformat(item["start"])
        else:  # openings, deadlines, reminders: an all-day event
            assert type(start) is dt.date
            assert start.isoformat() == item["date"]
            assert event.decoded("DTEND") == start + dt.timedelta(days=1)
        assert str(event["SUMMARY"]) == item["title"]
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids)
    assert uids == [str(e["UID"]) for e in Calendar.from_ical(again.read_bytes()).walk("VEVENT")]
