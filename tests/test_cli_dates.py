"""Dates on the command line (tsk_workflow/cli/dates.py): the help names the form in the
language spoken, never strptime's ``%Y-%m-%d``, and a date that does not exist says so."""

from __future__ import annotations

import datetime as dt

import click
import pytest
from click.testing import CliRunner

from tsk_workflow import i18n
from tsk_workflow.cli import cli
from tsk_workflow.cli.dates import DateTime


@pytest.mark.parametrize(
    ("args", "option", "metavar"),
    [
        (["decision", "record"], "--date", "YYYY-MM-DD"),
        (["gdpr", "purge"], "--before", "DATE"),  # its own metavar stays
        (["audit"], "--since", "YYYY-MM-DD[THH:MM]"),
        (["demo"], "--until", "YYYY-MM-DD"),
    ],
)
def test_the_help_shows_the_form_of_a_date(args: list[str], option: str, metavar: str) -> None:
    runner = CliRunner()
    english = runner.invoke(cli, ["--lang", "en", *args, "--help"]).stdout
    swedish = runner.invoke(cli, [*args, "--help"]).stdout
    assert "%Y" not in english + swedish
    assert f"{option} {metavar}" in english
    assert f"{option} {metavar.replace('YYYY', 'ÅÅÅÅ').replace('HH', 'TT')}" in swedish


@pytest.mark.parametrize(
    "args",
    [
        ["gdpr", "purge", "--before", "2027-02-30"],
        ["audit", "--since", "2027-02-30T10:00"],
        ["decision", "record", "1", "--body", "ks", "--date", "2027-02-30", "--paragraph", "§ 1"],
    ],
)
def test_a_date_that_does_not_exist_says_so(args: list[str]) -> None:
    runner = CliRunner()
    swedish = runner.invoke(cli, args)
    assert swedish.exit_code == 2
    assert "2027-02-30: det datumet finns inte" in swedish.stderr
    english = runner.invoke(cli, ["--lang", "en", *args])
    assert english.exit_code == 2
    assert "2027-02-30: that date does not exist" in english.stderr


def test_dates_and_times_are_read_as_click_reads_them() -> None:
    day, moment = DateTime(), DateTime(with_time=True)
    assert day.convert("2028-02-29", None, None) == dt.datetime(2028, 2, 29)
    assert moment.convert("2027-03-01T10:15", None, None) == dt.datetime(2027, 3, 1, 10, 15)
    with i18n.speaking("en"):
        with pytest.raises(click.BadParameter, match="does not match the format"):
            day.convert("1 mars", None, None)
        with pytest.raises(click.BadParameter, match="^2027-04-31: that date does not exist$"):
            moment.convert("2027-04-31T10:00", None, None)
