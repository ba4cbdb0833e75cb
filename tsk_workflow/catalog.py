"""The shipped (or given) process definitions and organisations, loaded and checked together.

A file is a process definition unless its top-level mapping has a ``municipality`` key, in which
case it is an organisation file. ``validate_files`` returns every problem of every file;
``load_catalog`` and ``load_organisation`` raise ``DefinitionError`` on the first bad file set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tsk_workflow.definitions.compile import CompiledProcess, compile_process
from tsk_workflow.definitions.model import ProcessDefinition
from tsk_workflow.definitions.reader import Document, Problem, ReadError, read_file, read_text
from tsk_workflow.definitions.validate import load_process_document
from tsk_workflow.errors import DefinitionError, NotFound
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.organisation.validate import load_organisation_document
from tsk_workflow.resources import municipalities_dir, notifications_dir, processes_dir

TEMPLATE_PARTS = ("subject.txt", "txt", "html")
LANGUAGES = ("sv", "en")


@dataclass
class Catalog:
    """Process definitions by key, each compiled once into a machine on first use."""

    definitions: Mapping[str, ProcessDefinition]
    _compiled: dict[str, CompiledProcess] = field(default_factory=dict, repr=False)

    def definition(self, key: str) -> ProcessDefinition:
        try:
            return self.definitions[key]
        except KeyError:
            known = ", ".join(sorted(self.definitions))
            raise NotFound(f"unknown process '{key}' (known: {known})") from None

    def compiled(self, key: str) -> CompiledProcess:
        if key not in self._compiled:
            self._compiled[key] = compile_process(self.definition(key))
        return self._compiled[key]


def template_exists(name: str, folder: Path | None = None) -> bool:
    """Whether the mail template ``name`` has all its parts in Swedish and English."""
    base = folder or notifications_dir()
    return all(
        (base / lang / f"{name}.{part}").is_file() for lang in LANGUAGES for part in TEMPLATE_PARTS
    )


def shipped_process_files() -> list[Path]:
    return sorted(processes_dir().glob("*.yaml"))


def shipped_municipality_files() -> list[Path]:
    return sorted(municipalities_dir().glob("*.yaml"))


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
        problems.append(
            document.problem(
                ("key",), f"key '{definition.key}' differs from the file name '{stem}'"
            )
        )
    if definition.key in seen:
        problems.append(document.problem(("key",), f"process '{definition.key}' is defined twice"))
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
def _shipped() -> tuple[dict[str, ProcessDefinition], list[Problem]]:
    # The shipped definitions come from the per-user cache when they were read before: parsing
    # them is most of a command's start-up after the imports (definitions/cache.py).
    documents, problems = _read_all(shipped_process_files(), cached=True)
    definitions, found = _load_definitions(documents, set())
    return definitions, problems + found


def _shipped_definitions() -> dict[str, ProcessDefinition]:
    return _shipped()[0]


def load_catalog() -> Catalog:
    """The shipped process definitions; a broken shipped file raises ``DefinitionError``."""
    definitions, problems = _shipped()
    if problems:
        raise DefinitionError([str(p) for p in problems])
    return Catalog(definitions)


def resolve_organisation_path(name_or_path: str) -> Path:
    """``--org`` takes a file path or the name of a shipped municipality."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        if not candidate.is_file():
            raise NotFound(f"organisation file '{name_or_path}' does not exist")
        return candidate
    shipped = municipalities_dir() / f"{name_or_path}.yaml"
    if not shipped.is_file():
        known = ", ".join(p.stem for p in shipped_municipality_files())
        raise NotFound(f"unknown municipality '{name_or_path}' (shipped: {known})")
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
