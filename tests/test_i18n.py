"""The gettext catalogue (tsk_workflow/i18n.py, docs/translating.md).

Every string marked in the code has a Swedish translation that keeps its placeholders; the
committed template is what extraction gives today; a language is chosen before the commands are
built; and ``speaking`` switches and restores the language.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tsk_workflow import i18n

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
METHODS = [
    ("**.py", "python"),
    ("**/templates/**.j2", "jinja2"),
    ("*.txt", "jinja2"),
    ("*.html", "jinja2"),
]
"""As babel.cfg says: the modules, the Jinja2 templates (tsk_workflow/**/templates/**.j2) and the
shipped mail templates (the files at the top of notifications/)."""
FOLDERS = [ROOT / "tsk_workflow", ROOT / "notifications", Path(click.__file__).parent]
"""What the extract command of docs/translating.md reads: ours, the mail templates, and click's
own (its usage lines and errors are shown to people too)."""
PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\([^)]*\)[sd]|%[sd]")


def _extracted() -> dict[str, list[str]]:
    """Each marked message (a plural's singular and plural joined, a context before its message)
    and where it is marked, in ``FOLDERS``."""
    found: dict[str, list[str]] = {}
    for folder in FOLDERS:
        for filename, lineno, message, _comments, context in extract_from_dir(
            folder, method_map=METHODS, keywords=KEYWORDS
        ):
            found.setdefault(_key(message, context), []).append(
                f"{folder.name}/{filename}:{lineno}"
            )
    return found


def _catalogue(lang: str) -> Catalog:
    with i18n.catalogue_path(lang).open("rb") as file:
        return read_po(file)


def _key(message_id: str | tuple[str, ...], context: str | None = None) -> str:
    """A message as gettext keys it: its context, EOT, then its id (a plural's forms joined)."""
    key = "\x00".join(message_id) if isinstance(message_id, tuple) else message_id
    return f"{context}\x04{key}" if context else key


def test_every_marked_string_has_a_swedish_translation() -> None:
    catalogue = {_key(m.id, m.context): m for m in _catalogue("sv") if m.id}
    missing = []
    for key, places in sorted(_extracted().items()):
        message = catalogue.get(key)
        strings = () if message is None else message.string
        texts = strings if isinstance(strings, tuple) else (strings,)
        if message is None or message.fuzzy or not all(texts):
            missing.append(f"{places[0]}: {key.split(chr(0))[0].split(chr(4))[-1]!r}")
    assert not missing, "no Swedish translation (docs/translating.md):\n" + "\n".join(missing)


def test_translations_keep_the_placeholders() -> None:
    wrong = []
    for message in _catalogue("sv"):
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for index, text in enumerate(strings):
            source = ids[min(index, len(ids) - 1)]  # the singular's, then the plural's
            if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(source)):
                wrong.append(f"{ids[0]!r} -> {text!r}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_the_template_is_what_extraction_gives() -> None:
    """The committed tsk.pot is up to date, so that ``pybabel update`` sees every string."""
    with (i18n.LOCALE_DIR / f"{i18n.DOMAIN}.pot").open("rb") as file:
        template = {_key(m.id, m.context) for m in read_po(file) if m.id}
    extracted = set(_extracted())
    assert extracted == template, (
        "run the extract and update commands of docs/translating.md; "
        f"new: {sorted(extracted - template)[:5]}, gone: {sorted(template - extracted)[:5]}"
    )


def test_no_translation_is_left_over() -> None:
    """A string no longer in the code has no translation kept for it (``pybabel update``
    marks it obsolete; the catalogue keeps none)."""
    extracted = set(_extracted())
    stale = [m.id for m in _catalogue("sv") if m.id and _key(m.id, m.context) not in extracted]
    assert not stale, f"translations of strings the code no longer has: {stale[:5]}"


def test_swedish_by_default_english_on_request() -> None:
    message = "Usage:"
    assert i18n.language() == "sv"
    assert i18n._(message) == "Användning:"
    with i18n.speaking("en"):
        assert i18n.language() == "en"
        assert i18n._(message) == message
    assert i18n.language() == "sv"
    with pytest.raises(ValueError, match="unknown language"):
        i18n.use("de")


def test_plural_forms_follow_the_number() -> None:
    one, many = "Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"
    with i18n.speaking("en"):
        assert i18n.ngettext(one, many, 1) == one
        assert i18n.ngettext(one, many, 2) == many
    assert i18n.ngettext(one, many, 1) == "Fick ett oväntat extra argument ({args})"
    assert i18n.ngettext(one, many, 2) == "Fick oväntade extra argument ({args})"


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        ([], {}, "sv"),
        (["--lang", "en", "task", "list"], {}, "en"),
        (["--lang=en", "cycle", "list"], {}, "en"),
        (["--db", "x.db", "--as", "ida", "--lang", "en", "task", "list"], {}, "en"),
        (["task", "list"], {"TSK_LANG": "en"}, "en"),
        (["--lang", "sv", "task"], {"TSK_LANG": "en"}, "sv"),
        # after the command it is the command's own (click refuses it there): not read here
        (["task", "done", "3", "--note", "--lang", "en"], {}, "sv"),
        (["--lang", "de"], {}, "sv"),
        (["--lang", "fi", "task"], {"TSK_LANG": "en"}, "en"),  # refused by click, in English
    ],
)
def test_language_is_read_before_the_commands_are_built(
    argv: list[str], environ: dict[str, str], expected: str
) -> None:
    assert i18n.language_from_argv(argv, environ) == expected


def test_the_command_line_speaks_the_language_asked_for() -> None:
    """Click's words and the help: Swedish by default, English with --lang en, and the
    language chosen by one command does not outlive it."""
    from click.testing import CliRunner

    from tsk_workflow.cli.app import cli

    runner = CliRunner()
    english = runner.invoke(cli, ["--lang", "en", "plan", "--help"])
    swedish = runner.invoke(cli, ["plan", "--help"])
    assert english.output.startswith("Usage:"), english.output
    assert swedish.output.startswith("Användning:"), swedish.output
    assert i18n.language() == "sv"


def test_the_compiled_catalogue_is_the_source() -> None:
    """What ``translations`` compiles from the .po translates like the .po says."""
    compiled = i18n.compile_catalogue(i18n.catalogue_path("sv"))
    assert compiled is not None
    import gettext
    import io

    translations = gettext.GNUTranslations(io.BytesIO(compiled))
    for message in _catalogue("sv"):
        if message.id and isinstance(message.id, str) and message.string:
            if message.context:
                assert translations.pgettext(message.context, message.id) == message.string
            else:
                assert translations.gettext(message.id) == message.string


def test_babel_cfg_reads_what_the_tests_read() -> None:
    """The extract command of docs/translating.md and these tests see the same files."""
    from babel.messages.frontend import parse_mapping_cfg

    with (ROOT / "babel.cfg").open(encoding="utf-8") as file:
        method_map, _options = parse_mapping_cfg(file)
    assert method_map == METHODS


def test_the_extract_command_reads_the_folders_the_tests_read() -> None:
    """docs/translating.md's pybabel extract names tsk_workflow and notifications (the mail
    templates), then click's folder."""
    text = (ROOT / "docs" / "translating.md").read_text(encoding="utf-8")
    command = text[text.index("pybabel extract") : text.index("pybabel update")]
    assert "-o tsk_workflow/locale/tsk.pot tsk_workflow notifications \\\n" in command
    assert "os.path.dirname(click.__file__)" in command
    assert [folder.name for folder in FOLDERS[:2]] == ["tsk_workflow", "notifications"]


def test_a_context_gives_one_english_word_its_own_translation() -> None:
    assert i18n._("approved") == "bifallet"  # a decision's status
    assert i18n.pgettext("decision outcome", "approved") == "bifall"  # as a mail says it
    with i18n.speaking("en"):
        assert i18n.pgettext("decision outcome", "approved") == "approved"


def test_each_language_has_its_locale() -> None:
    assert i18n.locale() == "sv_SE"
    with i18n.speaking("en"):
        assert i18n.locale() == "en_GB"
    assert set(i18n.LOCALES) == set(i18n.LANGUAGES)
