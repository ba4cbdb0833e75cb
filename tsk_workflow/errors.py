"""Errors meant for people: each carries one clear message and never needs a traceback."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from tsk_workflow.i18n import _


class TskError(Exception):
    """Base of every error the CLI prints as one line and exits 1 on."""

    exit_code = 1


class DefinitionError(TskError):
    """A process definition or organisation file is invalid; ``problems`` lists each problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class NotFound(TskError):
    """An unknown process, municipality, person, cycle, task or decision."""


class Refused(TskError):
    """An act the engine refuses: no permission, wrong step, open tasks, ...

    ``field`` names what was given wrong, when one value was (``note`` for a ``--force``
    without a note): a form shows the sentence next to that field."""

    def __init__(self, *args: object, field: str | None = None) -> None:
        super().__init__(*args)
        self.field = field


class Conflict(TskError):
    """Someone else changed the same cycle first (optimistic locking), or it is no longer
    where the act expected it (a page shown before someone acted on the cycle)."""


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` naming the known word closest to ``word``, or nothing when none
    is close: what a message about an unknown name adds."""
    import difflib

    close = difflib.get_close_matches(word, sorted(known), n=1)
    return _(" (did you mean '{word}'?)").format(word=close[0]) if close else ""


# ---------------------------------------------------------------- warnings


_warnings: ContextVar[list[str] | None] = ContextVar("tsk_warnings", default=None)


@contextmanager
def collecting_warnings() -> Iterator[list[str]]:
    """The warnings of the acts run inside (``warn``), for the CLI or the page to show: an act
    that went through but that someone should hear about. Inside another collection, the
    same list (the outermost shows them)."""
    found = _warnings.get()
    if found is not None:
        yield found
        return
    found = []
    token = _warnings.set(found)
    try:
        yield found
    finally:
        _warnings.reset(token)


def warn(message: str) -> None:
    """Tell whoever collects (``collecting_warnings``); with no one collecting, nothing."""
    found = _warnings.get()
    if found is not None and message not in found:
        found.append(message)


def collecting() -> bool:
    """Whether someone collects warnings here."""
    return _warnings.get() is not None
