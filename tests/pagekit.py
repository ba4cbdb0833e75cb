"""Reading the pages' HTML in tests: the tables by id, as the text of their cells."""

from __future__ import annotations

from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self._current: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._current = dict(attrs).get("id") or f"table-{len(self.tables)}"
            self.tables[self._current] = []
        elif tag == "tr" and self._current is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._current is not None:
            self.tables[self._current].append(self._row)
            self._row = None
        elif tag == "table":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    """Every table of ``html`` by its id: its rows (the header row first), each the text of its
    cells, spaces collapsed."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def table(html: str, table_id: str) -> list[list[str]]:
    found = tables(html)
    assert table_id in found, f"no table {table_id} on the page"
    return found[table_id]
