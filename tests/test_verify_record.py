"""``tsk audit verify`` checks everything the record claims, on both databases: the state
(decisions, cycles, tasks) replayed from the events against the rows, the documents both ways,
purges real and fake, and a failed check recorded in the trail itself. The chain's own checks
(links, payloads, purge events, time) are in ``test_audit.py``."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import make_url, select

from tests.enginekit import Clock, Tsk, local, make_engine, set_up, tasks
from tests.test_audit import fake_purge, tamper
from tsk_workflow import audit, gdpr, i18n, replay
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.documents import Upload, attach
from tsk_workflow.engine.service import Engine
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, AuditPayload, Task

CHAIR, SECRETARY, KANSLICHEF, SAMORDNARE = (
    "jessica.wahlstrom",
    "nina.bergqvist",
    "marie.lind",
    "erik.sundin",
)
CLOCK_START = local(2027, 3, 1, 9)  # the clock fixture (conftest.py)


@dataclass(frozen=True)
class Story:
    """An EST month, by the engine: what the tests tamper with."""

    cycle: int
    opened: int  # the cycle.opened event
    done_task: int
    cancelled_task: int
    open_task: int
    document: int
    decision: int
    proposed: int  # the decision.proposed event
    recorded: int  # the decision.recorded event
    collected: int  # the cycle.advanced event that ended the reports by hand
    advanced: int  # the cycle.advanced event of the own lägesbilder moved on by hand
    task_done: int  # the task.done event of done_task


def seq_of(store: Store, action: str, **where: object) -> int:
    """The newest event of ``action`` (with these payload values)."""
    with store.reading() as session:
        rows = audit.query(session)
    found = [
        row.seq
        for row in rows
        if row.action == action
        and all((row.payload or {}).get(key) == value for key, value in where.items())
    ]
    return found[-1]


def est_month(engine: Engine, clock: Clock) -> Story:
    """A task done, a document attached, the steps moved on by hand (cancelling the other
    reports and the own lägesbilder; the common lägesbild made and attached by the system), a decision proposed and recorded."""
    store = engine.store
    cycle = engine.open_cycle(CHAIR, "est", clock.now.strftime("%Y-%m")).id
    reports = tasks(engine, cycle)
    clock.advance(hours=1)
    done = reports[0]
    engine.complete_task(done.assignees[0], done.id, "Klart.", nothing_to_report=True)
    clock.advance(hours=1)
    document = attach(engine, CHAIR, cycle, Upload("protokoll.pdf", b"%PDF-1.7 ok"), "protokoll")
    clock.advance(hours=1)
    engine.advance(SAMORDNARE, cycle, "sammanstall", "alla har rapporterat muntligt")
    collected = seq_of(store, "cycle.advanced", trigger="sammanstall")
    engine.advance(SAMORDNARE, cycle, "sammanstall_gemensam", "lägesbilderna togs muntligt")
    advanced = seq_of(store, "cycle.advanced", trigger="sammanstall_gemensam")
    open_task = tasks(engine, cycle)[0]
    clock.advance(hours=1)
    decisions = Decisions(engine)
    decision, _ = decisions.propose(CHAIR, cycle, "Belysning i parken", 40_000)
    proposed = seq_of(store, "decision.proposed")
    clock.advance(hours=1)
    day = clock.now.astimezone(engine.cal.zone).date()
    decisions.record(SECRETARY, decision.id, "klg", day, "§ 101", "approved")
    return Story(
        cycle=cycle,
        opened=seq_of(store, "cycle.opened", process="est"),
        done_task=done.id,
        cancelled_task=reports[1].id,
        open_task=open_task.id,
        document=document.id,
        decision=decision.id,
        proposed=proposed,
        recorded=seq_of(store, "decision.recorded"),
        collected=collected,
        advanced=advanced,
        task_done=seq_of(store, "task.done", task=done.id),
    )


def verify(store: Store, lang: str = "en") -> audit.VerifyResult:
    """What ``audit verify`` finds, said in ``lang``: English, the language of the details
    expected below (Swedish, the default, is checked where it is asked for)."""
    with store.reading() as session, i18n.speaking(lang):
        return replay.verify_record(session)


def found(result: audit.VerifyResult) -> list[tuple[int | None, str]]:
    return [(problem.seq, problem.kind) for problem in result.problems]


@pytest.fixture
def story(engine: Engine, clock: Clock) -> Story:
    return est_month(engine, clock)


# --- an honest record ------------------------------------------------------------------------


def test_an_honest_record_verifies(store: Store, story: Story) -> None:
    result = verify(store)

    assert result.ok, result.problems
    assert (result.problems, result.problem_count) == ((), 0)
    with store.reading() as session:
        opened = session.scalars(select(AuditEvent).where(AuditEvent.action == "cycle.opened"))
        steps = [session.get(AuditPayload, event.seq).payload["step"] for event in opened]  # type: ignore[union-attr]
    assert steps[0] == "insamling"  # cycle.opened says the step the cycle was opened in


def test_replay_streams_in_batches(
    store: Store, story: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "YIELD_PER", 3)
    monkeypatch.setattr(replay, "ROW_BATCH", 2)
    monkeypatch.setattr(replay, "DOCUMENT_BATCH", 1)

    assert verify(store).ok


# --- the state, replayed -----------------------------------------------------------------------


def test_an_edited_decision_is_named(store: Store, story: Story) -> None:
    tamper(store, "UPDATE decisions SET outcome='rejected', paragraph='§ 7'")

    result = verify(store)

    seq = story.recorded
    assert result.problems == (
        audit.Problem(
            seq,
            "state_mismatch",
            f"decision {story.decision}: outcome is 'rejected' but event {seq}"
            f" (decision.recorded) says 'approved'; paragraph is '§ 7' but event {seq} says"
            " '§ 101'",
        ),
    )
    assert (result.ok, result.first_broken) == (False, seq)
    (swedish,) = verify(store, "sv").problems  # by default
    assert swedish.detail == (
        f"beslut {story.decision}: outcome är 'rejected' men händelse {seq} (decision.recorded)"
        f" säger 'approved'; paragraph är '§ 7' men händelse {seq} säger '§ 101'"
    )


@pytest.mark.parametrize(
    ("statement", "kind", "detail"),
    [
        (
            "UPDATE cycles SET state = 'avslutad', status = 'closed' WHERE id = {cycle}",
            "state_mismatch",
            "cycle {cycle} (est-2027-03): state is 'avslutad' but event {advanced}"
            " (cycle.advanced) says 'sammanstallning'; status is 'closed' but event {advanced}"
            " says 'open'",
        ),
        (
            "UPDATE cycles SET group_key = 'sspf' WHERE id = {cycle}",
            "state_mismatch",
            "cycle {cycle} (est-2027-03): group_key is 'sspf' but event {opened}"
            " (cycle.opened) says 'est'",
        ),
        (
            "UPDATE tasks SET status = 'done', done_by = 'mallory' WHERE id = {open_task}",
            "state_mismatch",
            "task {open_task} (cycle {cycle}, step 'sammanstallning'): status is 'done' but no"
            " event says it was done or cancelled since event {advanced} (cycle.advanced) made"
            " it 'open' (edited?)",
        ),
        (
            "UPDATE tasks SET status = 'open', done_by = NULL WHERE id = {done_task}",
            "state_mismatch",
            "task {done_task} (cycle {cycle}, step 'insamling'): status is 'open' but event"
            " {task_done} (task.done) says 'done'; done_by is empty but event {task_done}"
            " says '{done_by}'",
        ),
        (
            "UPDATE tasks SET status = 'done' WHERE id = {cancelled_task}",
            "state_mismatch",
            "task {cancelled_task} (cycle {cycle}, step 'insamling'): status is 'done' but"
            " event {collected} (cycle.advanced) says 'cancelled'",
        ),
        (
            "UPDATE decisions SET recorded_by = 'mallory', title = 'Något annat'"
            " WHERE id = {decision}",
            "state_mismatch",
            "decision {decision}: title is 'Något annat' but event {recorded}"
            " (decision.recorded) says 'Belysning i parken'; recorded_by is 'mallory' but"
            " event {recorded} says 'nina.bergqvist'",
        ),
        (
            "DELETE FROM decisions WHERE id = {decision}",
            "state_mismatch",
            "decision {decision}: there is no such row, but event {proposed}"
            " (decision.proposed) is about it (deleted?)",
        ),
        (
            "INSERT INTO decisions (municipality, cycle_id, title, attrs, routed_to, rule,"
            " reason, proposed_by, proposed_at, status) SELECT municipality, cycle_id, 'Smyg',"
            " attrs, routed_to, rule, reason, proposed_by, proposed_at, 'approved'"
            " FROM decisions WHERE id = {decision}",
            "state_unrecorded",
            "decision {next_decision}: no decision.proposed event accounts for it (inserted?)",
        ),
        (
            "INSERT INTO tasks (cycle_id, municipality, step, key, role, title, required,"
            " status, created_at) SELECT cycle_id, municipality, 'analys', key, role, title,"
            " required, 'open', created_at FROM tasks WHERE id = {done_task}",
            "state_unrecorded",
            "task {next_task} (cycle {cycle}, step 'analys'): no event accounts for it: the"
            " cycle never entered that step (inserted?)",
        ),
    ],
    ids=[
        "cycle",
        "cycle-group",
        "open-task-done",
        "done-task-open",
        "cancelled-task-done",
        "decision-recorder",
        "decision-deleted",
        "decision-inserted",
        "task-inserted",
    ],
)
def test_rows_that_differ_from_the_trail_are_named(
    store: Store, story: Story, statement: str, kind: str, detail: str
) -> None:
    with store.reading() as session:
        done_by = session.get(Task, story.done_task).done_by  # type: ignore[union-attr]
        next_task = max(session.scalars(select(Task.id))) + 1
    values = {
        **story.__dict__,
        "done_by": done_by,
        "next_task": next_task,
        "next_decision": story.decision + 1,
    }
    tamper(store, statement.format(**values))

    result = verify(store)

    assert [(p.kind, p.detail) for p in result.problems] == [(kind, detail.format(**values))]
    assert not result.ok


def test_an_inserted_cycle_is_unrecorded(store: Store, story: Story) -> None:
    columns = (
        "municipality, process, process_version, subject, title, state, status, group_key,"
        " opened_at, opened_by, step_entered_at, forced, late, version"
    )
    tamper(
        store,
        f"INSERT INTO cycles (ref, period, {columns}) SELECT 'est-2027-13', '2027-13', {columns}"
        f" FROM cycles WHERE id = {story.cycle}",
    )

    result = verify(store)

    assert found(result) == [(None, "state_unrecorded")]
    assert result.reason.endswith(
        "(est-2027-13): no cycle.opened event accounts for it (inserted?)"
    )
    assert result.first_broken is None


# --- documents, both ways ----------------------------------------------------------------------


def test_document_content_swapped_with_its_row_is_found(store: Store, story: Story) -> None:
    """The row's SHA-256 and size made to match the new content: the event still says."""
    import hashlib

    forged = b"%PDF-1.7 forged"
    tamper(
        store,
        f"UPDATE documents SET sha256 = '{hashlib.sha256(forged).hexdigest()}',"
        f" size = {len(forged)} WHERE id = {story.document}",
    )
    with store.engine.begin() as connection:  # bytes: through the driver, not as SQL text
        from sqlalchemy import text

        connection.execute(
            text("UPDATE documents SET content = :c WHERE id = :i"),
            {"c": forged, "i": story.document},
        )

    result = verify(store)

    attached = seq_of(store, "document.attached", document=story.document)
    assert found(result) == [(attached, "document_changed")]
    assert result.reason.startswith(
        f"document {story.document} (protokoll.pdf, cycle {story.cycle}): size is 15 but event"
        f" {attached} (document.attached) says 11; sha256 is "
    )


def test_document_content_changed_is_found(store: Store, story: Story) -> None:
    from sqlalchemy import text

    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE documents SET content = :c WHERE id = :i"),
            {"c": b"%PDF-1.7 no", "i": story.document},
        )

    result = verify(store)

    attached = seq_of(store, "document.attached", document=story.document)
    assert result.problems == (
        audit.Problem(
            attached,
            "document_changed",
            f"document {story.document} (protokoll.pdf, cycle {story.cycle}): content does not"
            f" match the SHA-256 recorded when it was attached (event {attached}) (changed?)",
        ),
    )


def test_a_deleted_document_is_missing(store: Store, story: Story) -> None:
    tamper(store, f"DELETE FROM documents WHERE id = {story.document}")

    result = verify(store)

    attached = seq_of(store, "document.attached", document=story.document)
    assert result.problems == (
        audit.Problem(
            attached,
            "document_missing",
            f"document {story.document} (protokoll.pdf, cycle {story.cycle}), attached by event"
            f" {attached}, is gone (deleted?)",
        ),
    )


def test_a_document_inserted_without_its_event_is_unrecorded(store: Store, story: Story) -> None:
    tamper(
        store,
        "INSERT INTO documents (cycle_id, step, kind, filename, media_type, size, sha256,"
        " content, attached_by, attached_at) SELECT cycle_id, step, kind, 'falsk.pdf',"
        f" media_type, size, sha256, content, attached_by, attached_at FROM documents"
        f" WHERE id = {story.document}",
    )

    result = verify(store)

    assert found(result) == [(None, "document_unrecorded")]
    assert result.reason == (
        f"document {story.document + 2} (falsk.pdf, cycle {story.cycle}): no document.attached"
        " event records it (inserted?)"
    )


def test_a_document_swapped_after_a_fake_purge_is_found(store: Store, story: Story) -> None:
    """The attachment's event "purged" so that it no longer says the SHA-256, then the
    content and its row's SHA-256 swapped: the purge is fake, and no event records the row."""
    import hashlib

    attached = seq_of(store, "document.attached", document=story.document)
    fake_purge(store, attached)
    forged = hashlib.sha256(b"%PDF-1.7 ok").hexdigest()
    tamper(store, f"UPDATE documents SET sha256 = '{forged}' WHERE id = {story.document}")

    result = verify(store)

    assert found(result) == [(attached, "fake_purge"), (None, "document_unrecorded")]


# --- purges --------------------------------------------------------------------------------------


@pytest.fixture
def purged(store: Store) -> tuple[Engine, Story]:
    """A month of 2023 and one of 2027, and the old one's free text purged (Herrljunga keeps
    it three years) by the kanslichef through ``gdpr.purge``."""
    clock = Clock(local(2023, 3, 6, 9))
    engine = make_engine(store, "herrljunga", clock)
    old = est_month(engine, clock)
    clock.set(local(2027, 3, 1, 9))
    est_month(engine, clock)
    clock.set(local(2027, 6, 1, 9))
    result = gdpr.purge(engine, KANSLICHEF, dt.date(2024, 1, 1))
    # the task done and the two steps moved on, with their notes
    assert result.audit_payloads == 3
    return engine, old


def test_a_real_purge_verifies_and_replays(store: Store, purged: tuple[Engine, Story]) -> None:
    _engine, old = purged
    with store.reading() as session:
        payloads = {
            seq: session.get(AuditPayload, seq).payload  # type: ignore[union-attr]
            for seq in (old.task_done, old.collected, old.advanced)
        }

    result = verify(store)

    assert result.ok, result.problems
    assert set(map(json.dumps, payloads.values())) == {json.dumps(audit.PURGED)}


def test_replay_takes_what_a_purge_kept(store: Store, purged: tuple[Engine, Story]) -> None:
    """The task done and the steps moved on are purged, yet still say what they did: the purge
    event kept it, digested in the chain."""
    _engine, old = purged
    with store.reading() as session:
        done_by = session.get(Task, old.done_task).done_by  # type: ignore[union-attr]
    tamper(
        store,
        f"UPDATE tasks SET status = 'open', done_by = NULL WHERE id = {old.done_task}",
        f"UPDATE cycles SET state = 'insamling' WHERE id = {old.cycle}",
    )

    result = verify(store)

    assert [problem.detail for problem in result.problems] == [
        f"task {old.done_task} (cycle {old.cycle}, step 'insamling'): status is 'open' but event"
        f" {old.task_done} (task.done) says 'done'; done_by is empty but event {old.task_done}"
        f" says '{done_by}'",
        f"cycle {old.cycle} (est-2023-03): state is 'insamling' but event {old.advanced}"
        " (cycle.advanced) says 'sammanstallning'",
    ]
    # each located at the newest event about it: the task's own, and the cycle's (the
    # lägesbild attached as the step moved on)
    assert found(result) == [
        (old.task_done, "state_mismatch"),
        (old.advanced + 1, "state_mismatch"),
    ]


def test_a_purge_not_listing_an_event_does_not_cover_it(
    store: Store, purged: tuple[Engine, Story]
) -> None:
    _engine, old = purged
    fake_purge(store, old.proposed + 1)  # the decision's case cycle opened: never purged
    new_task_done = max(seq_of(store, "task.done"), old.task_done)
    fake_purge(store, new_task_done)  # a task done in 2027, after the purge's cut-off

    result = verify(store)

    assert found(result) == [(old.proposed + 1, "fake_purge"), (new_task_done, "fake_purge")]


def test_an_older_purge_without_what_it_kept_replays_leniently(
    store: Store, story: Story, clock: Clock
) -> None:
    """Purge events written before purges listed their events and kept their fields: the
    replay no longer knows which task was done nor where the step went, and says nothing it
    cannot know."""
    purged_at = clock.advance(days=1)
    legacy = audit.Act(
        "herrljunga",
        KANSLICHEF,
        "kanslichef",
        audit.PURGE_ACTION,
        "municipality:herrljunga",
        {"before": purged_at.isoformat(), "audit_payloads": 3},
    )
    with store.transaction() as session:
        for seq in (story.task_done, story.collected, story.advanced):
            audit.purge(session, seq, purged_at)
        audit.append(session, legacy, purged_at)

    assert verify(store).ok


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def cli(
    store: Store, engine: Engine, story: Story, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> Tsk:
    set_up(engine)
    return Tsk(runner, store, "herrljunga", engine.clock, monkeypatch)  # type: ignore[arg-type]


def test_verify_json(cli: Tsk, store: Store, story: Story) -> None:
    assert cli.ok("audit", "verify") == {
        "ok": True,
        "events": seq_of(store, "organisation.loaded"),
        "anchored_to": None,
        "unanchored": seq_of(store, "organisation.loaded"),
        "problems": [],
    }
    tamper(store, f"UPDATE tasks SET status = 'cancelled' WHERE id = {story.done_task}")

    result = cli("audit", "verify", "--json")

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert list(report) == ["ok", "events", "anchored_to", "unanchored", "problems"]
    assert report["ok"] is False
    assert report["problems"] == [
        {
            "seq": story.task_done,
            "kind": "state_mismatch",
            "detail": f"uppgift {story.done_task} (cykel {story.cycle}, steg 'insamling'): status är"
            f" 'cancelled' men händelse {story.task_done} (task.done) säger 'done'",
        }
    ]


def test_a_failed_verify_is_recorded(cli: Tsk, store: Store, story: Story) -> None:
    tamper(store, "UPDATE decisions SET outcome='rejected', paragraph='§ 7'")
    before = seq_of(store, "organisation.loaded")

    result = cli("audit", "verify", as_=KANSLICHEF)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(
        f"BRUTEN vid händelse {story.recorded}: beslut {story.decision}: outcome är 'rejected'"
    )
    assert result.stderr.splitlines()[-1] == (
        f"Den misslyckade kontrollen är sparad som händelse {before + 1}."
    )
    with store.reading() as session:
        (event,) = [row for row in audit.query(session) if row.seq > before]
    assert (event.action, event.actor, event.role) == (
        "audit.verification_failed",
        KANSLICHEF,
        "auditor",
    )
    assert event.payload == {
        "problems": 1,
        "first": [{"seq": story.recorded, "kind": "state_mismatch"}],
        "os_user": getpass.getuser(),
    }
    assert event.municipality == "herrljunga"

    again = cli("audit", "verify", "--json")  # without --as: the system ran it

    assert again.exit_code == 1
    with store.reading() as session:
        last = audit.query(session)[-1]
    assert (last.actor, last.role, last.seq) == ("tsk", "system", before + 2)
    assert json.loads(again.stdout)["events"] == before + 1  # the first record is intact


def read_only_url(store: Store) -> str:
    url = make_url(store.url)
    if store.dialect == "sqlite":
        return f"sqlite:///file:{url.database}?mode=ro&uri=true"
    options = f"{url.query.get('options', '')} -cdefault_transaction_read_only=on".strip()
    return url.update_query_dict({"options": options}).render_as_string(hide_password=False)


def test_a_read_only_database_gets_a_note(
    cli: Tsk, store: Store, story: Story, runner: CliRunner
) -> None:
    from tsk_workflow.cli import cli as tsk

    tamper(store, f"UPDATE tasks SET status = 'open' WHERE id = {story.done_task}")
    before = seq_of(store, "organisation.loaded")

    result = runner.invoke(tsk, ["--db", read_only_url(store), "audit", "verify"])

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"BRUTEN vid händelse {story.task_done}: uppgift {story.done_task}")
    assert lines[-1].startswith(
        "tsk: den misslyckade kontrollen kunde inte sparas i granskningsloggen"
        " (audit.verification_failed): "
    )
    assert seq_of(store, "organisation.loaded") == before
    with store.reading() as session:
        assert audit.query(session)[-1].seq == before


def test_verify_with_checkpoints_says_how_far_the_chain_is_anchored(
    cli: Tsk, store: Store, engine: Engine, story: Story, tmp_path: Path
) -> None:
    from tsk_workflow import checkpoints

    key = tmp_path / "audit.key"
    checkpoints.generate_key(key)
    signed = checkpoints.make_checkpoint(store, checkpoints.load_private_key(key), engine.clock())
    file = checkpoints.append(tmp_path / "checkpoints", signed)
    engine.complete_task(*_first_open(engine, story.cycle), "efter kontrollpunkten")
    options = ("--checkpoints", str(file), "--public-key", f"{key}.pub")
    with store.reading() as session:
        head = audit.query(session)[-1].seq  # the task done, and what it moved on

    report = cli.ok("audit", "verify", *options)
    text = cli.text("audit", "verify", *options).splitlines()

    assert report == {
        "ok": True,
        "events": head,
        "anchored_to": signed.seq,
        "unanchored": head - signed.seq,
        "problems": [],
    }
    assert text[-1] == (
        f"Förankrad till händelse {signed.seq} i kontrollpunkterna;"
        f" {head - signed.seq} händelser efter den är ännu inte förankrade."
    )
    other = tmp_path / "mallory.key"
    checkpoints.generate_key(other)
    forged = checkpoints.sign(
        checkpoints.load_private_key(other), signed.seq, signed.hash, signed.count, signed.at
    )
    file.write_text(forged.to_line() + "\n", encoding="utf-8")

    refused = cli("audit", "verify", *options, "--json")

    assert refused.exit_code == 1
    forged_report = json.loads(refused.stdout)
    assert (forged_report["anchored_to"], forged_report["unanchored"]) == (None, head)
    assert [p["kind"] for p in forged_report["problems"]] == ["checkpoint_signature"]


def _first_open(engine: Engine, cycle: int) -> tuple[str, int]:
    task = tasks(engine, cycle)[0]
    return task.assignees[0], task.id


def test_checkpoints_and_their_key_go_together(cli: Tsk, tmp_path: Path) -> None:
    result = cli("audit", "verify", "--checkpoints", str(tmp_path))

    assert result.exit_code == 2
    assert "ange --checkpoints och --public-key tillsammans" in result.stderr
    result = cli("--lang", "en", "audit", "verify", "--checkpoints", str(tmp_path))
    assert result.exit_code == 2
    assert "give --checkpoints and --public-key together" in result.stderr
