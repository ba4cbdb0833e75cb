"""Swedish personal identity numbers in free text: refused, or let through with a warning.

What people write in reports, answers and notes must not name private persons (GDPR art. 10:
data about offences; the municipality's rules for this work; docs/privacy.md). A personal
identity number is the one kind of personal data a program can find for certain, so free text
is checked for them before it is written:

- personnummer and samordningsnummer (the day plus 60), with or without the century, with or
  without the separator (``-``, or ``+`` for someone aged 100 or more): ``811218-9876``,
  ``8112189876``, ``19811218-9876``, ``198112189876``, ``811218+9876``, ``811278-9873``;
- a candidate is any run of 10 or 12 digits (a separator before the last four allowed) that no
  other digit touches; it counts only when its date is a real day and its check digit is right
  (the Luhn algorithm), as ``python-stdnum`` (``stdnum.se.personnummer``) checks them. So a
  date (``2027-03-14``), a phone number written as people write them (``070-123 45 67``) or a
  number with a wrong check digit is not one; a phone number of ten digits in a row can be, by
  chance (one in ten of those whose digits make a date), and is then refused like one.

What happens is the organisation's choice (``privacy.personal_numbers``): ``refuse`` (the
default) refuses the act with a sentence that says why and how to write it instead; ``warn``
lets it through and warns (``errors.warn``: the command line and the pages show it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from tsk_workflow.errors import warn
from tsk_workflow.forms import AnswerProblem, InvalidAnswers
from tsk_workflow.i18n import _
from tsk_workflow.organisation.model import Organisation

CANDIDATE = re.compile(r"(?<![\d+-])(?:\d{2})?\d{6}[-+]?\d{4}(?![\d])")
"""Ten or twelve digits, perhaps a separator before the last four, no digit next to them."""

COORDINATION = 60
"""A samordningsnummer's day is the day of birth plus this."""


def identity_numbers(text: str) -> list[str]:
    """The personnummer and samordningsnummer in ``text``, as written there."""
    return [found for found in CANDIDATE.findall(text) if is_identity_number(found)]


def is_identity_number(candidate: str) -> bool:
    """Whether ``candidate`` (digits, perhaps ``-`` or ``+`` before the last four) is a valid
    personnummer or samordningsnummer."""
    from stdnum import luhn
    from stdnum.exceptions import ValidationError
    from stdnum.se import personnummer

    digits = candidate.replace("-", "").replace("+", "")
    separator = "+" if "+" in candidate else "-"
    day = int(digits[-6:-4])
    if day <= COORDINATION:
        return bool(personnummer.is_valid(candidate))
    # stdnum takes the day as a day of the month; a samordningsnummer's is 60 more.
    born = f"{digits[:-6]}{day - COORDINATION:02d}{separator}{digits[-4:]}"
    try:
        personnummer.get_birth_date(born)
    except ValidationError:
        return False
    return bool(luhn.is_valid(digits[-10:]))


def found_in(texts: Mapping[str, Any]) -> list[str]:
    """The keys of ``texts`` whose text holds a personal identity number."""
    return [key for key, text in texts.items() if isinstance(text, str) and identity_numbers(text)]


def refusal() -> str:
    """Why a personal identity number is refused, and how to write instead."""
    return _(
        "this looks like a Swedish personal identity number (personnummer or"
        " samordningsnummer): personal data must not be written here (GDPR art. 10 and the"
        " municipality's rules). Describe what happened without it: write 'a man in his 30s'"
        " instead of a name or a personnummer."
    )


def warning(key: str, org: Organisation) -> str:
    """What the warning says when ``org`` lets a personal identity number through."""
    return _(
        "{field}: this looks like a Swedish personal identity number (personnummer or"
        " samordningsnummer). It was saved, as {organisation} allows, but personal data should"
        " not be written here (GDPR art. 10): remove it if you can, and write 'a man in his"
        " 30s' instead of a name or a personnummer."
    ).format(field=key, organisation=org.name)


def page_warning(org: Organisation) -> str:
    """The warning a page shows after saving what it warned about (``warning`` names the
    field; a page has shown the fields already)."""
    return _(
        "What you wrote looks like it holds a Swedish personal identity number (personnummer"
        " or samordningsnummer). It was saved, as {organisation} allows, but personal data"
        " should not be written here (GDPR art. 10): remove it if you can, and write 'a man in"
        " his 30s' instead of a name or a personnummer."
    ).format(organisation=org.name)


def refuses(org: Organisation, texts: Mapping[str, Any]) -> list[str]:
    """The keys of ``texts`` to refuse for a personal identity number; none when ``org`` lets
    them through (``privacy.personal_numbers: warn``), which warns about each instead."""
    keys = found_in(texts)
    if org.privacy.personal_numbers == "warn":
        for key in keys:
            warn(warning(key, org))
        return []
    return keys


class PersonalNumbers(InvalidAnswers):
    """Free text with a personal identity number, refused: ``problems`` has one entry per
    field (a form shows each next to its field), ``field`` the first."""

    def __init__(self, task_id: int | None, keys: Sequence[str]) -> None:
        self.task_id = task_id
        self.problems = [AnswerProblem(key, refusal()) for key in keys]
        # Not InvalidAnswers' sentence ("do not fit its form"): the answers fit, they hold
        # what may not be written.
        Exception.__init__(self, "; ".join(map(str, self.problems)))
        self.field = keys[0] if keys else None


def guard(org: Organisation, texts: Mapping[str, Any], task_id: int | None = None) -> None:
    """Refuse ``texts`` (by field) holding a personal identity number, or warn (``refuses``)."""
    keys = refuses(org, texts)
    if keys:
        raise PersonalNumbers(task_id, keys)
