"""``tsk run``: APScheduler calling the scheduler pass (the one of ``tsk tick`` and the demo) and
nothing else, one log line per pass, a clean stop on SIGTERM and Ctrl-C that lets the pass in
progress finish, and the day's digests and checkpoint made by the pass at the organisation's
times."""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import REPO
from tests.dbfixtures import MakeStore
from tests.test_tick import World, local
from tsk_workflow import checkpoints, i18n
from tsk_workflow.calendar import STOCKHOLM
from tsk_workflow.cli import cli
from tsk_workflow.engine.service import Engine
from tsk_workflow.engine.ticker import Ticker, TickResult, worker_id
from tsk_workflow.features import build_engine
from tsk_workflow.schedpass import PassResult, SchedulerPass
from tsk_workflow.scheduler import Options, Service, serve
from tsk_workflow.store.models import Cycle, OutboxMessage

TSK = "import sys; from tsk_workflow.cli import main; sys.exit(main())"
WAIT = 30.0


def _reader(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))


def wait_for(lines: queue.Queue[str], seen: list[str], needle: str) -> str:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no {needle!r} in {WAIT} s; log so far:\n" + "\n".join(seen))


@pytest.fixture
def database(make_store: MakeStore) -> str:
    """A SQLite database with Herrljunga loaded (as ``tsk init`` does) 45 days ago: ``tsk run``
    keeps the real time, and in any 45 days at least one monthly EST cycle opens."""
    store = make_store("sqlite")
    World(store, dt.datetime.now(dt.UTC) - dt.timedelta(days=45)).init()
    return store.url


LOG_WORDS = {
    "en": {"pass": "pass {n} at", "received": "received", "stopped": "stopped after"},
    "sv": {"pass": "körning {n} ", "received": "mottagen", "stopped": "stoppad efter"},
}
"""What the log lines of ``tsk run`` say, in each language (``--lang``)."""


@pytest.mark.parametrize(
    ("signum", "extra", "lang"),
    [(signal.SIGTERM, [], "en"), (signal.SIGINT, ["--json"], "sv")],
    ids=["term", "int"],
)
def test_run_passes_every_interval_and_stops_cleanly_on_a_signal(
    database: str, signum: signal.Signals, extra: list[str], lang: str
) -> None:
    words = LOG_WORDS[lang]
    argv = ["--db", database, "--org", "herrljunga", "--lang", lang]
    argv += ["run", "--interval", "1", *extra]
    proc = subprocess.Popen(
        [sys.executable, "-c", TSK, *argv],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", "TSK_DEBUG": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stderr, lines), daemon=True).start()
    seen: list[str] = []
    try:
        first = wait_for(lines, seen, words["pass"].format(n=1))
        wait_for(lines, seen, words["pass"].format(n=2))  # the interval job runs again
        proc.send_signal(signum)
        code = proc.wait(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT)
    time.sleep(0.1)
    while not lines.empty():
        seen.append(lines.get())
    out = proc.stdout.read() if proc.stdout else ""

    assert code == 0, "\n".join(seen)
    assert out == ""
    assert "Traceback" not in "\n".join(seen)
    assert any(f"{signum.name} {words['received']}" in line for line in seen), seen
    assert words["stopped"] in seen[-1], seen
    if extra:
        records = [json.loads(line) for line in seen]
        passes = [r for r in records if r.get("event") == "pass"]
        assert passes[0]["fired"]["cycle_open"] >= 1  # the missed openings, in the first pass
        assert passes[0]["opened"]
        assert passes[1]["total"] == 0
        assert records[-1]["event"] == "stopped"
    else:
        assert "fired" in first


def test_a_stop_lets_the_pass_in_progress_finish(
    make_store: MakeStore, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(make_store("sqlite"), local(2027, 1, 4, 6))
    world.init()
    started, finished = threading.Event(), threading.Event()
    real = Ticker.tick

    def slow(self: Ticker, now: dt.datetime, batch: int = 500, **options: Any) -> TickResult:
        started.set()
        time.sleep(0.5)
        result = real(self, now, batch, **options)
        finished.set()
        return result

    monkeypatch.setattr(Ticker, "tick", slow)
    with i18n.speaking("en"):  # the service logs in the language spoken when it is made
        service = Service(
            {"herrljunga": world.engine},
            Options(interval=3600),
            clock=lambda: local(2027, 1, 4, 8),
        )
    stop = threading.Event()
    codes: list[int] = []
    caplog.set_level(logging.INFO, logger="tsk_workflow.scheduler")
    runner = threading.Thread(target=lambda: codes.append(serve(service, stop)))
    runner.start()
    assert started.wait(WAIT)
    stop.set()  # while the pass is running
    runner.join(WAIT)

    assert codes == [0]
    assert finished.is_set()
    messages = [
        r.getMessage()
        for r in caplog.records
        if r.name == "tsk_workflow.scheduler" and r.levelno == logging.INFO
    ]
    assert [m.split(" ")[0] for m in messages] == ["started", "pass", "stopped"]
    assert "opened est-2027-01" in messages[1]
    assert world.count(Cycle) == 1
    assert service.run_pass() is None  # a stopped service takes no more passes


# ------------------------------------------------------------------ one pass, at the organisation's times


def herrljunga_at(times: dict[str, str], world: World) -> Engine:
    """World's Herrljunga, its ``mail.digest_time`` and ``audit.checkpoint_time`` set to
    ``times`` (``{"digest": "06:30", "checkpoint": "22:00"}``): not the defaults."""
    org = world.engine.org
    changed = org.model_copy(
        update={
            "mail": org.mail.model_copy(update={"digest_time": times["digest"]}),
            "audit": org.audit.model_copy(update={"checkpoint_time": times["checkpoint"]}),
        }
    )
    return build_engine(world.store, world.engine.catalog, changed, world.clock)


def test_the_services_one_pass_makes_the_digests_and_the_checkpoint_at_the_organisations_times(
    make_store: MakeStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = World(make_store("sqlite"), local(2027, 3, 1, 7))
    world.init()
    world.engine.open_cycle("gunilla.ahlberg", "styrgrupp", "2027-t1")  # two digest people
    engine = herrljunga_at({"digest": "06:30", "checkpoint": "22:00"}, world)
    key = tmp_path / "audit-key.pem"
    checkpoints.generate_key(key)
    env = {"TSK_AUDIT_KEY": str(key), "TSK_CHECKPOINT_DIR": str(tmp_path / "published")}
    with i18n.speaking("en"):
        service = Service({"herrljunga": engine}, Options(), clock=world.clock, environ=env)
    caplog.set_level(logging.INFO, logger="tsk_workflow.scheduler")

    def run_pass(hour: int, minute: int) -> PassResult:
        world.clock.now = local(2027, 3, 2, hour, minute)
        result = service.run_pass()
        assert result is not None
        return result

    before = run_pass(6, 25)
    assert (before.digests, before.checkpoint) == (0, None)
    digests = run_pass(6, 35)  # the organisation's 06:30, not 07:00
    assert (digests.digests, digests.checkpoint) == (2, None)
    assert "; 2 digests queued" in caplog.records[-1].getMessage()
    assert run_pass(7, 5).digests == 0  # once a day
    assert run_pass(21, 55).checkpoint is None
    signed = run_pass(22, 5)  # the organisation's 22:00, not 23:45
    assert signed.checkpoint is not None
    assert signed.checkpoint["at"] == local(2027, 3, 2, 22, 5).isoformat()
    assert f"checkpoint {signed.checkpoint['seq']} signed" in caplog.records[-1].getMessage()
    assert run_pass(23, 50).checkpoint is None  # once a day
    found, problems = checkpoints.read(tmp_path / "published")
    assert (len(found), problems) == (1, [])
    assert [r.template for r in world.rows(OutboxMessage, OutboxMessage.template == "digest")] == [
        "digest",
        "digest",
    ]
    assert service.passes == 6


def test_apscheduler_has_one_job_the_pass_which_catches_up_at_start(
    make_store: MakeStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = World(make_store("sqlite"), local(2027, 3, 1, 7))
    world.init()
    key = tmp_path / "audit-key.pem"
    checkpoints.generate_key(key)
    env = {"TSK_AUDIT_KEY": str(key), "TSK_CHECKPOINT_DIR": str(tmp_path / "published")}
    world.clock.now = local(2027, 3, 1, 23, 50)  # after the checkpoint time: caught up at start
    service = Service(
        {"herrljunga": world.engine}, Options(interval=3600), clock=world.clock, environ=env
    )
    caplog.set_level(logging.INFO, logger="tsk_workflow.scheduler")
    service.start()
    try:
        jobs = service.scheduler.get_jobs()
        deadline = time.monotonic() + WAIT
        while service.passes == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        service.stop()

    assert [(job.id, job.func) for job in jobs] == [("pass", service.run_pass)]
    assert service.passes == 1
    assert len(checkpoints.read(tmp_path / "published")[0]) == 1
    # Swedish, as the service was made in the language spoken by default
    started = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("startad"))
    assert "herrljunga: sammandrag 07:00, kontrollpunkt 23:45 Europe/Stockholm" in started


def test_tick_run_and_the_demo_call_the_one_pass(
    make_store: MakeStore,
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, dt.datetime]] = []
    real = SchedulerPass.__call__

    def spy(self: SchedulerPass, now: dt.datetime) -> PassResult:
        calls.append((self.worker, now))
        return real(self, now)

    monkeypatch.setattr(SchedulerPass, "__call__", spy)
    store = make_store("sqlite")
    world = World(store, local(2027, 1, 4, 6))
    world.init()
    at = local(2027, 1, 4, 8)
    args = ["--db", store.url, "--org", "herrljunga", "tick", "--now", at.isoformat(), "--json"]
    ticked = runner.invoke(cli, [*args, "--no-send"])
    assert ticked.exit_code == 0, ticked.output
    assert json.loads(ticked.stdout)["opened"] == ["est-2027-01"]
    assert calls == [(worker_id(), at)]

    later = local(2027, 1, 4, 9)
    Service({"herrljunga": world.engine}, Options(), clock=lambda: later, environ={}).run_pass()
    assert calls[-1] == (worker_id(), later)

    from tsk_workflow.demo.run import run_demo

    del calls[:]
    run_demo("herrljunga", 2027, tmp_path / "demo", until=dt.date(2027, 1, 1))
    assert [(worker, moment.astimezone(STOCKHOLM).time()) for worker, moment in calls] == [
        ("demo", dt.time(8, 5)),
        ("demo", dt.time(17, 5)),
        ("demo", dt.time(23, 45)),
    ]


def test_run_refuses_bad_options_and_has_no_digest_time_of_its_own(
    runner: CliRunner, tmp_path: Path
) -> None:
    db = str(tmp_path / "tsk.db")
    for option in (["--digest-time", "07:00"], ["--interval", "0"]):
        result = runner.invoke(cli, ["--db", db, "--org", "herrljunga", "run", *option])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
