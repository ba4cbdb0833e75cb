"""The shipped (or given) process definitions and organisations, loaded and checked together.

A file is a process definition unless its top-level mapping has a ``municipality`` key, in which
case it is an organisation file. ``validate_files`` returns every problem of every file;
``load_catalog`` and ``load_organisation`` raise ``DefinitionError`` on the first bad file set.

Versions. The catalog keeps the text of each definition it read and its SHA-256 (``Source``):
a cycle is opened with the definition in the catalog and remembers its digest
(``cycles.process_digest``; the text is stored in the database, ``engine/versions.py``). A
cycle follows that version to its end: ``Catalog.compiled_for`` gives the catalog's own
definition when the digest is its (the common case: a dictionary look-up, no query), and
otherwise the stored text read again, by the same reader and validator, once per process run
(``_STORED``: the same text always gives the same definition).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tsk_workflow.definitions.compile import CompiledProcess, compile_process
from tsk_workflow.definitions.model import ProcessDefinition
from tsk_workflow.definitions.reader import (
    Document,
    Problem,
    ReadError,
    file_text,
    read_file,
    read_text,
)
from tsk_workflow.definitions.validate import load_process_document
from tsk_workflow.errors import DefinitionError, NotFound, TskError, did_you_mean
from tsk_workflow.i18n import _
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.organisation.validate import load_organisation_document
from tsk_workflow.resources import (
    PROCESSES_VARIABLE,
    data_dir,
    municipalities_dir,
    names_a_file,
    notifications_dir,
    processes_dir,
)

TEMPLATE_PARTS = ("subject.txt", "txt", "html")


def text_digest(text: str) -> str:
    """The SHA-256 of a definition's text (UTF-8): how a version is known in the database."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Source:
    """The text a definition was read from, its SHA-256, and where its ``version`` stands."""

    key: str
    version: int
    digest: str
    text: str
    file: str
    version_at: tuple[int, int] = (1, 1)
    """Line and column (1-based) of ``version:`` in the file."""

    def problem(self, message: str) -> str:
        """``message`` located at the file's ``version``, as ``file:line:column: message``."""
        line, column = self.version_at
        return f"{self.file}:{line}:{column}: {message}"


@dataclass
class Catalog:
    """Process definitions by key, each compiled once into a machine on first use.

    ``sources``: the text each definition was read from (empty for a catalog made in code, as
    tests and benchmarks do: its cycles then remember no digest and follow it)."""

    definitions: Mapping[str, ProcessDefinition]
    sources: Mapping[str, Source] = field(default_factory=dict)
    _compiled: dict[str, CompiledProcess] = field(default_factory=dict, repr=False)

    def definition(self, key: str) -> ProcessDefinition:
        try:
            return self.definitions[key]
        except KeyError:
            known = ", ".join(sorted(self.definitions))
            hint = did_you_mean(key, self.definitions)
            message = _("unknown process '{process}'").format(process=key) + hint
            raise NotFound(message + _(" (known: {known})").format(known=known)) from None

    def compiled(self, key: str) -> CompiledProcess:
        if key not in self._compiled:
            self._compiled[key] = compile_process(self.definition(key))
        return self._compiled[key]

    def digest(self, key: str) -> str | None:
        """The SHA-256 of the text of ``key``'s definition; None when the catalog has none."""
        source = self.sources.get(key)
        return source.digest if source is not None else None

    def is_current(self, key: str, digest: str | None) -> bool:
        """Whether a cycle of ``key`` that remembers ``digest`` follows this catalog's definition:
        when the digest is its, or None (a cycle from before versions were kept, or one opened
        with a catalog that has no sources: then the definition is followed by key)."""
        source = self.sources.get(key)
        if source is not None:
            return digest is None or digest == source.digest
        return digest is None or key in self.definitions

    def compiled_for(
        self, key: str, digest: str | None, stored: Callable[[str], str | None]
    ) -> CompiledProcess:
        """The machine of the version a cycle follows: this catalog's when ``is_current``, else
        the definition whose text ``stored(digest)`` gives (read from the database by the
        caller), read and checked as a file is, once per process run."""
        if self.is_current(key, digest):
            return self.compiled(key)
        assert digest is not None
        found = _STORED_COMPILED.get(digest)
        if found is None:
            found = compile_process(self.definition_for(key, digest, stored))
            _STORED_COMPILED[digest] = found
        return found

    def definition_for(
        self, key: str, digest: str | None, stored: Callable[[str], str | None]
    ) -> ProcessDefinition:
        """The definition of the version a cycle follows (see ``compiled_for``)."""
        if self.is_current(key, digest):
            return self.definition(key)
        assert digest is not None
        found = _STORED.get(digest)
        if found is None:
            found = _STORED[digest] = self._read_stored(key, digest, stored(digest))
        return found

    def _read_stored(self, key: str, digest: str, text: str | None) -> ProcessDefinition:
        short = digest[:16]
        if text is None:
            raise TskError(
                _(
                    "a cycle of '{process}' follows the definition with sha256 {digest}, which"
                    " this database does not hold"
                ).format(process=key, digest=short)
            )
        if text_digest(text) != digest:
            raise TskError(
                _(
                    "the stored definition of '{process}' with sha256 {digest} does not have that"
                    " digest: its text was changed in the database"
                ).format(process=key, digest=short)
            )
        name = _("{process} (sha256 {digest}, stored in the database)").format(
            process=key, digest=short
        )
        try:
            document = read_text(text, name, cached=True)
        except ReadError as exc:
            raise DefinitionError([str(exc.problem)]) from None
        known = {*self.definitions, key}
        definition, problems = load_process_document(document, template_exists, known.__contains__)
        if definition is None:
            raise DefinitionError([str(p) for p in problems])
        if definition.key != key:
            raise TskError(
                _("{name} is the definition of '{found}', not of '{process}'").format(
                    name=name, found=definition.key, process=key
                )
            )
        return definition


_STORED: dict[str, ProcessDefinition] = {}
"""Stored definitions read so far, by digest (the text of a digest never changes)."""
_STORED_COMPILED: dict[str, CompiledProcess] = {}


def template_exists(name: str, folder: Path | None = None) -> bool:
    """Whether the mail template ``name`` has all its parts (written once, for every language:
    their texts come from the catalogue)."""
    base = folder or notifications_dir()
    return all((base / f"{name}.{part}").is_file() for part in TEMPLATE_PARTS)


def shipped_process_files() -> list[Path]:
    return sorted(processes_dir().glob("*.yaml"))


def shipped_municipality_files() -> list[Path]:
    return sorted(municipalities_dir().glob("*.yaml"))


def _read_sources(paths: Iterable[Path]) -> tuple[list[tuple[Document, str]], list[Problem]]:
    """Each file as a document (through the per-user cache) with the text it was read from."""
    read: list[tuple[Document, str]] = []
    problems: list[Problem] = []
    for path in paths:
        name = _shown(path)
        try:
            text = file_text(name)
            read.append((read_text(text, str(name), cached=True), text))
        except ReadError as exc:
            problems.append(exc.problem)
    return read, problems


def _read_all(
    paths: Iterable[Path], *, cached: bool = False
) -> tuple[list[Document], list[Problem]]:
    documents: list[Document] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            documents.append(read_file(_shown(path), cached=cached))
        except ReadError as exc:
            problems.append(exc.problem)
    return documents, problems


def _shown(path: Path) -> Path:
    """``path`` relative to the working directory when it is below it, for shorter messages."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


ORGANISATION_KEYS = {"municipality", "people", "groups", "routing"}


def _is_organisation(document: Document) -> bool:
    """An organisation file has ``municipality`` (or, when that is misspelt, other keys only an
    organisation has), so that its problems are not reported as those of a process definition."""
    data = document.data
    return "municipality" in data or (bool(ORGANISATION_KEYS & data.keys()) and "steps" not in data)


def _load_definitions(
    documents: Sequence[Document], known: set[str]
) -> tuple[dict[str, ProcessDefinition], list[Problem]]:
    keys = known | {str(d.data.get("key")) for d in documents}
    definitions: dict[str, ProcessDefinition] = {}
    problems: list[Problem] = []
    for document in documents:
        definition, found = load_process_document(document, template_exists, keys.__contains__)
        problems += found
        if definition is not None:
            problems += _key_problems(document, definition, definitions)
            definitions[definition.key] = definition
    return definitions, problems


def _key_problems(
    document: Document, definition: ProcessDefinition, seen: Mapping[str, ProcessDefinition]
) -> list[Problem]:
    problems = []
    stem = Path(document.file).stem
    if stem != definition.key:
        message = _("key '{key}' differs from the file name '{name}'")
        problems.append(document.problem(("key",), message.format(key=definition.key, name=stem)))
    if definition.key in seen:
        message = _("process '{process}' is defined twice").format(process=definition.key)
        problems.append(document.problem(("key",), message))
    return problems


def validate_files(paths: Sequence[Path] | None = None) -> list[Problem]:
    """Every problem of the given files (default: everything shipped), in file order."""
    if not paths:
        paths = [*shipped_process_files(), *shipped_municipality_files()]
    documents, problems = _read_all(_expand(paths))
    processes = [d for d in documents if not _is_organisation(d)]
    organisations = [d for d in documents if _is_organisation(d)]
    definitions, found = _load_definitions(processes, set(_shipped_definitions()))
    problems += found
    all_definitions = {**_shipped_definitions(), **definitions}
    for document in organisations:
        problems += load_organisation_document(document, all_definitions)[1]
    return sorted(problems, key=lambda p: (p.file, p.line, p.column))


def _expand(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files += sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
    return files


@cache
def _shipped(
    folder: Path,
) -> tuple[dict[str, ProcessDefinition], dict[str, Source], list[Problem]]:
    # The shipped definitions come from the per-user cache when they were read before: parsing
    # them is most of a command's start-up after the imports (definitions/cache.py).
    if not folder.is_dir():
        if folder != data_dir("processes"):
            message = _("no such folder of process definitions (from {variable})").format(
                variable=PROCESSES_VARIABLE
            )
        else:
            message = _("no such folder of process definitions")
        problem = Problem(str(folder), 1, 1, message)
        return {}, {}, [problem]
    read, problems = _read_sources(sorted(folder.glob("*.yaml")))
    definitions, found = _load_definitions([document for document, _text in read], set())
    sources: dict[str, Source] = {}
    for document, text in read:
        definition = definitions.get(str(document.data.get("key")))
        if definition is not None and definition.key not in sources:
            line, column = document.positions.get(("version",), (0, 0))
            sources[definition.key] = Source(
                definition.key,
                definition.version,
                text_digest(text),
                text,
                document.file,
                (line + 1, column + 1),
            )
    return definitions, sources, problems + found


def _shipped_definitions() -> dict[str, ProcessDefinition]:
    return _shipped(processes_dir())[0]


def load_catalog(folder: Path | None = None) -> Catalog:
    """The process definitions of ``folder`` (default: ``TSK_PROCESSES_DIR``, else the shipped
    ones); a broken file raises ``DefinitionError``."""
    definitions, sources, problems = _shipped(folder or processes_dir())
    if problems:
        raise DefinitionError([str(p) for p in problems])
    return Catalog(definitions, sources)


def resolve_organisation_path(name_or_path: str) -> Path:
    """``--org`` takes a file path or the name of a shipped municipality."""
    if names_a_file(name_or_path):
        candidate = Path(name_or_path)
        if not candidate.is_file():
            raise NotFound(_("organisation file '{name}' does not exist").format(name=name_or_path))
        return candidate
    shipped = municipalities_dir() / f"{name_or_path}.yaml"
    if not shipped.is_file():
        known = ", ".join(p.stem for p in shipped_municipality_files())
        hint = did_you_mean(name_or_path, (p.stem for p in shipped_municipality_files()))
        message = _("unknown municipality '{name}'").format(name=name_or_path) + hint
        raise NotFound(message + _(" (shipped: {known})").format(known=known))
    return shipped


def load_organisation(name_or_path: str, catalog: Catalog | None = None) -> Organisation:
    """The organisation ``--org`` names, checked against the process definitions."""
    return _organisation(lambda: read_file(resolve_organisation_path(name_or_path)), catalog)


def organisation_from_text(text: str, name: str, catalog: Catalog | None = None) -> Organisation:
    """An organisation from its file's text (as stored in the database: ``name`` is what its
    problems are reported against), checked against the process definitions."""
    return _organisation(lambda: read_text(text, name), catalog)


def _organisation(read: Callable[[], Document], catalog: Catalog | None) -> Organisation:
    catalog = catalog or load_catalog()
    try:
        document = read()
    except ReadError as exc:
        raise DefinitionError([str(exc.problem)]) from None
    org, problems = load_organisation_document(document, catalog.definitions)
    if org is None:
        raise DefinitionError([str(p) for p in problems])
    return org
