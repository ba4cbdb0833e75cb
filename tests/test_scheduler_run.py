"""``tsk run``: APScheduler calling the tick, one log line per pass, a clean stop on SIGTERM and
Ctrl-C that lets the pass in progress finish, and the daily digest."""

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
from tsk_workflow import scheduler
from tsk_workflow.cli import cli
from tsk_workflow.engine.ticker import Ticker, TickResult
from tsk_workflow.scheduler import Options, Service, parse_clock, serve
from tsk_workflow.store.models import Cycle

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


@pytest.mark.parametrize(
    ("signum", "extra"), [(signal.SIGTERM, []), (signal.SIGINT, ["--json"])], ids=["term", "int"]
)
def test_run_passes_every_interval_and_stops_cleanly_on_a_signal(
    database: str, signum: signal.Signals, extra: list[str]
) -> None:
    argv = ["--db", database, "--org", "herrljunga", "run", "--interval", "1", *extra]
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
        first = wait_for(lines, seen, "pass 1 at")
        wait_for(lines, seen, "pass 2 at")  # the interval job runs again
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
    assert any(f"{signum.name} received" in line for line in seen), seen
    assert "stopped after" in seen[-1], seen
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

    def slow(self: Ticker, now: dt.datetime, batch: int = 500) -> TickResult:
        started.set()
        time.sleep(0.5)
        result = real(self, now, batch)
        finished.set()
        return result

    monkeypatch.setattr(Ticker, "tick", slow)
    service = Service(
        {"herrljunga": world.engine}, Options(interval=3600), clock=lambda: local(2027, 1, 4, 8)
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


def test_the_daily_digest_runs_or_says_clearly_why_not(
    make_store: MakeStore, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(make_store("sqlite"), local(2027, 1, 4, 6))
    world.init()
    service = Service({"herrljunga": world.engine}, Options(), clock=lambda: local(2027, 1, 5, 7))
    calls: list[tuple[Any, ...]] = []

    def compose(store: Any, orgs: Any, now: dt.datetime) -> int:
        calls.append((store, sorted(orgs), now))
        return 3

    caplog.set_level(logging.INFO, logger="tsk_workflow.scheduler")
    monkeypatch.setattr(scheduler, "digest_function", lambda: compose)
    assert service.run_digest() == 3
    assert calls == [(world.store, ["herrljunga"], local(2027, 1, 5, 7))]
    assert "3 digest mail(s) queued" in caplog.records[-1].getMessage()

    monkeypatch.setattr(scheduler, "digest_function", lambda: None)
    assert service.run_digest() is None
    assert "compose_digests is not available" in caplog.records[-1].getMessage()
    assert caplog.records[-1].levelno == logging.WARNING


def test_the_digest_module_is_found_when_it_is_there() -> None:
    function = scheduler.digest_function()
    try:
        import tsk_workflow.mail.digest as digest
    except ModuleNotFoundError:
        assert function is None
    else:
        assert function is digest.compose_digests


def test_run_refuses_bad_options(runner: CliRunner, tmp_path: Path) -> None:
    db = str(tmp_path / "tsk.db")
    for option in (["--digest-time", "25:00"], ["--digest-time", "7"], ["--interval", "0"]):
        result = runner.invoke(cli, ["--db", db, "--org", "herrljunga", "run", *option])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
    assert parse_clock("07:30") == dt.time(7, 30)
    with pytest.raises(ValueError, match="time of day"):
        parse_clock("7.30")
