"""Dates on the command line: ``click.DateTime`` in the language spoken.

Two things click's own type gets wrong for people: its help shows the ``strptime`` format
(``[%Y-%m-%d]``), and a date written right that does not exist (``2027-02-30``) is refused as
one that "does not match the format". Here the help reads ``ÅÅÅÅ-MM-DD`` (``YYYY-MM-DD`` in
English) and such a date says ``2027-02-30: det datumet finns inte``; one outside the years tsk
takes (``calendar.FIRST_YEAR`` to ``LAST_YEAR``) says that.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from tsk_workflow.i18n import _


class DateTime(click.DateTime):
    """A date (``%Y-%m-%d``), or with ``with_time`` a date or a local time of day
    (``%Y-%m-%dT%H:%M[:%S]``), as ``click.DateTime`` gives it: a naive ``datetime``."""

    def __init__(self, *, with_time: bool = False) -> None:
        formats = ["%Y-%m-%d"]
        if with_time:
            formats += ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        super().__init__(formats)
        self.with_time = with_time

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return _("YYYY-MM-DD[THH:MM]") if self.with_time else _("YYYY-MM-DD")

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.datetime:
        if isinstance(value, str):
            # Only here: the calendar imports dateutil (docs/performance.md).
            from tsk_workflow.calendar import ISO_DATE, parse_date

            day = value.strip()[:10]
            if ISO_DATE.fullmatch(day):
                try:
                    parse_date(day)  # one that does not exist, or outside the years tsk takes
                except ValueError as exc:
                    self.fail(str(exc), param, ctx)
        return super().convert(value, param, ctx)
