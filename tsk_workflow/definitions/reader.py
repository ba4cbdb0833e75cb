"""Reading definition files into plain data, remembering where each value stood.

The model is format-neutral; a ``Reader`` turns a file into a ``Document`` (plain data plus a map
from paths like ``("steps", 2, "tasks", 0, "due")`` to line and column), so that every problem,
whether found by the model or by the checks after it, can be reported as ``file:line:column``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from tsk_workflow.i18n import _

MAX_BYTES = 1_000_000
"""Definitions and organisation files are small; anything larger is refused before parsing."""

MAX_NODES = 100_000
"""Guards against alias bombs: a document expanding to more values than this is refused."""

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One problem in one file, printed as ``file:line:column: message`` (1-based)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass
class Document:
    """Plain data read from a file, with the position of every key and item."""

    file: str
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def problem(self, path: Sequence[str | int], message: str) -> Problem:
        """A problem located at ``path``, or at its nearest ancestor that has a position."""
        key = tuple(path)
        while key and key not in self.positions:
            key = key[:-1]
        line, column = self.positions.get(key, (0, 0))
        return Problem(self.file, line + 1, column + 1, message)


class ReadError(Exception):
    """The file could not be read as a document at all; ``problem`` says where and why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class Reader(Protocol):
    """Turns the text of a file into a ``Document``."""

    def read(self, text: str, file: str) -> Document: ...


class YamlReader:
    """Reads YAML with ruamel.yaml's round-trip loader, which keeps line and column."""

    def read(self, text: str, file: str) -> Document:
        yaml = YAML(typ="rt", pure=True)
        try:
            raw = yaml.load(text)
        except MarkedYAMLError as exc:
            raise ReadError(_syntax_problem(file, exc)) from None
        except YAMLError as exc:
            raise ReadError(_yaml_problem(file, text, exc)) from None
        except ValueError as exc:
            # A value the YAML loader cannot build, such as the date 2027-02-30.
            raise ReadError(_value_problem(file, text, exc)) from None
        document = Document(file, None)
        if isinstance(raw, CommentedMap | CommentedSeq):
            document.positions[()] = (raw.lc.line, raw.lc.col)
        counter = _Counter()
        document.data = _plain(raw, (), document.positions, counter)
        return document


class _Counter:
    def __init__(self) -> None:
        self.nodes = 0

    def tick(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge


class _TooLarge(Exception):
    pass


def _yaml_problem(file: str, text: str, exc: YAMLError) -> Problem:
    """An error without a mark (a forbidden character): one line, where ``position`` says."""
    message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    position = getattr(exc, "position", None)
    line, column = _line_column(text, position) if isinstance(position, int) else (1, 1)
    return Problem(file, line, column, _("YAML error: {message}").format(message=message))


DATE_TOKEN = re.compile(r"(?<![\w.:-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\w.-])")


def _value_problem(file: str, text: str, exc: ValueError) -> Problem:
    """A value YAML reads as a date that is none (2027-02-30): the first such, located."""
    for found in DATE_TOKEN.finditer(text):
        try:
            dt.date(*(int(part) for part in found.groups()))
        except ValueError:
            line, column = _line_column(text, found.start())
            message = _("{date}: that date does not exist").format(date=found.group())
            return Problem(file, line, column, message)
    return Problem(file, 1, 1, _("invalid value: {error}").format(error=exc))


def _line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


DUPLICATE_KEY = re.compile(
    r'found duplicate key "(.*)" with value "(.*)" \(original value: "(.*)"\)'
)
"""ruamel.yaml's message for a key given twice in one mapping."""


def _syntax_problem(file: str, exc: MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line, mark.column) if mark is not None else (0, 0)
    what = exc.problem or exc.context or _("invalid YAML")
    twice = DUPLICATE_KEY.fullmatch(what)
    if twice:  # the commonest mistake, in the language spoken (ruamel's words are English)
        what = _(
            'found duplicate key "{key}" with value "{value}" (original value: "{original}")'
        ).format(key=twice[1], value=twice[2], original=twice[3])
    return Problem(file, line + 1, column + 1, _("YAML syntax error: {what}").format(what=what))


def _plain(
    node: Any, path: PathKey, positions: dict[PathKey, tuple[int, int]], counter: _Counter
) -> Any:
    counter.tick()
    if isinstance(node, CommentedMap):
        return {
            str(key) if not isinstance(key, str | int | bool) else key: _child(
                node, key, path, positions, counter
            )
            for key in node
        }
    if isinstance(node, CommentedSeq):
        return [_item(node, index, path, positions, counter) for index in range(len(node))]
    return _scalar(node)


def _child(
    node: CommentedMap,
    key: Any,
    path: PathKey,
    positions: dict[PathKey, tuple[int, int]],
    counter: _Counter,
) -> Any:
    child_path = (*path, str(key) if not isinstance(key, str | int) else key)
    line, column = node.lc.key(key)
    positions[child_path] = (line, column)
    return _plain(node[key], child_path, positions, counter)


def _item(
    node: CommentedSeq,
    index: int,
    path: PathKey,
    positions: dict[PathKey, tuple[int, int]],
    counter: _Counter,
) -> Any:
    child_path = (*path, index)
    positions[child_path] = node.lc.item(index)
    return _plain(node[index], child_path, positions, counter)


def _scalar(value: Any) -> Any:
    """ruamel's scalar subclasses (ScalarFloat, TaggedScalar, ...) as plain Python values."""
    for plain in (bool, int, float, str):
        if isinstance(value, plain):
            return plain(value)
    return value


def read_file(path: Path, reader: Reader | None = None, *, cached: bool = False) -> Document:
    """Read ``path`` as a document; a file that cannot be read raises ``ReadError``.

    ``cached``: YAML read before comes from the per-user cache (``definitions/cache.py``). For
    process definitions only: organisation and answers files hold personal data, which must
    not outlive the files in a cache.
    """
    return read_text(file_text(path), str(path), reader, cached=cached)


def file_text(path: Path) -> str:
    """The text of ``path`` (UTF-8, a byte order mark dropped); ``ReadError`` when it cannot be
    read, is too large or is not UTF-8."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ReadError(
                Problem(
                    name,
                    1,
                    1,
                    _("file is too large ({size} bytes, at most {most})").format(
                        size=size, most=MAX_BYTES
                    ),
                )
            )
        raw = path.read_bytes()
    except OSError as exc:
        message = _("cannot read file: {error}").format(error=exc.strerror)
        raise ReadError(Problem(name, 1, 1, message)) from None
    return _decode(raw, name)


def read_text(
    text: str, name: str, reader: Reader | None = None, *, cached: bool = False
) -> Document:
    """``text`` as a document (``cached``: as for :func:`read_file`)."""
    if reader is not None or not cached:
        return _checked(_read(reader or YamlReader(), text, name), name)
    from tsk_workflow.definitions import cache

    kept = cache.load(text)
    if kept is not None:
        return _checked(Document(name, kept[0], kept[1]), name)
    document = _checked(_read(YamlReader(), text, name), name)
    cache.store(text, (document.data, document.positions))
    return document


def _read(reader: Reader, text: str, name: str) -> Document:
    try:
        return reader.read(text, name)
    except _TooLarge:
        message = _("document expands to more than {most} values (alias bomb?)")
        raise ReadError(Problem(name, 1, 1, message.format(most=MAX_NODES))) from None
    except RecursionError:
        raise ReadError(Problem(name, 1, 1, _("document is nested too deeply"))) from None


def _checked(document: Document, name: str) -> Document:
    if document.data is None:
        raise ReadError(Problem(name, 1, 1, _("file is empty")))
    if not isinstance(document.data, Mapping):
        if isinstance(document.data, list):
            kind = _("a list")
        else:
            kind = _("the value {value}").format(value=repr(document.data))
        message = _("expected a mapping of keys to values, found {found}").format(found=kind)
        raise ReadError(document.problem((), message))
    return document


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[start : exc.start].decode("utf-8", errors="replace")) + 1
        raise ReadError(
            Problem(name, line, column, _("file is not valid UTF-8 text: save it as UTF-8"))
        ) from None
