"""``tsk process`` and ``tsk org show`` through the real command line (click's runner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tsk_workflow.catalog import shipped_process_files
from tsk_workflow.cli import cli

SHIPPED_KEYS = sorted(path.stem for path in shipped_process_files())
GOOD_ORG = Path(__file__).resolve().parent / "corpus" / "good" / "exempelby.yaml"


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(cli, list(args))


def assert_clean(result: Result) -> None:
    """No traceback: either success or a SystemExit carrying the exit code."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def assert_one_line_refusal(result: Result, text: str) -> None:
    assert result.exit_code == 1, result.output
    assert_clean(result)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert text in lines[0]


# ---------------------------------------------------------------- process list


def test_process_list_text(runner: CliRunner) -> None:
    result = run(runner, "process", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == SHIPPED_KEYS
    est = next(line for line in lines if line.startswith("est "))
    assert " v4 " in est
    assert "EST – månatlig lägesbild" in est


def test_process_list_json(runner: CliRunner) -> None:
    result = run(runner, "process", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    assert [row["key"] for row in rows] == SHIPPED_KEYS
    for row in rows:
        assert set(row) == {"key", "version", "title"}
        assert isinstance(row["version"], int)
        assert isinstance(row["title"], str)
        assert row["title"]
    assert {"key": "est", "version": 4, "title": "EST – månatlig lägesbild"} in rows


def test_process_list_in_english(runner: CliRunner) -> None:
    rows = json.loads(run(runner, "--lang", "en", "process", "list", "--json").stdout)
    assert {"key": "est", "version": 4, "title": "EST – monthly situation report"} in rows
    text = run(runner, "--lang", "en", "process", "list").stdout
    assert "EST – monthly situation report" in text
    assert "månatlig" not in text


def test_language_from_the_environment(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["process", "list", "--json"], env={"TSK_LANG": "en"})
    assert {"key": "est", "version": 4, "title": "EST – monthly situation report"} in json.loads(
        result.stdout
    )


# ---------------------------------------------------------------- process show


def test_process_show_text(runner: CliRunner) -> None:
    result = run(runner, "process", "show", "est")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("est v4: EST – månatlig lägesbild")
    assert "sakerhetschef" in out
    steps = ("insamling", "egna_lagesbilder", "sammanstallning", "orsaksanalys", "atgardsplan")
    for step in (*steps, "beslut"):
        assert f"    {step}" in out
    assert "  ordförande: sakerhetschef\n" in out
    assert "avslutad (slutsteg)" in out
    assert "uppgift rapport [inrapportor, klart senast 7wd]" in out
    assert "-> egna_lagesbilder genom 'sammanstall' (automatiskt)" in out
    assert "-> sammanstallning genom 'sammanstall_gemensam' (automatiskt)" in out
    assert "uppgift sammanstall_egen_lagesbild [samordnare, klart senast 3wd]" in out
    for english in ("chair:", "roles:", "(final)", "task ", " due ", " by '", "(auto)"):
        assert english not in out


def test_process_show_in_english(runner: CliRunner) -> None:
    out = run(runner, "--lang", "en", "process", "show", "est").stdout
    assert out.startswith("est v4: EST – monthly situation report")
    assert "  chair:    sakerhetschef\n" in out
    assert "avslutad (final)" in out
    assert "task rapport [inrapportor, due 7wd]" in out
    assert "-> egna_lagesbilder by 'sammanstall' (auto)" in out
    assert "-> sammanstallning by 'sammanstall_gemensam' (auto)" in out
    for swedish in ("ordförande", "roller", "slutsteg", "uppgift ", "klart senast", " genom "):
        assert swedish not in out
    assert "Collection from reporters" in out
    assert "Insamling från inrapportörer" not in out


def test_process_show_json(runner: CliRunner) -> None:
    result = run(runner, "process", "show", "est", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["key"] == "est"
    assert data["version"] == 4
    assert data["title"] == {
        "sv": "EST – månatlig lägesbild",
        "en": "EST – monthly situation report",
    }
    assert data["chair"] == "sakerhetschef"
    assert [step["key"] for step in data["steps"]][0] == "insamling"
    assert data["final"] == ["avslutad"]
    first = data["transitions"][0]
    assert (first["trigger"], first["from"], first["to"]) == (
        "sammanstall",
        ["insamling"],
        "egna_lagesbilder",
    )
    assert data["schedule"]["kind"] == "monthly"


def test_process_show_unknown_is_one_line(runner: CliRunner) -> None:
    result = run(runner, "process", "show", "nope")
    assert_one_line_refusal(result, "okänd process 'nope'")
    assert "(kända: " in result.stderr
    assert "est" in result.stderr  # the known keys are listed
    result = run(runner, "--lang", "en", "process", "show", "nope")
    assert_one_line_refusal(result, "unknown process 'nope'")
    assert "(known: " in result.stderr


def test_process_show_unknown_with_json_prints_no_json(runner: CliRunner) -> None:
    result = run(runner, "process", "show", "nope", "--json")
    assert_one_line_refusal(result, "okänd process 'nope'")


# ---------------------------------------------------------------- process diagram


@pytest.mark.parametrize(("fmt", "marker"), [("mermaid", "stateDiagram-v2"), ("dot", "digraph")])
def test_process_diagram(runner: CliRunner, fmt: str, marker: str) -> None:
    result = run(runner, "process", "diagram", "est", "--format", fmt)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert marker in out
    for word in ("insamling", "avslutad", "sammanstall", "till_beslut", "avsluta"):
        assert word in out


def test_process_diagram_is_mermaid_by_default(runner: CliRunner) -> None:
    out = run(runner, "process", "diagram", "est").stdout
    assert "stateDiagram-v2" in out
    assert "[*] --> insamling" in out


def test_process_diagram_marks_the_step(runner: CliRunner) -> None:
    mermaid = run(runner, "process", "diagram", "est", "--step", "beslut").stdout
    assert "Class beslut s_active" in mermaid
    assert "[*] --> insamling" in mermaid
    dot = run(runner, "process", "diagram", "est", "--format", "dot", "--step", "beslut").stdout
    assert "darksalmon" in next(
        line for line in dot.splitlines() if line.strip().startswith("beslut")
    )


def test_process_diagram_titles_the_steps_and_marks_only_what_was_asked(
    runner: CliRunner,
) -> None:
    swedish = run(runner, "process", "diagram", "est").stdout
    assert 'state "Insamling från inrapportörer" as insamling' in swedish
    assert "s_active" not in swedish.split("classDef s_active", 1)[1]  # no step marked
    english = run(runner, "--lang", "en", "process", "diagram", "est", "--format", "dot").stdout
    assert 'insamling [label="Collection from reporters\\l"]' in english
    assert "darksalmon" not in english.split("node [", 1)[1]
    assert 'label="est: EST – monthly situation report"' in english


def test_process_diagram_takes_json(runner: CliRunner) -> None:
    result = run(runner, "process", "diagram", "est", "--step", "beslut", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["process"], shown["format"], shown["step"]) == ("est", "mermaid", "beslut")
    assert "Class beslut s_active" in shown["diagram"]


def test_process_diagram_unknown_step_is_a_usage_error(runner: CliRunner) -> None:
    result = run(runner, "process", "diagram", "est", "--step", "nope")
    assert result.exit_code == 2
    assert_clean(result)
    assert "'nope' är inte ett steg i 'est'" in result.stderr
    english = run(runner, "--lang", "en", "process", "diagram", "est", "--step", "nope")
    assert "'nope' is not a step of 'est'" in english.stderr


def test_process_diagram_unknown_format_is_a_usage_error(runner: CliRunner) -> None:
    result = run(runner, "process", "diagram", "est", "--format", "png")
    assert result.exit_code == 2
    assert_clean(result)


def test_process_diagram_unknown_process(runner: CliRunner) -> None:
    assert_one_line_refusal(run(runner, "process", "diagram", "nope"), "okänd process 'nope'")


# ---------------------------------------------------------------- org show


def test_org_show_without_org_is_a_clear_refusal(runner: CliRunner) -> None:
    result = run(runner, "org", "show")
    assert_one_line_refusal(result, "ingen organisation angiven")
    assert "--org" in result.stderr
    assert "TSK_ORG" in result.stderr
    assert_one_line_refusal(run(runner, "--lang", "en", "org", "show"), "no organisation given")


def test_org_show_with_an_unknown_municipality(runner: CliRunner) -> None:
    assert_one_line_refusal(
        run(runner, "--org", "no_such_town", "org", "show"), "okänd kommun 'no_such_town'"
    )
    assert_one_line_refusal(
        run(runner, "--lang", "en", "--org", "no_such_town", "org", "show"),
        "unknown municipality 'no_such_town'",
    )


def test_org_show_with_a_missing_file(runner: CliRunner) -> None:
    assert_one_line_refusal(
        run(runner, "--org", "no/such/file.yaml", "org", "show"),
        "organisationsfilen 'no/such/file.yaml' finns inte",
    )


def test_org_show_with_a_file(runner: CliRunner) -> None:
    result = run(runner, "--org", str(GOOD_ORG), "org", "show")
    assert result.exit_code == 0, result.output
    assert "Exempelby kommun (exempelby)" in result.stdout
    assert "Anna Andersson" in result.stdout


def test_org_show_json_from_the_environment(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["org", "show", "--json"], env={"TSK_ORG": str(GOOD_ORG)})
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["municipality"] == "exempelby"
    assert [p["id"] for p in data["people"]] == ["anna", "bo"]
    assert data["groups"][0]["chair"] == "anna"
    assert data["processes"] == {"est": "est"}


def test_org_show_with_a_broken_file_lists_its_problems(runner: CliRunner) -> None:
    broken = GOOD_ORG.parent.parent / "broken" / "routing_no_default.yaml"
    result = run(runner, "--org", str(broken), "org", "show")
    assert result.exit_code == 1
    assert_clean(result)
    lines = result.stderr.splitlines()
    assert lines
    assert all(line.startswith(f"{broken}:") for line in lines), lines
    assert "beslutsreglerna saknar standardväg" in result.stderr


def test_diagram_marks_the_step_a_cycle_is_in(runner: CliRunner, tmp_path: Path) -> None:
    db = str(tmp_path / "tsk.db")
    base = ["--db", db, "--org", "herrljunga"]
    assert runner.invoke(cli, [*base, "init", "--virtual-time"]).exit_code == 0
    opened = runner.invoke(
        cli, [*base, "--as", "jessica.wahlstrom", "cycle", "open", "est", "--period", "2027-03"]
    )
    assert opened.exit_code == 0, opened.output
    result = runner.invoke(cli, [*base, "process", "diagram", "est", "--cycle", "est-2027-03"])
    assert result.exit_code == 0, result.output
    assert "Class insamling s_active" in result.output
    wrong = runner.invoke(cli, [*base, "process", "diagram", "samverkan", "--cycle", "est-2027-03"])
    assert wrong.exit_code == 1
    assert "hör till 'est', inte till 'samverkan'" in wrong.stderr
    english = [*base[:2], "--lang", "en", *base[2:], "process", "diagram", "samverkan"]
    wrong = runner.invoke(cli, [*english, "--cycle", "est-2027-03"])
    assert "not of 'samverkan'" in wrong.stderr
