"""Shared fixtures: the repository root, a CLI runner that ignores the caller's TSK_* vars, and
the engine tests' virtual ``clock`` and ``engine``.

``demo_folder`` is Herrljunga's demo year, half run, made once a session for the tests that read
it (the docs' examples, every command in both languages).

``clock`` starts at 1 March 2027, 08:00 in Stockholm; a module whose tests start elsewhere sets
``CLOCK_START`` (an aware datetime) at module level. ``engine`` is Herrljunga's engine on the
test's ``store`` at that clock (``tests.enginekit.make_engine``); a module that needs another
engine (another organisation, a prepared world) defines its own ``engine`` fixture.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.enginekit import Clock, local, make_engine
from tsk_workflow.engine.service import Engine
from tsk_workflow.store.database import Store

REPO = Path(__file__).resolve().parent.parent

pytest_plugins = ["tests.dbfixtures", "tests.oidcfixtures"]

CLOCK_START = local(2027, 3, 1)


@pytest.fixture
def repo_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository root, made the working directory (so file names print relative to it)."""
    monkeypatch.chdir(REPO)
    return REPO


@pytest.fixture
def runner() -> CliRunner:
    """A click runner whose environment has none of the global TSK_* options set."""
    unset = ("TSK_DATABASE_URL", "TSK_ORG", "TSK_USER", "TSK_LANG")
    return CliRunner(env=dict.fromkeys(unset))


def tsk_executable() -> str:
    """The ``tsk`` console script of the interpreter running the tests."""
    return str(Path(sys.executable).parent / "tsk")


def command_environment() -> dict[str, str]:
    """The environment for a ``tsk`` process: none of the caller's TSK_* variables, and this
    interpreter's scripts first on the PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSK_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A half-run demo year of Herrljunga, ``tsk demo --year 2027 --until 2027-03-09 --out demo``
    (its database ``demo/tsk.db``, maildir, signing key and checkpoints), made once a session.
    Shared: copy it before changing anything in it."""
    base = tmp_path_factory.mktemp("docs-demo")
    args = ["demo", "--year", "2027", "--until", "2027-03-09", "--out", "demo", "--json"]
    subprocess.run(
        [tsk_executable(), *args],
        cwd=base,
        check=True,
        capture_output=True,
        env=command_environment(),
    )
    return base / "demo"


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> Clock:
    """Virtual time at the module's ``CLOCK_START``, else 1 March 2027, 08:00 in Stockholm."""
    start: dt.datetime = getattr(request.module, "CLOCK_START", CLOCK_START)
    return Clock(start)


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    """Herrljunga's engine on the test's store, at ``clock``."""
    return make_engine(store, "herrljunga", clock)


def pytest_configure(config: pytest.Config) -> None:
    """The document cache (``definitions/cache.py``) in a folder of this run's, not the user's;
    ``tsk`` processes the tests start inherit it. So is the config folder, where ``tsk login``
    keeps its token (``cli/client.py``): no test reads, uses or revokes the user's own, and a
    ``TSK_URL`` of the user's sends no test's command to a service."""
    if "TSK_CACHE_DIR" not in os.environ:
        folder = tempfile.mkdtemp(prefix="tsk-test-cache-")
        os.environ["TSK_CACHE_DIR"] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    settings = tempfile.mkdtemp(prefix="tsk-test-config-")
    os.environ["XDG_CONFIG_HOME"] = settings
    os.environ.pop("TSK_URL", None)
    config.add_cleanup(lambda: shutil.rmtree(settings, ignore_errors=True))
