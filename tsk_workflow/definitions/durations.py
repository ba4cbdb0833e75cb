"""Durations in definitions: ISO 8601 (``P14D``, ``PT2H``, ``P1M``) or working days (``10wd``).

Pure: turning a duration into a point in time needs a calendar, which the caller passes in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import isodate
from dateutil.relativedelta import relativedelta

from tsk_workflow.i18n import _

WORKING_DAYS = re.compile(r"^(\d{1,3})\s*wd$")
STRICT = r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$"
PATTERN = r"^(\d{1,3}\s*wd|P(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?)$"
"""For JSON Schema (no look-around); ``parse_duration`` checks strictly."""


@dataclass(frozen=True)
class Duration:
    """Either a calendar offset (``delta``) or a number of working days (``working_days``)."""

    text: str
    delta: relativedelta | None = None
    working_days: int | None = None

    @property
    def is_zero(self) -> bool:
        if self.working_days is not None:
            return self.working_days == 0
        return self.delta == relativedelta()


def parse_duration(text: str) -> Duration:
    """Parse ``text``; raise ``ValueError`` with a message for people when it is not a duration."""
    text = text.strip()
    match = WORKING_DAYS.match(text)
    if match:
        return Duration(text, working_days=int(match.group(1)))
    if not re.match(STRICT, text):
        raise ValueError(
            _(
                "{value} is not a duration: use ISO 8601 (P14D, PT2H, P1M) or working days (10wd)"
            ).format(value=repr(text))
        )
    parsed = isodate.parse_duration(text)
    return Duration(text, delta=_to_relativedelta(parsed))


def _to_relativedelta(parsed: timedelta | isodate.Duration) -> relativedelta:
    if isinstance(parsed, timedelta):
        return relativedelta(days=parsed.days, seconds=parsed.seconds)
    days = parsed.tdelta.days
    return relativedelta(
        years=int(parsed.years), months=int(parsed.months), days=days, seconds=parsed.tdelta.seconds
    )
