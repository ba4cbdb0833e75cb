"""The benchmarks of docs/performance.md still run: every one, small (``run_all --quick``).

Nothing here is timed or compared with a target (the figures of a quick run mean nothing); what
is checked is that each benchmark runs to its verdicts and says so in the summary, so that the
published figures stay reproducible. The benchmarks on PostgreSQL (``workers``,
``service``) may only be skipped outside CI.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

# Many processes or much CPU at once: under pytest-xdist these share one worker, one at a
# time (--dist loadgroup), so that they do not starve each other or PostgreSQL's connections.
pytestmark = pytest.mark.xdist_group("processes")

VERDICTS = {
    "steps": ["tsk / (a) Core:", "tsk / (b) SpiffWorkflow:", "the floor (a) itself"],
    "tick": ["empty tick 2,000 / 200 cycles:", "reminders per second:"],
    "national_year": ["year seconds:", "peak MB:"],
    "mail": ["ceiling (perfect overlap", "batched / one connection each, of the ceiling:"],
    "startup": ["tsk --help / python -c pass:", "tsk task list --json / import sqlalchemy.orm:"],
    "workers": [
        "two workers / one (speed):",
        "every timer fired once",
        "ceiling: the smaller of 2 workers",
    ],
    "service": [
        "national year in PostgreSQL",
        "inbox p95 ms:",
        "task view p95 ms:",
        "submit p95 ms:",
        "errors:",
        "lost or doubled acts:",
    ],
}


def test_every_benchmark_runs_to_its_verdicts() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run_all", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TSK_BENCH_REPEATS": "1"},
    )
    print(done.stdout[-3000:])
    assert done.returncode in (0, 3), done.stderr[-3000:]
    summary = done.stdout.split("== summary\n", 1)[1].splitlines()
    said = {line.split()[0]: line.split(maxsplit=1)[1] for line in summary if line.strip()}
    assert set(said) == set(VERDICTS)
    assert not [name for name, what in said.items() if what.startswith("FAILED")], said
    on_ci = os.environ.get("CI", "").lower() == "true"
    for name, lines in VERDICTS.items():
        if said[name].startswith("skipped") and not on_ci:
            continue
        for line in lines:
            assert line in done.stdout, f"{name} did not print {line!r}"
