"""Errors meant for people: each carries one clear message and never needs a traceback."""

from __future__ import annotations

from collections.abc import Iterable


class TskError(Exception):
    """Base of every error the CLI prints as one line and exits 1 on."""

    exit_code = 1

    def __init__(self, *args: object, sv: str | None = None) -> None:
        super().__init__(*args)
        self.sv = sv  # the message in Swedish, when it has one; str() is the English

    def localized(self, lang: str) -> str:
        """The message in ``lang``: the Swedish one where there is one, else the English."""
        return self.sv if lang == "sv" and self.sv else str(self)


class DefinitionError(TskError):
    """A process definition or organisation file is invalid; ``problems`` lists each problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class NotFound(TskError):
    """An unknown process, municipality, person, cycle, task or decision."""


class Refused(TskError):
    """An act the engine refuses: no permission, wrong step, open tasks, ..."""


class Conflict(TskError):
    """Someone else changed the same cycle first (optimistic locking)."""


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` naming the known word closest to ``word``, or nothing when none
    is close: what a message about an unknown name adds."""
    import difflib

    close = difflib.get_close_matches(word, sorted(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
