"""The command line in the language spoken (``tsk_workflow.i18n``): click's help and messages.

Help texts are written in English and marked with ``N_`` where the commands are declared
(``@click.command(help=N_("..."))``, ``@click.option(..., help=N_("..."))``); click keeps them as
given, and ``translate_help`` puts them in the language spoken just before click formats them.
The English text is kept on the object, so that the same command can be shown in Swedish and
then in English in one process (the tests do).

Click's own words ("Usage:", "Options:", "Missing argument …") are gettext calls in click's
modules; ``speak_click`` points them at the same catalogue, which holds their translations
(docs/translating.md extracts them from click).
"""

from __future__ import annotations

from functools import cache

import click

from tsk_workflow import i18n

_SOURCE = "_tsk_english"
"""The attribute keeping an object's English texts: {"help": ..., "short_help": ...}."""

_CLICK_MODULES = (
    "core",
    "decorators",
    "exceptions",
    "formatting",
    "parser",
    "termui",
    "types",
    "utils",
)


def speak_click() -> None:
    """Make click's own messages come from the catalogue, in the language spoken."""
    import importlib

    for name in _CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = i18n._  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = i18n.ngettext  # type: ignore[attr-defined]


def translate_help(command: click.Command) -> click.Command:
    """``command`` and everything under it with their help in the language spoken."""
    _translate(command, ("help", "short_help", "epilog"))
    # click's --help option is made (and kept) by click when first needed, --version's text
    # when declared: both in the language spoken then, which _english finds the English of.
    made_by_click = getattr(command, "_help_option", None)
    for param in [*command.params, *([made_by_click] if made_by_click is not None else [])]:
        _translate(param, ("help",))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            translate_help(sub)
    return command


def _translate(thing: object, names: tuple[str, ...]) -> None:
    source: dict[str, str | None] | None = getattr(thing, _SOURCE, None)
    if source is None:
        source = {name: _english(getattr(thing, name, None)) for name in names}
        setattr(thing, _SOURCE, source)
    for name, english in source.items():
        setattr(thing, name, i18n._(english) if english else english)


def _english(text: str | None) -> str | None:
    """The English of ``text`` when it is a Swedish translation from the catalogue (a text
    click translated when it made the object), else ``text`` itself."""
    if text is None:
        return None
    return _from_swedish().get(text, text)


@cache
def _from_swedish() -> dict[str, str]:
    catalogue: dict[object, str] = getattr(i18n.translations("sv"), "_catalog", {})
    return {swedish: english for english, swedish in catalogue.items() if isinstance(english, str)}
