"""The validator against a corpus of broken files, one per check, through the real CLI.

Each file in ``tests/corpus/broken`` starts with one or more lines ``# expect: LINE:COLUMN: text``
(a file that cannot carry a comment has them in ``NAME.expect``). ``tsk process validate FILE``
must exit 1 without a traceback, print every problem as ``file:line:column: message`` and print
the expected problem at the expected place. The files in ``tests/corpus/good`` must pass.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tsk_workflow.cli import cli

CORPUS = Path(__file__).resolve().parent / "corpus"
BROKEN = sorted((CORPUS / "broken").glob("*.yaml"))
GOOD = sorted((CORPUS / "good").glob("*.yaml"))
EXPECT = re.compile(r"^(\d+):(\d+): (.+)$")


@dataclass(frozen=True)
class Expected:
    line: int
    column: int
    text: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.text}"


def expectations(path: Path) -> list[Expected]:
    """The leading ``# expect:`` lines of ``path``, or the lines of its ``.expect`` sidecar."""
    sidecar = path.with_suffix(".expect")
    if sidecar.exists():
        specs = sidecar.read_text(encoding="utf-8").splitlines()
    else:
        specs = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.startswith("# expect:"):
                break
            specs.append(line.removeprefix("# expect:").strip())
    found = []
    for spec in filter(None, specs):
        match = EXPECT.match(spec)
        assert match, f"{path.name}: bad expectation {spec!r}"
        found.append(Expected(int(match[1]), int(match[2]), match[3]))
    assert found, f"{path.name} has no '# expect: LINE:COLUMN: message' line and no .expect file"
    return found


def shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root))


def validate(runner: CliRunner, *args: str, lang: str = "en") -> Result:
    """``tsk process validate`` in ``lang``: the corpus's expectations are in English, the
    language of the code; ``test_broken_file_in_swedish`` checks the default language."""
    return runner.invoke(cli, ["--lang", lang, "process", "validate", *args])


def assert_no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def assert_problem_lines(result: Result, names: list[str]) -> list[str]:
    """Every line on stderr is ``file:line:column: message`` for one of ``names``; the lines."""
    lines = result.stderr.splitlines()
    assert lines, "no problem printed"
    pattern = re.compile(rf"^({'|'.join(map(re.escape, names))}):\d+:\d+: .+$")
    for line in lines:
        assert pattern.match(line), f"not file:line:column: message: {line!r}"
    return lines


def assert_expected(lines: list[str], name: str, expected: Expected) -> None:
    prefix = f"{name}:{expected.line}:{expected.column}: "
    hits = [
        line for line in lines if line.startswith(prefix) and expected.text in line[len(prefix) :]
    ]
    assert hits, f"expected '{name}:{expected}' among:\n" + "\n".join(lines)


def test_the_corpus_has_a_file_per_check() -> None:
    names = {path.stem for path in BROKEN}
    required = {
        "yaml_syntax", "empty_file", "not_a_mapping", "unknown_key", "missing_key", "wrong_type",
        "unknown_step_in_transition_from", "unknown_step_in_transition_to", "unreachable_step",
        "dead_end_step", "no_reachable_final", "undefined_role", "bad_duration",
        "bad_schedule_kind", "bad_schedule_day_and_weekday", "bad_schedule_times_months",
        "bad_schedule_month_13", "missing_template", "duplicate_step", "duplicate_trigger",
        "final_with_exit", "auto_without_required_tasks", "initial_unknown",
        "key_differs_from_filename", "bad_key", "non_utf8",
        "routing_no_default", "bad_email", "unknown_person_in_group", "unknown_process",
        "group_chair_without_role", "role_without_holder", "unknown_town_in_area", "bad_timezone",
        "bad_rrule", "duplicate_person", "schedule_override_bad",
    }  # fmt: skip
    assert required <= names, f"missing corpus files: {sorted(required - names)}"
    for path in BROKEN:
        expectations(path)


@pytest.mark.parametrize("path", BROKEN, ids=[path.stem for path in BROKEN])
def test_broken_file_is_refused_with_located_messages(
    path: Path, repo_root: Path, runner: CliRunner
) -> None:
    name = shown(path, repo_root)
    result = validate(runner, name)
    assert result.exit_code == 1, result.output
    assert_no_traceback(result)
    lines = assert_problem_lines(result, [name])
    for expected in expectations(path):
        assert_expected(lines, name, expected)
    assert result.stdout == ""


@pytest.mark.parametrize("path", BROKEN, ids=[path.stem for path in BROKEN])
def test_broken_file_as_json(path: Path, repo_root: Path, runner: CliRunner) -> None:
    name = shown(path, repo_root)
    result = validate(runner, "--json", name)
    assert result.exit_code == 1
    assert_no_traceback(result)
    report = json.loads(result.stdout)
    assert report["ok"] is False
    rows = report["problems"]
    assert rows
    assert all(row["file"] == name and row["line"] >= 1 and row["column"] >= 1 for row in rows)
    for expected in expectations(path):
        assert any(
            (row["line"], row["column"]) == (expected.line, expected.column)
            and expected.text in row["message"]
            for row in rows
        ), f"{expected} not in {rows}"


def test_all_broken_files_at_once_report_every_problem(repo_root: Path, runner: CliRunner) -> None:
    """One bad file does not hide the problems of the others; a folder is searched for *.yaml."""
    result = validate(runner, shown(CORPUS / "broken", repo_root))
    assert result.exit_code == 1
    assert_no_traceback(result)
    names = [shown(path, repo_root) for path in BROKEN]
    lines = assert_problem_lines(result, names)
    for path, name in zip(BROKEN, names, strict=True):
        for expected in expectations(path):
            assert_expected(lines, name, expected)


@pytest.mark.parametrize("path", GOOD, ids=[path.stem for path in GOOD])
def test_good_file_passes(path: Path, repo_root: Path, runner: CliRunner) -> None:
    result = validate(runner, shown(path, repo_root))
    assert result.exit_code == 0, result.output
    assert_no_traceback(result)
    assert result.stderr == ""
    assert result.stdout.strip() == "OK"


def test_good_files_pass_together_as_json(repo_root: Path, runner: CliRunner) -> None:
    result = validate(runner, "--json", *(shown(path, repo_root) for path in GOOD))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"ok": True, "problems": []}


def test_absolute_paths_are_reported_as_given(tmp_path: Path, runner: CliRunner) -> None:
    """A file outside the working directory keeps its full name in the message."""
    broken = tmp_path / "unreachable_step.yaml"
    broken.write_bytes((CORPUS / "broken" / "unreachable_step.yaml").read_bytes())
    result = validate(runner, str(broken))
    assert result.exit_code == 1
    assert_problem_lines(result, [str(broken)])


def test_missing_file_is_one_located_problem(repo_root: Path, runner: CliRunner) -> None:
    result = validate(runner, "tests/corpus/no_such_file.yaml")
    assert result.exit_code == 1
    assert_no_traceback(result)
    lines = assert_problem_lines(result, ["tests/corpus/no_such_file.yaml"])
    assert len(lines) == 1
    assert "cannot read file" in lines[0]


def test_everything_shipped_is_valid(repo_root: Path, runner: CliRunner) -> None:
    result = validate(runner)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("OK")


@pytest.mark.parametrize("path", BROKEN, ids=[path.stem for path in BROKEN])
def test_broken_file_in_swedish(path: Path, repo_root: Path, runner: CliRunner) -> None:
    """By default every problem is told in Swedish, at the same place as in English."""
    name = shown(path, repo_root)
    english = assert_problem_lines(validate(runner, name), [name])
    result = validate(runner, name, lang="sv")
    assert result.exit_code == 1
    assert_no_traceback(result)
    swedish = assert_problem_lines(result, [name])
    assert [_place(line) for line in swedish] == [_place(line) for line in english]
    for expected in expectations(path):
        assert not any(expected.text in line for line in swedish), (expected, swedish)


def _place(line: str) -> str:
    return line.split(": ", 1)[0]
