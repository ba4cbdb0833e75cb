"""Language: one gettext catalogue for everything people read, Swedish by default.

Strings are written in English in the code and marked: ``_("No tasks.")`` is translated when
it runs, ``N_("...")`` only marks a string that is translated later (a table of labels built at
import time), ``ngettext`` chooses by number. Babel extracts the marked strings into
``tsk_workflow/locale/tsk.pot``; the Swedish translations are in
``tsk_workflow/locale/sv/LC_MESSAGES/tsk.po`` (docs/translating.md says how to update them).
English needs no catalogue: it is the text in the code.

The language is a context variable: the CLI sets it once from ``--lang``/``TSK_LANG`` before
it builds its commands (so click's help is translated too), a web request sets it for itself.
Process definitions and organisation files carry their own texts in both languages
(``Label``); ``language()`` says which of them to show.

The wheel carries the catalogue compiled (``hatch_build.py``); a source checkout compiles it
when the ``.mo`` is missing or older than the ``.po`` (with Babel, from the dev extras).
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

DOMAIN = "tsk"
LANGUAGES = ("sv", "en")
DEFAULT = "sv"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LOCALES = {"sv": "sv_SE", "en": "en_GB"}
"""The CLDR locale of each language: how its readers write numbers (Babel's ``babel.numbers``)."""

_language: ContextVar[str] = ContextVar("tsk_language", default=DEFAULT)


def catalogue_path(lang: str, suffix: str = ".po") -> Path:
    """Where the catalogue of ``lang`` is kept (``.po``) or compiled (``.mo``)."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang``; English (the text in the code) has none."""
    if lang not in LANGUAGES or lang == "en":
        return gettext.NullTranslations()
    po, mo = catalogue_path(lang), catalogue_path(lang, ".mo")
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as file:
            return gettext.GNUTranslations(file)
    if po.is_file():
        compiled = compile_catalogue(po)
        if compiled is not None:
            import io

            return gettext.GNUTranslations(io.BytesIO(compiled))
    if mo.is_file():  # an edited .po but no Babel to compile it: the last compiled one
        with mo.open("rb") as file:
            return gettext.GNUTranslations(file)
    return gettext.NullTranslations()


def compile_catalogue(po: Path) -> bytes | None:
    """The ``.mo`` of ``po``, compiled with Babel (None when Babel is not installed)."""
    try:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
    except ImportError:
        return None
    import io

    with po.open("rb") as file:
        catalog = read_po(file)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def use(lang: str) -> None:
    """Speak ``lang`` (``sv`` or ``en``) from now on, in this context."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
    _language.set(lang)


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    """Speak ``lang`` inside the block (a mail to someone who reads English, a page asked for
    in English), then the language spoken before."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
    token = _language.set(lang)
    try:
        yield
    finally:
        _language.reset(token)


def language() -> str:
    """The language spoken now: ``sv`` unless ``use("en")`` was called."""
    return _language.get()


def locale() -> str:
    """The CLDR locale of the language spoken now (``sv_SE``, ``en_GB``)."""
    return LOCALES[_language.get()]


def _(message: str) -> str:
    """``message`` in the language spoken now."""
    return translations(_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """``singular`` or ``plural`` by ``n``, in the language spoken now."""
    return translations(_language.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the language spoken now, as meant in ``context`` (one English word that
    Swedish says two ways: an outcome ``approved`` is ``bifall`` in a mail, ``bifallet`` as a
    decision's status)."""
    return translations(_language.get()).pgettext(context, message)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it now (``_`` it when shown)."""
    return message


def language_from_argv(argv: list[str], environ: Mapping[str, str] | None = None) -> str:
    """The language a command line asks for, read before click parses it: ``--lang X`` or
    ``--lang=X`` among the global options (before the command), else ``TSK_LANG``, else
    Swedish. Help texts are made when the commands are built, so the language must be known
    first; click checks the value again when it parses."""
    import os

    env = os.environ if environ is None else environ
    chosen = env.get("TSK_LANG", DEFAULT)
    args = iter(argv)
    for arg in args:
        if arg == "--lang" or arg.startswith("--lang="):
            given = next(args, "") if arg == "--lang" else arg.partition("=")[2]
            # one tsk does not speak is refused by click, in the language chosen otherwise
            chosen = given if given in LANGUAGES else chosen
        elif arg in _GLOBAL_WITH_VALUE:
            next(args, None)
        elif not arg.startswith("-"):
            break  # the command: what follows is its own
    return chosen if chosen in LANGUAGES else DEFAULT


_GLOBAL_WITH_VALUE = ("--db", "--org", "--as")
