"""``tsk serve`` as people run it: a process on a port, healthy, stopped by SIGTERM; and its
refusals to start, in one line."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.conftest import command_environment, tsk_executable
from tests.dbfixtures import MakeStore
from tests.enginekit import make_engine, set_up
from tsk_workflow.catalog import resolve_organisation_path
from tsk_workflow.cli import cli
from tsk_workflow.engine import setup

KEY = "a-test-key-that-is-long-enough-0123456789"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_answers_health_and_stops_on_sigterm(make_store: MakeStore, tmp_path: Path) -> None:
    store = make_store("sqlite")
    set_up(make_engine(store))
    port = _free_port()
    env = command_environment() | {"TSK_SECRET_KEY": KEY, "TSK_PASS_INTERVAL": "0"}
    process = subprocess.Popen(
        [
            tsk_executable(),
            "--db",
            store.url,
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        answer = None
        deadline = time.monotonic() + 60  # start-up on a loaded machine; polled, not slept
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert answer is not None, process.stderr.read() if process.stderr else ""
        assert answer.json() == {"status": "ok", "municipalities": ["herrljunga"]}
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/me").status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0


def test_serve_refuses_a_real_database_without_sign_in(make_store: MakeStore) -> None:
    store = make_store("sqlite", virtual_time=False)
    engine = make_engine(store)
    setup.load_organisation(engine, resolve_organisation_path("herrljunga"))
    env = {"TSK_SECRET_KEY": KEY, "TSK_DATABASE_URL": None, "TSK_ORG": None, "TSK_USER": None}
    for lang, words in (("sv", "ingen inloggning inställd"), ("en", "no sign-in configured")):
        result = CliRunner(env=env).invoke(cli, ["--lang", lang, "--db", store.url, "serve"])
        assert result.exit_code == 1
        assert result.stderr.startswith(f"tsk: {words}")
        assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("TSK_SECRET_KEY", "short", "TSK_SECRET_KEY"),
        ("TSK_BASE_URL", "ftp://x", "TSK_BASE_URL"),
        ("TSK_PASS_INTERVAL", "often", "TSK_PASS_INTERVAL"),
    ],
)
def test_serve_refuses_bad_settings_in_one_line(
    make_store: MakeStore, variable: str, value: str, words: str
) -> None:
    store = make_store("sqlite")
    set_up(make_engine(store))
    env = {"TSK_SECRET_KEY": KEY, variable: value, "TSK_DATABASE_URL": None, "TSK_ORG": None}
    result = CliRunner(env=env).invoke(cli, ["--db", store.url, "serve"])
    assert result.exit_code == 1, result.output
    assert words in result.stderr
    assert len(result.stderr.splitlines()) == 1
