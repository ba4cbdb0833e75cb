"""``tsk demo --serve``: after the demo's days, the service on its database, at the address it
prints; its people sign in from the list; SIGTERM stops it cleanly (exit 0)."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import command_environment, tsk_executable
from tests.webkit import csrf_of

# Runs a demo: on the demo's pytest-xdist worker (--dist loadgroup), as tests/test_demo.py.
pytestmark = pytest.mark.xdist_group("demo")

ADDRESS = re.compile(r"^\s+(http://127\.0\.0\.1:(\d+)/)\s*$")


def test_demo_serve_answers_at_the_address_it_prints_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    args = ["demo", "--year", "2027", "--until", "2027-01-05", "--out", "demo"]
    process = subprocess.Popen(
        [tsk_executable(), "--lang", "en", *args, "--serve", "--port", "0"],
        cwd=tmp_path,
        env=command_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(300, process.kill)  # a hung start fails the test, not the run
    watchdog.start()
    try:
        assert process.stdout is not None
        seen = []
        url = None
        for line in process.stdout:  # the demo's summary, then the address once it answers
            seen.append(line)
            found = ADDRESS.match(line)
            if found:
                url = found.group(1)
                break
        assert url is not None, "".join(seen) + (process.stderr.read() if process.stderr else "")
        assert found is not None
        port = found.group(2)
        assert port != "0"
        assert any(f"links to its task at http://127.0.0.1:{port}" in line for line in seen)

        with httpx.Client(base_url=url, timeout=30) as browser:
            assert browser.get("/healthz").json() == {
                "status": "ok",
                "municipalities": ["herrljunga"],
            }
            signin = browser.get("/signin")
            assert signin.status_code == 200
            assert "Jessica Wahlström" in signin.text
            answer = browser.post(
                "/auth/demo",
                data={"person": "herrljunga:ida.wikstrom", "csrf_token": csrf_of(signin.text)},
            )
            assert answer.status_code == 303
            start = browser.get("/")
            assert start.status_code == 200
            assert "Ida Wikström" in start.text
            assert '<html lang="sv">' in start.text  # her language, from the organisation
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        watchdog.cancel()
    assert code == 0, process.stderr.read() if process.stderr else ""
    assert (tmp_path / "demo" / "tsk.db").is_file()


def test_a_port_in_use_is_refused_before_the_year_is_run(tmp_path: Path) -> None:
    import socket

    from click.testing import CliRunner

    from tsk_workflow.cli import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["--lang", "en", "demo", "--year", "2027", "--out", str(tmp_path / "demo")]
        result = CliRunner(env={"TSK_DATABASE_URL": None, "TSK_ORG": None}).invoke(
            cli, [*args, "--serve", "--port", str(port)]
        )
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"tsk: cannot listen on 127.0.0.1:{port}: ")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "demo").exists()
