"""Shared fixtures: the repository root, and a CLI runner that ignores the caller's TSK_* vars."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent

pytest_plugins = ["tests.dbfixtures"]


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


def pytest_configure(config: pytest.Config) -> None:
    """The document cache (``definitions/cache.py``) in a folder of this run's, not the user's;
    ``tsk`` processes the tests start inherit it."""
    if "TSK_CACHE_DIR" not in os.environ:
        folder = tempfile.mkdtemp(prefix="tsk-test-cache-")
        os.environ["TSK_CACHE_DIR"] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
